"""Fixtures for training tests: the tiny random-weight Llama and small, fast stage settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.paths import shared_data_dir

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

needs_bundle = pytest.mark.skipif(
    not (shared_data_dir() / "SHA256SUMS.json").is_file(),
    reason="shared data bundle not present at ../shared/data or $ICEGRT_SHARED_DATA",
)


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    from common.models import build_model

    return build_model("tiny")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def sft_settings(runs_dir: Path, **changes) -> dict:
    """configs/sft_tiny.yaml made smaller still: 2 sequences of <= 96 tokens per step."""
    settings = {
        "runs_dir": str(runs_dir), "progress": False,
        "mix": {"gsm8k": 6, "self_instruct": 6, "preference_chosen": 4},
        "eval_examples": 3, "max_seq_len": 96, "batch_size": 2, "grad_accum_steps": 1,
        "max_steps": 4, "save_every": 2, "eval_every": 2,
    }
    settings.update(changes)
    return settings


def reward_settings(runs_dir: Path, **changes) -> dict:
    settings = {
        "runs_dir": str(runs_dir), "progress": False, "max_train_pairs": 4, "max_eval_pairs": 4,
        "max_seq_len": 64, "batch_size": 4, "grad_accum_steps": 1, "max_steps": 4,
        "save_every": 2, "eval_every": 2, "warmup_ratio": 0.0,
    }
    settings.update(changes)
    return settings


@pytest.fixture(scope="session")
def tiny_reward_checkpoint(tmp_path_factory, tiny_model) -> Path:
    """A reward checkpoint built in place: the tiny Llama with a seeded random scalar head and stats."""
    import json

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tmp_path_factory.mktemp("tiny_rm") / "checkpoint"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "reward_stats.json").write_text(json.dumps({"mean": 0.05, "std": 0.5}))
    return path
