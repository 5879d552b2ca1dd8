"""Conversations rendered with the model's own chat template, with labels on assistant tokens only.

The text is rendered once for the whole conversation and tokenized once, so the tokens trained
on are exactly the tokens the server sends (vLLM renders the same template and encodes it
without adding special tokens). Which tokens belong to an assistant turn is found by rendering
prefixes: turn ``i`` spans from the end of ``messages[:i]`` rendered with the generation prompt
(``<|im_start|>assistant\\n``) to the end of ``messages[:i+1]``; that covers the reply and the
template's end-of-turn marker (``<|im_end|>``), so the model learns to stop. Tokens whose first
character lies in such a span keep their id as label; every other label is ``-100``. An
assistant message with ``"weight": 0`` (OpenAI's fine-tuning format) is context, not a target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100


class ChatTemplateError(ValueError):
    """The tokenizer's chat template cannot be used to find assistant tokens."""


@dataclass(frozen=True)
class EncodedExample:
    """Token ids and labels of one conversation (same length; -100 where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def n_label_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def _render(tokenizer: Any, messages: Sequence[Mapping[str, Any]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        [dict(m) for m in messages], tokenize=False, add_generation_prompt=generation_prompt
    )


def assistant_spans(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the ``[start, end)`` character span of each assistant turn.

    Raises:
        ChatTemplateError: no chat template, a conversation that starts with the assistant, or
            a template whose renderings of prefixes are not prefixes of the whole (the spans
            could not be trusted).
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError("the tokenizer has no chat template; train from a checkpoint saved with one")
    if not messages or messages[0]["role"] == "assistant":
        raise ChatTemplateError("a conversation must start with a system or user message")
    text = _render(tokenizer, messages, generation_prompt=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        before = _render(tokenizer, messages[:index], generation_prompt=True)
        through = _render(tokenizer, messages[: index + 1], generation_prompt=False)
        if not (through.startswith(before) and text.startswith(through)):
            raise ChatTemplateError(
                "the chat template does not render conversations prefix by prefix, so assistant "
                f"tokens cannot be located (turn {index}); use a model with an append-only template"
            )
        spans.append((len(before), len(through)))
    return text, spans


def encode_conversation(
    tokenizer: Any, messages: Sequence[Mapping[str, Any]], max_seq_len: int
) -> EncodedExample | None:
    """Token ids and assistant-only labels, truncated to `max_seq_len` tokens.

    Returns None when no assistant token survives truncation (nothing to learn from).
    """
    text, spans = assistant_spans(tokenizer, messages)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(encoding["input_ids"])[:max_seq_len]
    offsets = list(encoding["offset_mapping"])[:max_seq_len]
    labels = [IGNORE_INDEX] * len(input_ids)
    for position, (start, _end) in enumerate(offsets):
        if any(span_start <= start < span_end for span_start, span_end in spans):
            labels[position] = input_ids[position]
    example = EncodedExample(input_ids=input_ids, labels=labels)
    return example if example.n_label_tokens else None


def encode_prompt_response(
    tokenizer: Any, prompt: Sequence[Mapping[str, Any]], response: str, max_seq_len: int
) -> list[int]:
    """Token ids of ``prompt`` followed by the assistant's ``response``, keeping the response's end.

    For reward models, which read the score at the last token: when the conversation is longer
    than `max_seq_len`, tokens are dropped from the left (the start of the prompt), so the
    response and its end-of-turn marker are always seen.
    """
    messages = [*prompt, {"role": "assistant", "content": response}]
    text, _ = assistant_spans(tokenizer, messages)
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return ids[-max_seq_len:]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int, labels: Sequence[Sequence[int]] | None = None):
    """Right-padded ``input_ids``, ``attention_mask`` (and ``labels`` with -100) as long tensors."""
    import torch

    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels is not None:
        padded = torch.full((len(sequences), width), IGNORE_INDEX, dtype=torch.long)
        for row, label in enumerate(labels):
            padded[row, : len(label)] = torch.tensor(label, dtype=torch.long)
        batch["labels"] = padded
    return batch
