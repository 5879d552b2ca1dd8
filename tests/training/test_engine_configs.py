"""The engines of `icegrt sample`, PPO's vLLM rollout, domain and general evaluation are configured
by their own settings only: the server's ``ICEGRT_*`` environment (here ``ICEGRT_DTYPE=bfloat16``
and friends, as set for a server on the same machine) changes none of them. Checked on vLLM's
engine arguments, without starting an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.offline import offline_llm_kwargs
from inference.vllm_engine import engine_args

MODEL = Path("/models/some-checkpoint")
SERVER_ENVIRONMENT = {"ICEGRT_DTYPE": "bfloat16", "ICEGRT_MAX_MODEL_LEN": "64", "ICEGRT_KV_CACHE_SPACE": "9",
                      "ICEGRT_SEED": "7", "ICEGRT_ENFORCE_EAGER": "false", "ICEGRT_MAX_NUM_SEQS": "3"}


@pytest.fixture(autouse=True)
def server_environment(monkeypatch):
    for name, value in SERVER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def test_the_server_still_reads_its_environment(tmp_path):
    from server.app import engine_config
    from server.settings import ServerSettings

    args = engine_args(engine_config(ServerSettings(data_dir=tmp_path), MODEL, "m"))
    assert (args.dtype, args.max_model_len, args.seed, args.max_num_seqs) == ("bfloat16", 64, 7, 3)


def test_sample_uses_its_own_config(tmp_path):
    from training.sample import SampleConfig, engine_config

    config = SampleConfig(output=tmp_path / "out.jsonl", seed=3, max_model_len=512, kv_cache_space=1.0)
    args = engine_args(engine_config(config, MODEL))
    assert (args.dtype, args.max_model_len, args.seed, args.enforce_eager) == ("float32", 512, 3, True)
    assert args.kv_cache_memory_bytes == 1 << 30
    kwargs = offline_llm_kwargs(engine_config(config, MODEL))  # what `vllm.LLM` is given
    assert kwargs["dtype"] == "float32" and kwargs["max_model_len"] == 512 and "max_num_seqs" not in kwargs
    chosen = SampleConfig(output=tmp_path / "out.jsonl", dtype="float16")
    assert engine_args(engine_config(chosen, MODEL)).dtype == "float16"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_ppo_vllm_rollout_uses_the_training_dtype(tmp_path, dtype):
    from training.ppo.config import PPOConfig
    from training.ppo.rollout_engine import rollout_engine_config

    config = PPOConfig(runs_dir=tmp_path, model="tiny", reward_model=str(tmp_path / "rm"), rollout_engine="vllm", dtype=dtype,
                       max_seq_len=192, max_new_tokens=8, seed=5)
    kwargs = offline_llm_kwargs(rollout_engine_config(config, MODEL), worker_extension_cls="x.Y")
    assert kwargs["dtype"] == dtype and kwargs["max_model_len"] == 192 and kwargs["seed"] == 5
    assert kwargs["enforce_eager"] is True and "max_num_seqs" not in kwargs
    assert kwargs["kv_cache_memory_bytes"] == 1 << 30 and kwargs["worker_extension_cls"] == "x.Y"


def test_domain_evaluation_uses_its_own_config():
    from training.evaluate.suite import engine_config

    config = engine_config(MODEL, enforce_eager=True)
    args = engine_args(config)
    assert (args.dtype, args.max_model_len, args.seed, args.enforce_eager) == ("float32", None, 0, True)
    assert args.kv_cache_memory_bytes == 2 << 30 and args.max_num_seqs is None
    assert config.cpu_tuning is not None and config.cpu_tuning.engine_poll_us is None  # icegrt serve's defaults


def test_general_evaluation_uses_its_own_config():
    from training.evaluate.general.vllm_backend import engine_config

    kwargs = offline_llm_kwargs(engine_config(MODEL, enforce_eager=True))
    assert kwargs["dtype"] == "float32" and kwargs["kv_cache_memory_bytes"] == 2 << 30 and "max_model_len" not in kwargs
