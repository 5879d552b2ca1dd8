"""Training observability: TensorBoard events, how many checkpoints are kept, best/, extending a run.

The run-directory rules are checked without a model (fake writers); one short run per stage loop
(SFT through training.loop, PPO through its own trainer) checks the wiring on the tiny model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.training.conftest import needs_bundle, sft_settings
from tests.training.test_ppo_trainer import no_plots, one_thread, ppo_settings  # noqa: F401 (fixtures: autouse one thread)
from training.config import ConfigError, RewardConfig, SFTConfig, load_config
from training.runs import BEST_OLD, BEST_STAGING, COMPLETE, KEEP_PREVIOUS, STAGING, MetricsLog, RunDir


# -- helpers -----------------------------------------------------------------------------------------
def _save(run: RunDir, step: int) -> None:
    def write_model(dest: Path) -> None:
        dest.mkdir(parents=True)
        (dest / "weights.txt").write_text(f"model {step}")

    run.save(step, write_model, lambda dest: (dest / "opt.txt").write_text(f"opt {step}"))


def _open(tmp_path: Path, config_class: type = SFTConfig, **changes) -> RunDir:
    run = RunDir(tmp_path / "r")
    run.open(config_class(name="r", runs_dir=tmp_path, model="tiny", **changes))
    return run


def _kept(run: RunDir) -> dict[int, tuple[str, str, int]]:
    """Each kept earlier save: its model text, optimizer text and trainer-state step."""
    kept = {}
    for step in run.kept_steps():
        folder = run.history_dir / f"step-{step}"
        state = json.loads((folder / "trainer_state" / "state.json").read_text())
        kept[step] = ((folder / "checkpoint" / "weights.txt").read_text(), (folder / "trainer_state" / "opt.txt").read_text(),
                      state["step"])
    return kept


def tensorboard_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar event under `folder`: name -> [(step, value)] in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: sorted((e.step, e.value) for e in events.Scalars(tag)) for tag in events.Tags()["scalars"]}


def jsonl_scalars(metrics_file: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars of metrics.jsonl the same way: numbers (booleans as 0/1), not null, strings or step."""
    found: dict[str, list[tuple[int, float]]] = {}
    for record in MetricsLog(metrics_file).read():
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                found.setdefault(key, []).append((record["step"], float(value)))
    return {key: sorted(points) for key, points in found.items()}


def assert_same_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    expected, written = jsonl_scalars(run_dir / "metrics.jsonl"), tensorboard_scalars(run_dir / "tensorboard")
    assert sorted(written) == sorted(expected)
    for name, points in expected.items():
        assert [step for step, _ in written[name]] == [step for step, _ in points], name  # each step once
        assert [value for _, value in written[name]] == pytest.approx([value for _, value in points], rel=1e-6), name
    return expected


# -- save_total_limit --------------------------------------------------------------------------------
def test_save_total_limit_keeps_the_latest_n_never_the_best(tmp_path):
    run = _open(tmp_path, save_total_limit=3, metric_for_best="eval_loss")
    for step in range(1, 6):
        _save(run, step)
        if step == 2:
            assert run.improves_best({"eval_loss": 0.5}) == 0.5
            run.save_best(2, 0.5)
        elif step > 2:
            assert run.improves_best({"eval_loss": 0.9}) is None
    # 3 in all: the latest (checkpoint/, step 5), the newest earlier one (4) and the best (2); 1 and 3 deleted
    assert run.saved_step() == 5 and (run.checkpoint_dir / "weights.txt").read_text() == "model 5"
    assert _kept(run) == {2: ("model 2", "opt 2", 2), 4: ("model 4", "opt 4", 4)}
    assert not list(run.history_dir.glob(".*")) and not (run.path / STAGING).exists()
    # a resume with a lower limit applies it (the best stays)
    run = _open(tmp_path, save_total_limit=2, metric_for_best="eval_loss")
    assert run.kept_steps() == [2]


def test_save_total_limit_default_keeps_only_the_latest_and_none_keeps_all(tmp_path):
    run = _open(tmp_path / "one")
    for step in range(1, 4):
        _save(run, step)
    assert run.saved_step() == 3 and not run.history_dir.exists()  # as before: one checkpoint
    run = _open(tmp_path / "all", save_total_limit=None)
    for step in range(1, 4):
        _save(run, step)
    assert sorted(_kept(run)) == [1, 2]


def test_with_the_default_limit_the_best_save_is_kept_until_a_better_one(tmp_path):
    run = _open(tmp_path, metric_for_best="eval_loss")
    _save(run, 1)
    run.save_best(1, 2.0)
    _save(run, 2)
    _save(run, 3)
    assert run.kept_steps() == [1]  # the best one is never deleted
    run.save_best(3, 1.0)
    assert run.kept_steps() == []


