"""Configs: YAML + flags, schema errors before any work, the train CLI."""

from __future__ import annotations

import argparse

import pytest

from tests.training.conftest import CONFIGS
from training.commands import add_train_parser
from training.config import ConfigError, RewardConfig, SFTConfig, load_config
from training.ppo.config import PPOConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icegrt")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    return parser


@pytest.mark.parametrize("name", ["sft_tiny", "sft_cpu", "sft_ads_cpu", "sft_gpu"])
def test_sft_configs_load(name):
    config = load_config(SFTConfig, CONFIGS / f"{name}.yaml", {})
    assert config.name == name


@pytest.mark.parametrize("name", ["reward_tiny", "reward_cpu", "reward_gpu"])
def test_reward_configs_load(name):
    config = load_config(RewardConfig, CONFIGS / f"{name}.yaml", {})
    assert config.name == name


@pytest.mark.parametrize("name", ["ppo_tiny", "ppo_cpu", "ppo_tables_cpu", "ppo_domain_cpu", "ppo_gpu"])
def test_ppo_configs_load(name):
    config = load_config(PPOConfig, CONFIGS / f"{name}.yaml", {})
    assert config.name == name


def test_flags_override_the_file():
    config = load_config(SFTConfig, CONFIGS / "sft_tiny.yaml", {"max_steps": 9, "learning_rate": 0.5})
    assert (config.max_steps, config.learning_rate, config.model) == (9, 0.5, "tiny")


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"learning_rat: unknown setting"):
        load_config(SFTConfig, path, {})


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [("learning_rate", 0, "learning_rate"), ("warmup_ratio", 0.9, "warmup_ratio"), ("batch_size", 0, "batch_size"),
     ("name", "../escape", "name"), ("lr_schedule", "step", "lr_schedule"), ("dtype", "float16", "dtype")],
)
def test_out_of_range_values_are_refused(key, value, field):
    with pytest.raises(ConfigError, match=field):
        load_config(SFTConfig, None, {key: value})


def test_config_file_must_exist_and_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(SFTConfig, tmp_path / "none.yaml", {})
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(SFTConfig, tmp_path / "list.yaml", {})


def test_mix_from_the_command_line():
    args = _parser().parse_args(["train", "sft", "--mix", "gsm8k=3,self_instruct=4", "--max-steps", "7", "--lora"])
    config = load_config(SFTConfig, None, {k: v for k, v in vars(args).items() if k in SFTConfig.model_fields})
    assert config.mix == {"gsm8k": 3, "self_instruct": 4}
    assert config.max_steps == 7 and config.lora is True


@pytest.mark.parametrize("mix", ["bogus=3", "gsm8k", "gsm8k=0"])
def test_bad_mix_is_refused(mix):
    with pytest.raises(ConfigError, match="mix"):
        load_config(SFTConfig, None, {"mix": mix})


def test_reward_pair_sources_are_checked():
    with pytest.raises(ConfigError, match="pairs"):
        load_config(RewardConfig, None, {"pairs": ["not_a_source"]})


def test_cli_returns_2_for_config_errors(tmp_path, capsys):
    from cli.main import main

    assert main(["train", "reward", "--config", str(CONFIGS / "reward_tiny.yaml"),
                 "--pairs", str(tmp_path / "missing.jsonl"), "--runs-dir", str(tmp_path)]) == 2
    assert "missing.jsonl does not exist" in capsys.readouterr().err
    assert not (tmp_path / "reward_tiny").exists()  # nothing was started


def test_train_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, training.commands; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
