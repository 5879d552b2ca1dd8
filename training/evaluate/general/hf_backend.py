"""Scoring with batched Hugging Face forward passes (any checkpoint transformers loads).

Requests are sorted longest first and packed into batches of at most ``batch_tokens``
padded tokens, padded on the right: with causal attention no real token sees a pad, so no
position ids or mask tricks are needed, and the full logits of a batch stay bounded
(``batch_tokens`` x vocabulary floats). Generation pads on the left, as ``generate`` wants.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from tqdm import tqdm

from training.evaluate.general.backend import cut_at_stop
from training.evaluate.general.tokenization import encode_pair, truncate_left

GENERATE_BATCH = 8


def token_batches(lengths: Sequence[int], batch_tokens: int) -> Iterator[list[int]]:
    """Indices grouped longest first so that len(batch) x longest <= batch_tokens (at least one each)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) + 1) * lengths[batch[0]] > batch_tokens:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


class HfBackend:
    name = "hf"

    def __init__(self, model_path: Path, *, batch_tokens: int = 4096, dtype: str = "float32"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(len(os.sched_getaffinity(0)))  # honour taskset instead of every core
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).eval()
        self.max_len = getattr(self.model.config, "max_position_embeddings", 2048)
        self.batch_tokens = batch_tokens
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        import torch

        pairs = [encode_pair(self.tokenizer, context, continuation) for context, continuation in requests]
        sequences = [truncate_left(ctx, cont, self.max_len) for ctx, cont in pairs]
        results: list[tuple[float, bool]] = [None] * len(requests)  # type: ignore[list-item]
        bar = tqdm(total=len(requests), desc="scoring (hf)", unit="req")
        for batch in token_batches([len(s) for s in sequences], self.batch_tokens):
            width = len(sequences[batch[0]])
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, :len(sequences[i])] = torch.tensor(sequences[i])
                mask[row, :len(sequences[i])] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask).logits
            for row, i in enumerate(batch):
                cont = pairs[i][1]
                end = len(sequences[i]) - 1  # the position that predicts the last token
                logprobs = logits[row, end - len(cont):end].float().log_softmax(-1)
                target = torch.tensor(cont)
                total = logprobs.gather(-1, target[:, None]).sum().item()
                results[i] = (total, bool((logprobs.argmax(-1) == target).all()))
            bar.update(len(batch))
        bar.close()
        return results

    def generate(self, prompts: Sequence[str], *, max_tokens: int, stop: Sequence[str]) -> list[str]:
        import torch

        encoded = [self.tokenizer.encode(p)[-(self.max_len - max_tokens):] for p in prompts]
        outputs: list[str] = [""] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        bar = tqdm(total=len(prompts), desc="generating (hf)", unit="prompt")
        for start in range(0, len(order), GENERATE_BATCH):
            batch = order[start:start + GENERATE_BATCH]
            width = max(len(encoded[i]) for i in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
                mask[row, width - len(encoded[i]):] = 1
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=ids, attention_mask=mask, max_new_tokens=max_tokens, do_sample=False,
                    stop_strings=list(stop), tokenizer=self.tokenizer, pad_token_id=self.pad_id,
                )
            for row, i in enumerate(batch):
                text = self.tokenizer.decode(generated[row, width:], skip_special_tokens=True)
                outputs[i] = cut_at_stop(text, stop)
            bar.update(len(batch))
        bar.close()
        return outputs

    def close(self) -> None:
        del self.model