def test_a_kill_while_a_replaced_save_moves_to_checkpoints_is_finished_by_recover(tmp_path):
    run = _open(tmp_path, save_total_limit=None)
    _save(run, 2)
    staging = run.path / STAGING
    (staging / "checkpoint").mkdir(parents=True)
    (staging / "checkpoint" / "weights.txt").write_text("model 4")
    (staging / "trainer_state").mkdir()
    (staging / "trainer_state" / "opt.txt").write_text("opt 4")
    (staging / "trainer_state" / "state.json").write_text(json.dumps({"step": 4}))
    (staging / KEEP_PREVIOUS).write_text("2")
    (staging / COMPLETE).write_text("4")
    for name in ("checkpoint", "trainer_state"):  # the kill came after both were moved in
        (run.path / name).rename(staging / f"old-{name}")
        (staging / name).rename(run.path / name)
    (run.history_dir / "step-2").mkdir(parents=True)
    (staging / "old-checkpoint").rename(run.history_dir / "step-2" / "checkpoint")  # and one was kept
    run.recover()
    assert run.saved_step() == 4 and _kept(run) == {2: ("model 2", "opt 2", 2)}


# -- best/ -------------------------------------------------------------------------------------------
def test_best_follows_the_best_evaluation_in_its_direction(tmp_path):
    def write(step):
        return lambda dest: (dest / "weights.txt").write_text(f"model {step}")

    run = _open(tmp_path / "loss", metric_for_best="loss")  # eval_ is added; a loss: lower is better
    for step, loss in enumerate([3.0, 2.0, 2.5, 1.0, 1.0], start=1):
        value = run.improves_best({"eval_loss": loss, "eval_tokens": 10.0})
        if value is not None:
            run.save_best(step, value, write(step))
        assert run.best()["step"] == {1: 1, 2: 2, 3: 2, 4: 4, 5: 4}[step]
    best = json.loads((run.best_dir / "best.json").read_text())
    assert (best["metric"], best["value"], best["step"], best["greater_is_better"]) == ("eval_loss", 1.0, 4, False)
    assert (run.best_dir / "weights.txt").read_text() == "model 4"
    assert run.improves_best({"eval_tokens": 3.0}) is None  # an evaluation without the metric changes nothing
    assert not (run.path / BEST_STAGING).exists() and not (run.path / BEST_OLD).exists()

    run = _open(tmp_path / "acc", RewardConfig, metric_for_best="accuracy")  # not a loss: greater is better
    for step, accuracy in enumerate([0.5, 0.75, 0.6], start=1):
        if (value := run.improves_best({"eval_accuracy": accuracy})) is not None:
            run.save_best(step, value, write(step))
    assert (run.best()["step"], run.best()["value"], run.best()["greater_is_better"]) == (2, 0.75, True)
    # a resume that names another metric starts best/ afresh: its first evaluation replaces it
    run = _open(tmp_path / "acc", RewardConfig, metric_for_best="eval_margin")
    assert run.best() is None and run.improves_best({"eval_margin": -7.0}) == -7.0


def test_a_kill_while_best_is_replaced_leaves_a_whole_best(tmp_path):
    run = _open(tmp_path, metric_for_best="eval_loss")
    run.save_best(1, 2.0, lambda dest: (dest / "weights.txt").write_text("model 1"))
    run.best_dir.rename(run.path / BEST_OLD)  # killed between the two renames, the new one not complete
    (run.path / BEST_STAGING).mkdir()
    run.recover()
    assert run.best()["step"] == 1 and not (run.path / BEST_OLD).exists()


def test_metric_for_best_must_be_an_evaluation_metric_of_the_stage():
    with pytest.raises(ConfigError, match="metric_for_best 'eval_accuracy' is not an evaluation metric"):
        load_config(SFTConfig, None, {"metric_for_best": "accuracy"})
    config = load_config(SFTConfig, None, {"metric_for_best": "none", "save_total_limit": "none"})
    assert config.metric_for_best is None and config.save_total_limit is None


# -- TensorBoard -------------------------------------------------------------------------------------
def test_report_to_tensorboard_without_the_package_is_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ConfigError, match=r"report_to tensorboard needs the tensorboard package: pip install tensorboard=="):
        load_config(SFTConfig, None, {"report_to": "tensorboard"})
    assert load_config(SFTConfig, None, {}).report_to == "none"  # the default needs nothing


