"""The sampler a PPO run uses, picked by ``rollout_engine`` (hf or vllm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.config import EngineConfig
from training.ppo.config import PPOConfig
from training.ppo.rollout import HFRollout, Rollout


def rollout_engine_config(config: PPOConfig, start_model: Path) -> EngineConfig:
    """The vLLM rollout engine's settings, from `config` alone (never the server's ``ICEGRT_*``
    environment). Its dtype is the training dtype, so the engine samples from the policy being trained."""
    return EngineConfig(model=Path(start_model), dtype=config.dtype, seed=config.seed, max_model_len=config.max_seq_len,
                        enforce_eager=config.vllm_enforce_eager,
                        gpu_memory_utilization=config.vllm_gpu_memory_utilization, kv_cache_space=1.0)


def build_rollout(config: PPOConfig, actor: Any, tokenizer: Any, device: str, start_model: Path) -> Rollout:
    """``hf``: Hugging Face ``generate`` on the actor itself; ``vllm``: an in-process vLLM engine
    started from `start_model` and synced with the actor before each rollout
    (:class:`training.ppo.vllm_rollout.VLLMRollout`)."""
    if config.rollout_engine == "vllm":
        from training.ppo.vllm_rollout import VLLMRollout

        return VLLMRollout(rollout_engine_config(config, start_model), tokenizer.eos_token_id)
    return HFRollout(actor, tokenizer.eos_token_id, tokenizer.pad_token_id, device)
