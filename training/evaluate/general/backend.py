"""The scoring interface the evaluation sees, and the factory for its two implementations.

``vllm`` (the fast path) scores every request in one batched call through vLLM's prompt log
probabilities; ``hf`` runs batched Hugging Face forward passes, for checkpoints vLLM cannot
load and as a cross-check. Both tokenize with the checkpoint's own tokenizer through
``tokenization.encode_pair``, so they score the same token sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
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


def build_backend(name: str, model_path: Path, *, enforce_eager: bool = False, batch_tokens: int = 4096) -> Backend:
    if name == "vllm":
        from training.evaluate.general.vllm_backend import VllmBackend

        return VllmBackend(model_path, enforce_eager=enforce_eager)
    if name == "hf":
        from training.evaluate.general.hf_backend import HfBackend

        return HfBackend(model_path, batch_tokens=batch_tokens)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Text before the earliest stop string (the string itself excluded)."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