def test_tensorboard_events_are_rebuilt_from_metrics_jsonl_when_a_run_resumes(tmp_path):
    pytest.importorskip("tensorboard")
    run = _open(tmp_path, report_to="tensorboard")
    for step in (1, 2, 3):
        run.metrics.append({"step": step, "loss": 1.0 / step, "lr": 0.1, "actor_trained": step > 1, "event": "x",
                            "grad_norm": None})
        if step == 2:
            _save(run, 2)
    run.metrics.append({"step": 2, "eval_loss": 0.7})
    assert_same_scalars(run.path)
    run.close()
    # killed after step 3: the resume cuts metrics.jsonl back to step 2, and the events with it
    run = _open(tmp_path, report_to="tensorboard")
    run.metrics.append({"step": 3, "loss": 0.3})
    written = assert_same_scalars(run.path)
    assert written["loss"] == [(1, 1.0), (2, 0.5), (3, 0.3)] and written["actor_trained"] == [(1, 0.0), (2, 1.0)]
    assert "grad_norm" not in written and "event" not in written


# -- one run per loop, on the tiny model ---------------------------------------------------------------
@pytest.fixture
def no_sft_plots(monkeypatch):
    """Runs whose plots are not under test skip them (a PNG per metric costs seconds on a busy CPU)."""
    monkeypatch.setattr("training.loop.plot_metrics", lambda *args, **kwargs: [])


def _scripted_eval_losses(monkeypatch, losses: list[float]) -> None:
    """SFT evaluations report these losses, in order (the real evaluation still runs)."""
    from training.sft import SFTStage

    real, script = SFTStage.evaluate, list(losses)

    def evaluate(self, model):
        evaluation = real(self, model)
        evaluation.metrics["loss"] = script.pop(0)
        return evaluation

    monkeypatch.setattr(SFTStage, "evaluate", evaluate)


def _sft(tmp_path: Path, **changes) -> SFTConfig:
    return SFTConfig(name="obs", model="tiny", **sft_settings(tmp_path, **{"learning_rate": 3e-3, **changes}))


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path / "model.safetensors")


@needs_bundle
def test_sft_run_killed_and_resumed_keeps_events_limit_and_best(tmp_path, tiny_model, monkeypatch, no_sft_plots):
    pytest.importorskip("tensorboard")
    from transformers import AutoModelForCausalLM

    from training.sft import run_sft

    _scripted_eval_losses(monkeypatch, [3.0, 1.0, 2.0, 2.5])
    config = _sft(tmp_path, save_every=1, eval_every=1, save_total_limit=2, metric_for_best="eval_loss",
                  report_to="tensorboard")
    assert run_sft(config, stop_after=3)["step"] == 3  # killed after step 3
    result = run_sft(config)
    assert result["resumed"] and result["step"] == 4
    run = RunDir(config.run_dir())
    written = assert_same_scalars(run.path)
    assert [step for step, _ in written["loss"]] == [1, 2, 3, 4] and written["eval_loss"][1] == (2, 1.0)
    # two saves kept: the latest (4, in checkpoint/) and the best (2); 1 and 3 were deleted
    assert run.kept_steps() == [2]
    best = json.loads((run.best_dir / "best.json").read_text())
    assert (best["metric"], best["step"], best["value"]) == ("eval_loss", 2, 1.0)
    assert json.loads((run.best_dir / "icegrt-checkpoint.json").read_text())["step"] == 2
    kept, best_weights = _weights(run.history_dir / "step-2" / "checkpoint"), _weights(run.best_dir)
    assert all((kept[k] == best_weights[k]).all() for k in kept)
    assert type(AutoModelForCausalLM.from_pretrained(run.best_dir)).__name__ == "LlamaForCausalLM"


@needs_bundle
def test_sft_best_from_an_evaluation_between_saves_is_written(tmp_path, tiny_model, monkeypatch, no_sft_plots):
    from training.sft import run_sft

    _scripted_eval_losses(monkeypatch, [3.0, 2.0, 1.0, 1.5])
    config = _sft(tmp_path, save_every=2, eval_every=1, save_total_limit=None, metric_for_best="eval_loss")
    assert run_sft(config)["step"] == 4
    run = RunDir(config.run_dir())
    assert run.kept_steps() == [2] and run.saved_step() == 4
    assert json.loads((run.best_dir / "best.json").read_text())["step"] == 3
    assert json.loads((run.best_dir / "icegrt-checkpoint.json").read_text())["step"] == 3
    best, last = _weights(run.best_dir), _weights(run.checkpoint_dir)
    assert any(not (best[k] == last[k]).all() for k in best)


