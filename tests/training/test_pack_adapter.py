"""A LoRA run's adapter shipped in the repository and built back into a servable model by name."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.training.conftest import needs_bundle, sft_settings
from training.config import SFTConfig

pytestmark = needs_bundle


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_model):
    pytest.importorskip("peft")
    from training.sft import run_sft

    runs = tmp_path_factory.mktemp("runs")
    config = SFTConfig(name="lora", model="tiny", **sft_settings(
        runs, lora=True, lora_r=4, max_steps=2, save_every=2, eval_every=0, learning_rate=1e-2,
        mix={"ad_compliance_compact": 4, "gsm8k": 2}, max_seq_len=320))
    run_sft(config)
    return config.run_dir()


def test_pack_and_build_reproduce_the_runs_merged_model(lora_run, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file

    import common.adapters as adapters
    from common.models import build_model, known_models, resolve_model
    from common.task_formats import read_task_formats
    from training.pack import run_pack_command

    monkeypatch.setattr(adapters, "SHIPPED_DIR", tmp_path / "adapters")
    assert (lora_run / "checkpoint" / "adapter" / "adapter_model.safetensors").is_file()
    args = argparse.Namespace(run=lora_run, name="ice-tiny", base=None)
    assert run_pack_command(args) == 0
    folder = tmp_path / "adapters" / "ice-tiny"
    info = json.loads((folder / "icegrt-adapter.json").read_text())
    assert info["base"] == "tiny" and info["task_formats"] == {"ad_compliance": "compact-v1"}
    assert set(info["recipe"]["data_sha256"]) == {"ad_compliance_compact", "gsm8k"}
    packed = load_file(folder / "adapter_model.safetensors")
    assert packed and all(t.dtype == torch.bfloat16 for t in packed.values())

    assert "ice-tiny" in known_models()
    built = build_model("ice-tiny", root=tmp_path / "models")
    assert resolve_model(str(built)) == built.resolve()
    assert read_task_formats(built) == {"ad_compliance": "compact-v1"}
    merged, trained = load_file(built / "model.safetensors"), load_file(lora_run / "checkpoint" / "model.safetensors")
    assert merged.keys() == trained.keys()
    for key in trained:
        assert torch.allclose(merged[key], trained[key], atol=2e-3), key  # bfloat16 adapter, float32 base


def test_pack_refuses_a_run_without_an_adapter(tmp_path, capsys):
    from training.pack import run_pack_command

    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "config.yaml").write_text("name: full\nmodel: tiny\n")
    assert run_pack_command(argparse.Namespace(run=tmp_path, name="x", base=None)) == 2
    assert "lora: true" in capsys.readouterr().err
