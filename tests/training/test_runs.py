"""Run directories: atomic checkpoints and their recovery, resume checks, metrics, plots, schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from training.config import ConfigError, SFTConfig
from training.loop import StepSampler, lr_factor
from training.runs import COMPLETE, STAGING, MetricsLog, RunDir, metric_families, plot_metrics


def _writer(text: str):
    def write(dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "weights.txt").write_text(text)

    return write


def _save(run: RunDir, step: int) -> None:
    run.save(step, _writer(f"model {step}"), lambda d: (d / "opt.txt").write_text(f"opt {step}"))


def _live(run: RunDir) -> tuple[str, str, int | None]:
    return ((run.checkpoint_dir / "weights.txt").read_text(), (run.state_dir / "opt.txt").read_text(), run.saved_step())


def test_save_replaces_checkpoint_and_state_together(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    _save(run, 2)
    _save(run, 4)
    assert _live(run) == ("model 4", "opt 4", 4)
    assert not (run.path / STAGING).exists()


def test_uncommitted_staging_is_discarded(tmp_path):
    """A kill while writing: the previous checkpoint stays."""
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    _save(run, 2)
    _writer("half-written 4")(run.path / STAGING / "checkpoint")
    run.recover()
    assert _live(run) == ("model 2", "opt 2", 2)
    assert not (run.path / STAGING).exists()


@pytest.mark.parametrize("moved", [0, 1, 2])
def test_committed_staging_is_rolled_forward(tmp_path, moved):
    """A kill while moving a committed checkpoint into place: the new one wins, whole."""
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    _save(run, 2)
    staging = run.path / STAGING
    _writer("model 4")(staging / "checkpoint")
    (staging / "trainer_state").mkdir()
    (staging / "trainer_state" / "opt.txt").write_text("opt 4")
    (staging / "trainer_state" / "state.json").write_text(json.dumps({"step": 4}))
    (staging / COMPLETE).write_text("4")
    for name in ["checkpoint", "trainer_state"][:moved]:  # as far as the interrupted move had got
        (run.path / name).rename(staging / f"old-{name}")
        (staging / name).rename(run.path / name)
    run.recover()
    assert _live(run) == ("model 4", "opt 4", 4)


def _config(tmp_path, **changes) -> SFTConfig:
    return SFTConfig(name="r", runs_dir=tmp_path, model="tiny", **changes)


def test_open_resumes_and_refuses_other_settings(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.open(_config(tmp_path)) == 0
    _save(run, 3)
    MetricsLog(run.metrics_file).append({"step": 3, "loss": 1.0})
    MetricsLog(run.metrics_file).append({"step": 4, "loss": 0.9})  # logged after the checkpoint
    assert run.open(_config(tmp_path, progress=False)) == 3  # progress does not change the run
    assert [r["step"] for r in MetricsLog(run.metrics_file).read()] == [3]
    with pytest.raises(ConfigError, match=r"learning_rate: 2e-05 -> 0.1"):
        run.open(_config(tmp_path, learning_rate=0.1))
    assert run.open(_config(tmp_path, learning_rate=0.1, overwrite=True)) == 0
    assert not run.checkpoint_dir.exists()


def test_metrics_log_skips_a_line_cut_by_a_kill(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    log.append({"step": 1, "loss": 2.0})
    with open(log.path, "a") as handle:
        handle.write('{"step": 2, "lo')
    assert log.read() == [{"step": 1, "loss": 2.0}]


def test_plots_group_eval_with_train(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for step in range(1, 5):
        log.append({"step": step, "loss": 3.0 - step / 2, "lr": 0.1, "elapsed_s": step, "event": "x"})
    log.append({"step": 4, "eval_loss": 1.5, "eval_accuracy": 0.5})
    assert metric_families(log.read()) == {"loss": ["loss", "eval_loss"], "lr": ["lr"], "accuracy": ["eval_accuracy"]}
    written = plot_metrics(log.path, tmp_path / "plots")
    assert sorted(p.name for p in written) == ["accuracy.png", "loss.png", "lr.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)


def test_lr_schedule_by_hand(tmp_path):
    cosine = _config(tmp_path, max_steps=10, warmup_ratio=0.2, lr_schedule="cosine", min_lr_ratio=0.1)
    # warmup: 2 steps reaching the peak; then 8 steps of cosine from 1 down to 0.1
    assert [lr_factor(s, cosine) for s in (0, 1)] == [0.5, 1.0]
    assert lr_factor(6, cosine) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # 0.55
    assert lr_factor(10, cosine) == pytest.approx(0.1)
    linear = _config(tmp_path, max_steps=10, warmup_ratio=0.0, lr_schedule="linear")
    assert [lr_factor(s, linear) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    constant = _config(tmp_path, max_steps=10, warmup_ratio=0.1, lr_schedule="constant")
    assert [lr_factor(s, constant) for s in (0, 1, 9)] == [1.0, 1.0, 1.0]


def test_step_sampler_is_a_function_of_the_step():
    sampler = StepSampler(n_examples=5, batch_size=2, grad_accum_steps=2, seed=3)
    steps = [sampler.micro_batches(s) for s in range(5)]  # 20 positions: 4 epochs of 5
    flat = [i for step in steps for micro in step for i in micro]
    for epoch in range(4):
        assert sorted(flat[epoch * 5 : (epoch + 1) * 5]) == list(range(5))
    fresh = StepSampler(n_examples=5, batch_size=2, grad_accum_steps=2, seed=3)
    assert fresh.micro_batches(3) == steps[3]  # no need to replay earlier steps to resume
    assert all(len(step) == 2 and all(len(m) == 2 for m in step) for step in steps)
