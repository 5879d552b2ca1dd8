"""The train ads the scripts of results/ppo-domain read: every 15th compact ad prompt of
configs/ppo_domain_cpu.yaml's train prompts, tokenized by the checkpoint's own tokenizer."""

from typing import Any

from training.config import load_config
from training.models import load_tokenizer
from training.ppo.config import PPOConfig
from training.ppo.prompts import load_prompts


def train_ads(checkpoint: str, count: int) -> tuple[Any, list[Any]]:
    """(tokenizer, the first `count` of those ad prompts)."""
    config = load_config(PPOConfig, "configs/ppo_domain_cpu.yaml", {"runs_dir": "/tmp/unused", "model": checkpoint})
    tokenizer = load_tokenizer(config.model)
    train, _, _ = load_prompts(config, tokenizer)
    return tokenizer, [p for p in train if p.source == "ad_compliance_compact"][::15][:count]
