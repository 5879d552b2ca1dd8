"""The sampler a PPO run uses, picked by ``rollout_engine`` (hf or vllm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.ppo.config import PPOConfig
from training.ppo.rollout import HFRollout, Rollout


def build_rollout(config: PPOConfig, actor: Any, tokenizer: Any, device: str, start_model: Path) -> Rollout:
    """``hf``: Hugging Face ``generate`` on the actor itself; ``vllm``: an in-process vLLM engine
    started from `start_model` and synced with the actor before each rollout
    (:class:`training.ppo.vllm_rollout.VLLMRollout`)."""
    if config.rollout_engine == "vllm":
        from training.ppo.vllm_rollout import VLLMRollout

        return VLLMRollout(start_model, tokenizer.eos_token_id, max_model_len=config.max_seq_len, seed=config.seed,
                           enforce_eager=config.vllm_enforce_eager,
                           gpu_memory_utilization=config.vllm_gpu_memory_utilization)
    return HFRollout(actor, tokenizer.eos_token_id, tokenizer.pad_token_id, device)
