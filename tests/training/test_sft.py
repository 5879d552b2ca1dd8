"""ICE-Instruct on the tiny model: it learns, saves a servable checkpoint, resumes exactly, stops on NaN."""

from __future__ import annotations

import json

import pytest

from tests.training.conftest import needs_bundle, sft_settings
from training.config import ConfigError, SFTConfig

pytestmark = needs_bundle


def _config(tmp_path, name: str, **changes) -> SFTConfig:
    return SFTConfig(name=name, model="tiny", **sft_settings(tmp_path, **{"learning_rate": 3e-3, **changes}))


def _weights(path):
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model):
    from training.sft import run_sft

    runs = tmp_path_factory.mktemp("runs")
    config = _config(runs, "full")
    return config, run_sft(config)


def _base_eval_loss(config: SFTConfig, tiny_model) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.sft import label_count, prepare_data, token_loss_sum
    from training.data.chat import pad_batch

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    _, eval_set, _ = prepare_data(config, tokenizer)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    batch = pad_batch([e.input_ids for e in eval_set], tokenizer.pad_token_id, [e.labels for e in eval_set])
    with torch.no_grad():
        return token_loss_sum(model, batch).item() / label_count(batch)


def test_sft_learns_and_writes_a_servable_run(finished, tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config, result = finished
    run = config.run_dir()
    assert result["step"] == 4 and not result["resumed"]
    # the loss moved: held-out loss after 4 steps is clearly below the random model's
    assert result["eval"]["loss"] < _base_eval_loss(config, tiny_model) - 0.2
    # the parameters changed
    before, after = _weights(tiny_model), _weights(run / "checkpoint")
    assert before.keys() == after.keys()
    assert any(not (before[k] == after[k]).all() for k in before)
    # a plain Hugging Face checkpoint with tokenizer and chat template
    model = AutoModelForCausalLM.from_pretrained(run / "checkpoint")
    assert type(model).__name__ == "LlamaForCausalLM"
    assert AutoTokenizer.from_pretrained(run / "checkpoint").chat_template
    marker = json.loads((run / "checkpoint" / "icegrt-checkpoint.json").read_text())
    assert marker["stage"] == "sft" and marker["step"] == 4
    assert marker["task_formats"] == {}  # no source in this mix has a task format of its own
    # run directory: config, metrics per step (+ evaluations), plots, trainer state
    assert (run / "config.yaml").read_text().startswith("name: full")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in records if "eval_loss" in r] == [2, 4]
    assert {"loss.png", "lr.png", "grad_norm.png"} <= {p.name for p in (run / "plots").iterdir()}
    assert {"optimizer.pt", "scheduler.pt", "rng.pt", "state.json"} <= {p.name for p in (run / "trainer_state").iterdir()}


def test_interrupted_run_resumes_with_the_same_steps_and_weights(finished, tmp_path):
    from training.sft import run_sft

    full_config, _ = finished
    config = _config(tmp_path, "killed")
    first = run_sft(config, stop_after=3)  # dies after step 3; the last checkpoint is step 2
    assert first["step"] == 2
    second = run_sft(config)
    assert second["resumed"] and second["step"] == 4
    records = [json.loads(line) for line in (config.run_dir() / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    resumed, uninterrupted = _weights(config.run_dir() / "checkpoint"), _weights(full_config.run_dir() / "checkpoint")
    for key in uninterrupted:
        assert (resumed[key] - uninterrupted[key]).abs().max().item() < 1e-6, key
    assert run_sft(config)["complete"]  # a finished run is not trained again


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from training.loop import TrainingDiverged
    from training.sft import SFTStage, run_sft

    calls = {"n": 0}
    original = SFTStage.loss

    def poisoned(self, model, batch):
        calls["n"] += 1
        loss, extra = original(self, model, batch)
        return (loss * float("nan") if calls["n"] == 3 else loss), extra

    monkeypatch.setattr(SFTStage, "loss", poisoned)
    config = _config(tmp_path, "nan")
    with pytest.raises(TrainingDiverged, match=r"step 3: loss is nan.*last good checkpoint \(step 2\)"):
        run_sft(config)
    marker = json.loads((config.run_dir() / "checkpoint" / "icegrt-checkpoint.json").read_text())
    assert marker["step"] == 2
    assert "diverged" in (config.run_dir() / "metrics.jsonl").read_text()


def test_exploding_loss_stops_before_the_first_update(tmp_path):
    from training.loop import TrainingDiverged
    from training.sft import run_sft

    with pytest.raises(TrainingDiverged, match="max_loss 1.0.*no checkpoint"):
        run_sft(_config(tmp_path, "explode", max_loss=1.0))


def test_lora_run_saves_a_merged_model_and_resumes(tmp_path, tiny_model):
    pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    from training.sft import run_sft

    config = _config(tmp_path, "lora", lora=True, lora_r=4, max_steps=2, save_every=1, eval_every=0,
                     lora_target_modules=["q_proj", "v_proj"], learning_rate=1e-2)
    assert run_sft(config, stop_after=1)["step"] == 1
    assert (config.run_dir() / "trainer_state" / "trainable.safetensors").is_file()
    assert run_sft(config)["step"] == 2
    before, after = _weights(tiny_model), _weights(config.run_dir() / "checkpoint")
    assert before.keys() == after.keys()  # merged: no lora_A / lora_B / base_layer names
    changed = {k for k in before if not (before[k] == after[k]).all()}
    assert changed and all("q_proj" in k or "v_proj" in k for k in changed)
    AutoModelForCausalLM.from_pretrained(config.run_dir() / "checkpoint")


def test_missing_data_file_fails_before_work(tmp_path, monkeypatch):
    from training.sft import run_sft

    monkeypatch.setenv("ICEGRT_SHARED_DATA", str(tmp_path / "no-bundle"))
    config = _config(tmp_path, "nodata")
    with pytest.raises(ConfigError, match="SFT data: missing shared data file sft/gsm8k_train.jsonl"):
        run_sft(config)
    assert not config.run_dir().exists()


def test_a_mix_with_compact_ads_records_the_task_format(tmp_path):
    from common.task_formats import read_task_formats, trained_on
    from training.sft import run_sft

    config = _config(tmp_path, "compact", mix={"ad_compliance_compact": 4, "gsm8k": 2}, max_seq_len=320,
                     max_steps=2, save_every=2, eval_every=2, eval_examples=2)
    run_sft(config)
    checkpoint = config.run_dir() / "checkpoint"
    assert read_task_formats(checkpoint) == {"ad_compliance": "compact-v1"}
    assert trained_on(checkpoint, "ad_compliance", "compact-v1")
