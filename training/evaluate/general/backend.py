"""The scoring interface the evaluation sees (its two implementations are built by
:func:`training.evaluate.general.command.build_backend`).

``vllm`` (the fast path) scores every request in one batched call through vLLM's prompt log
probabilities; ``hf`` runs batched Hugging Face forward passes, for checkpoints vLLM cannot
load and as a cross-check. Both tokenize with the checkpoint's own tokenizer through
``tokenization.encode_pair``, so they score the same token sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

BACKENDS = ("vllm", "hf")


class Backend(Protocol):
    name: str

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """For each (context, continuation): log P(continuation | context), and whether every
        continuation token is the most likely one at its position (greedy)."""

    def generate(self, prompts: Sequence[str], *, max_tokens: int, stop: Sequence[str]) -> list[str]:
        """Greedy continuation of each prompt, cut before the first stop string."""

    def close(self) -> None:
        """Free the engine or model."""


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Text before the earliest stop string (the string itself excluded)."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