@needs_bundle
def test_a_finished_run_extended_to_more_steps_continues_from_its_last_step(tmp_path, tiny_model, no_sft_plots):
    from training.loop import lr_factor
    from training.sft import run_sft

    short = _sft(tmp_path, max_steps=2, save_every=2, eval_every=2, lr_schedule="cosine", warmup_ratio=0.0)
    assert run_sft(short)["step"] == 2
    assert run_sft(short)["complete"]
    longer = short.model_copy(update={"max_steps": 4})
    result = run_sft(longer)
    assert result["resumed"] and result["step"] == 4 and not result.get("complete")
    records = [json.loads(line) for line in (longer.run_dir() / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    lrs = {r["step"]: r["lr"] for r in records if "lr" in r}
    # the schedule is recomputed for 4 steps: step 3 trains at the 4-step cosine's rate, not at the
    # 2-step schedule's end (0)
    assert lrs[3] == pytest.approx(longer.learning_rate * lr_factor(2, longer)) and lrs[3] > 0
    assert lrs[4] == pytest.approx(longer.learning_rate * lr_factor(3, longer))
    assert "max_steps: 4" in (longer.run_dir() / "config.yaml").read_text()
    assert run_sft(longer)["complete"]
    with pytest.raises(ConfigError, match=r"learning_rate"):  # other settings are still refused
        run_sft(longer.model_copy(update={"max_steps": 6, "learning_rate": 1e-2}))


@needs_bundle
def test_ppo_run_writes_events_best_and_limit_and_extends(tmp_path, tiny_model, tiny_reward_checkpoint, no_plots):
    pytest.importorskip("tensorboard")
    from training.ppo import trainer
    from training.ppo.config import PPOConfig

    settings = ppo_settings(tmp_path, tiny_reward_checkpoint, max_steps=2, save_every=2, eval_every=1, eval_prompts=2,
                            report_to="tensorboard", save_total_limit=2, metric_for_best="eval_reward")
    config = PPOConfig(name="ppo_obs", **settings)
    assert trainer.run_ppo(config)["step"] == 2
    extended = trainer.run_ppo(config.model_copy(update={"max_steps": 4}))
    assert extended["resumed"] and extended["step"] == 4
    run = RunDir(config.run_dir())
    written = assert_same_scalars(run.path)
    assert [step for step, _ in written["reward"]] == [1, 2, 3, 4]
    assert [step for step, _ in written["eval_reward"]] == [0, 1, 2, 3, 4]
    rewards = dict(written["eval_reward"][1:])  # the start model's baseline (step 0) is not a candidate
    best = json.loads((run.best_dir / "best.json").read_text())
    assert best["step"] == max(rewards, key=lambda step: (rewards[step], -step)) and best["value"] == rewards[best["step"]]
    assert json.loads((run.best_dir / "icegrt-checkpoint.json").read_text())["step"] == best["step"]  # saved or not
    # saves at 2 and 4, both kept (limit 2: the latest and one earlier)
    assert run.saved_step() == 4 and run.kept_steps() == [2]


@pytest.mark.slow  # two torchrun processes importing torch and transformers: ~30-60 s
@needs_bundle
def test_best_between_saves_under_fsdp_is_gathered_from_every_rank(tmp_path, tiny_model):
    """Under torchrun with fsdp, rank 0 decides, every rank helps gather the full weights, rank 0 writes
    best/. greater_is_better on eval_loss makes step 1, not a save, the best while the loss falls."""
    import importlib.util
    import os
    import subprocess

    from tests.training.test_data_parallel import REPO, _command

    tensorboard = importlib.util.find_spec("tensorboard") is not None
    command = _command("sft", 2, tmp_path, "fsdp", "--max-steps", "2", "--fsdp", "--save-every", "2", "--eval-every",
                       "1", "--metric-for-best", "eval_loss", "--greater-is-better",
                       *(["--report-to", "tensorboard"] if tensorboard else []))
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    run = RunDir(tmp_path / "fsdp")
    losses = dict(jsonl_scalars(run.metrics_file)["eval_loss"])
    best = json.loads((run.best_dir / "best.json").read_text())
    assert losses[1] > losses[2] and (best["step"], best["value"]) == (1, losses[1])  # written between saves
    assert json.loads((run.best_dir / "icegrt-checkpoint.json").read_text())["step"] == 1
    best_weights, last = _weights(run.best_dir), _weights(run.checkpoint_dir)
    assert sorted(best_weights) == sorted(last) and any(not (best_weights[k] == last[k]).all() for k in last)
    if tensorboard:
        assert_same_scalars(run.path)
