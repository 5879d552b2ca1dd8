"""Prompts built with the model's own chat template, and their size in tokens.

Training, the server and history trimming all go through :func:`render_prompt`, so the text the
model was fine-tuned on, the text it is served, and the tokens counted against the context
window are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class ChatTokenizer(Protocol):
    """What is used of a Hugging Face tokenizer (``PreTrainedTokenizerBase``)."""

    chat_template: Any

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...


def render_prompt(tokenizer: ChatTokenizer, messages: Sequence[Mapping[str, Any]]) -> str:
    """The prompt text for ``messages``, ending with the assistant's generation prompt.

    Raises:
        ValueError: the tokenizer has no chat template.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "the model's tokenizer has no chat template: serve a checkpoint saved with one "
            "(tokenizer_config.json 'chat_template' or chat_template.jinja)"
        )
    conversation = [dict(message) for message in messages]
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)


def count_chat_tokens(tokenizer: ChatTokenizer, messages: Sequence[Mapping[str, Any]]) -> int:
    """Prompt tokens of ``messages``, counted the way vLLM's chat endpoint tokenizes them.

    The template already writes any special tokens (BOS, role markers), so the rendered text is
    encoded with ``add_special_tokens=False``, as vLLM does for chat prompts; adding them again
    would count a second BOS for templates that start with one.
    """
    return len(tokenizer.encode(render_prompt(tokenizer, messages), add_special_tokens=False))
