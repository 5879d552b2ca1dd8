"""Run directories: config, metrics, plots, and atomic checkpoints that a killed run resumes from.

Layout of ``runs/<name>/``::

    config.yaml        every setting of the run (defaults included)
    metrics.jsonl      one JSON object per logged step ({"step": ..., "loss": ...}), and evaluations
    plots/*.png        one chart per metric family (``loss`` shows loss and eval_loss)
    tensorboard/       report_to tensorboard: the scalars of metrics.jsonl as TensorBoard events
    checkpoint/        Hugging Face model + tokenizer + chat template (servable as is)
    trainer_state/     state.json (step), optimizer.pt, scheduler.pt, rng.pt, stage extras
    checkpoints/       save_total_limit other than 1: earlier saves, step-<N>/{checkpoint,trainer_state}
    best/              metric_for_best: the best evaluation's model (as checkpoint/) and best.json

Checkpoints are written into ``.staging/``; a ``COMPLETE`` marker written last (after every file
is flushed to disk) commits them, and they are then moved into place. :meth:`RunDir.recover`
runs before anything else reads the directory: a committed staging area is moved in (again,
if a kill interrupted the move), an uncommitted one is thrown away. So ``checkpoint/`` and
``trainer_state/`` always describe the same step, whenever the process dies.

The save a new one replaces is deleted, or, when ``save_total_limit`` keeps more than the latest
(or it is the best one), moved to ``checkpoints/step-<N>/`` by the same recovery; the oldest there
are then deleted down to the limit, never the best. ``best/`` is replaced whole (written beside
it, then renamed), from hard links to ``checkpoint/``'s files when the best step was just saved
(no second copy on disk: checkpoint files are never rewritten in place).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from training.config import ConfigError, TrainConfig, dump_config
from training.distributed import SINGLE, Distributed
from training.observe import TensorBoardLog

log = logging.getLogger(__name__)

STAGING = ".staging"
COMPLETE = "COMPLETE"
CHECKPOINT = "checkpoint"
TRAINER_STATE = "trainer_state"
STATE_FILE = "state.json"
CHECKPOINTS = "checkpoints"  # earlier saves kept by save_total_limit: step-<N>/{checkpoint,trainer_state}
KEEP_PREVIOUS = "KEEP_PREVIOUS"  # in a staging area: move the save it replaces to checkpoints/ (its step)
DELETING = ".deleting-"  # a kept save being deleted (renamed first, so a half-deleted one is never listed)
BEST = "best"
BEST_FILE = "best.json"
BEST_STAGING, BEST_OLD = ".best-staging", ".best-old"
TENSORBOARD = "tensorboard"


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_tree(src: Path, dest: Path) -> None:
    """`src` again at `dest`, made of hard links (copies where the filesystem refuses links)."""
    def link(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(src, dest, copy_function=link)


class RunDir:
    """One run's directory (see the module docstring for its layout)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.config_file = self.path / "config.yaml"
        self.metrics_file = self.path / "metrics.jsonl"
        self.plots_dir = self.path / "plots"
        self.checkpoint_dir = self.path / CHECKPOINT
        self.state_dir = self.path / TRAINER_STATE
        self.history_dir = self.path / CHECKPOINTS
        self.best_dir = self.path / BEST
        self.metrics = MetricsLog(self.metrics_file)  # with TensorBoard events once opened with report_to set
        # what is kept (set from the config by open(); these defaults keep the latest save only)
        self.save_total_limit: int | None = 1
        self.metric_for_best: str | None = None
        self.greater_is_better = False

    # -- opening --------------------------------------------------------------------------
    def open(self, config: TrainConfig) -> int:
        """Create the run, or reopen it to resume; returns the step to start from (0 when new).

        Raises:
            ConfigError: the directory holds a run with different settings (pass a new name, or
                overwrite to start over).
        """
        if config.overwrite and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.recover()
        old_max_steps = self._check_same_run(config) if self.config_file.is_file() else None
        self.config_file.write_text(dump_config(config), encoding="utf-8")
        step = self.saved_step() or 0
        MetricsLog(self.metrics_file).truncate_after(step)
        if step and old_max_steps is not None and old_max_steps != config.max_steps and step < config.max_steps:
            log.warning("%s: max_steps %s -> %d, continuing from step %d; the learning-rate schedule is recomputed "
                        "for %d steps", self.path, old_max_steps, config.max_steps, step, config.max_steps)
        self._keep_as(config)
        return step

    def _check_same_run(self, config: TrainConfig) -> Any:
        """Refuse other settings than the run's (but those of RESUME_IGNORED); returns its max_steps."""
        import yaml

        old = yaml.safe_load(self.config_file.read_text(encoding="utf-8")) or {}
        new = config.resume_view()
        changed = sorted(k for k in set(old) | set(new) if k not in config.RESUME_IGNORED and old.get(k) != new.get(k))
        if changed:
            details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
            raise ConfigError(
                f"{self.path} holds a run with other settings ({details}); resume it with the same "
                "settings, choose another --name, or pass --overwrite to delete it and start over"
            )
        return old.get("max_steps")

    def _keep_as(self, config: TrainConfig) -> None:
        """Take the run's keeping and reporting settings; apply the limit (it may have been lowered)."""
        self.save_total_limit = config.save_total_limit
        self.metric_for_best, self.greater_is_better = config.metric_for_best, config.best_is_greater()
        if config.report_to == "tensorboard":
            self.metrics.close()
            self.metrics = MetricsLog(self.metrics_file, TensorBoardLog(self.path / TENSORBOARD, self.metrics.read()))
        self.prune()

    def close(self) -> None:
        """Close what the run holds open (the TensorBoard writer)."""
        self.metrics.close()

    # -- checkpoints ----------------------------------------------------------------------
    def saved_step(self) -> int | None:
        """Step of the last committed checkpoint, or None."""
        state_file = self.state_dir / STATE_FILE
        if not state_file.is_file() or not self.checkpoint_dir.is_dir():
            return None
        return int(json.loads(state_file.read_text())["step"])

    def recover(self) -> None:
        """Finish moving a committed checkpoint into place (and the one it replaces to checkpoints/ when
        it is kept), or drop an uncommitted one; the same for best/."""
        self._recover_best()
        staging = self.path / STAGING
        if not staging.exists():
            return
        if not (staging / COMPLETE).is_file():
            shutil.rmtree(staging)
            return
        for name in (CHECKPOINT, TRAINER_STATE):
            new, live = staging / name, self.path / name
            if new.exists():
                if live.exists():
                    os.rename(live, staging / f"old-{name}")
                os.rename(new, live)
        if (staging / KEEP_PREVIOUS).is_file():
            kept = self.history_dir / f"step-{int((staging / KEEP_PREVIOUS).read_text())}"
            kept.mkdir(parents=True, exist_ok=True)
            for name in (CHECKPOINT, TRAINER_STATE):
                if (staging / f"old-{name}").exists():
                    if (kept / name).exists():
                        shutil.rmtree(kept / name)
                    os.rename(staging / f"old-{name}", kept / name)
        shutil.rmtree(staging)

    def save(self, step: int, write_model: Callable[[Path], None], write_state: Callable[[Path], None]) -> None:
        """Write a checkpoint of `step` atomically (staging, commit marker, rename); keep or delete the one
        it replaces, as save_total_limit says."""
        staging = self.path / STAGING
        if staging.exists():
            shutil.rmtree(staging)
        (staging / TRAINER_STATE).mkdir(parents=True)
        write_model(staging / CHECKPOINT)
        write_state(staging / TRAINER_STATE)
        state = {"step": step, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (staging / TRAINER_STATE / STATE_FILE).write_text(json.dumps(state))
        previous = self.saved_step()
        if previous is not None and previous != step and (self.save_total_limit != 1 or previous == self.best_step()):
            (staging / KEEP_PREVIOUS).write_text(str(previous))
        _fsync_tree(staging)
        (staging / COMPLETE).write_text(str(step))
        _fsync_tree(staging)
        self.recover()
        self.prune()

    # -- earlier saves (save_total_limit) -------------------------------------------------------
    def kept_steps(self) -> list[int]:
        """Steps of the earlier saves kept in checkpoints/, oldest first (the latest is checkpoint/)."""
        if not self.history_dir.is_dir():
            return []
        names = (p.name for p in self.history_dir.iterdir() if p.is_dir())
        return sorted(int(name[5:]) for name in names if name.startswith("step-") and name[5:].isdigit())

    def prune(self) -> None:
        """Delete the oldest kept saves beyond save_total_limit (the latest counts), never the best one."""
        if self.history_dir.is_dir():
            for leftover in self.history_dir.glob(f"{DELETING}*"):
                shutil.rmtree(leftover)
        if self.save_total_limit is None:
            return
        steps, best = self.kept_steps(), self.best_step()
        excess = len(steps) + (self.saved_step() is not None) - self.save_total_limit
        for step in steps:
            if excess <= 0:
                break
            if step == best:
                continue
            doomed = self.history_dir / f"{DELETING}step-{step}"
            os.rename(self.history_dir / f"step-{step}", doomed)
            shutil.rmtree(doomed)
            excess -= 1

    # -- the best checkpoint (metric_for_best) --------------------------------------------------
    def best(self) -> dict[str, Any] | None:
        """best/best.json, if best/ was chosen by this run's metric_for_best in its direction."""
        path = self.best_dir / BEST_FILE
        if self.metric_for_best is None or not path.is_file():
            return None
        best = json.loads(path.read_text())
        if best.get("metric") != self.metric_for_best or best.get("greater_is_better") != self.greater_is_better:
            return None  # chosen by another metric: the next evaluation replaces it
        return best

    def best_step(self) -> int | None:
        best = self.best()
        return None if best is None else int(best["step"])

    def improves_best(self, metrics: dict[str, Any]) -> float | None:
        """The value of metric_for_best in an evaluation's `metrics` (``eval_*`` names) when it beats
        best/ (or there is no best yet); else None, also when the evaluation lacks the metric."""
        if self.metric_for_best is None:
            return None
        value = metrics.get(self.metric_for_best)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            log.warning("this evaluation has no finite %s (it has %s): best/ is left as is", self.metric_for_best,
                        ", ".join(sorted(metrics)) or "nothing")
            return None
        best = self.best()
        if best is not None and not (value > best["value"] if self.greater_is_better else value < best["value"]):
            return None
        return float(value)

    def save_best(self, step: int, value: float, write_model: Callable[[Path], None] | None = None) -> None:
        """Make best/ the model of `step`: written by `write_model`, or, when None, linked from checkpoint/
        (which must hold `step`); with best.json saying which step and value."""
        staging, old = self.path / BEST_STAGING, self.path / BEST_OLD
        for leftover in (staging, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        if write_model is None:
            assert self.saved_step() == step, f"checkpoint/ holds step {self.saved_step()}, not {step}"
            _link_tree(self.checkpoint_dir, staging)
        else:
            staging.mkdir(parents=True)
            write_model(staging)
        record = {"metric": self.metric_for_best, "value": value, "step": step,
                  "greater_is_better": self.greater_is_better,
                  "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (staging / BEST_FILE).write_text(json.dumps(record, indent=2))
        _fsync_tree(staging)
        if self.best_dir.exists():
            os.rename(self.best_dir, old)
        os.rename(staging, self.best_dir)
        if old.exists():
            shutil.rmtree(old)
        self.prune()  # the save the best was taken from before may go now

    def _recover_best(self) -> None:
        """After a kill while best/ was replaced: the new one if it was complete, else the old one."""
        staging, old = self.path / BEST_STAGING, self.path / BEST_OLD
        if not self.best_dir.exists() and old.exists():
            os.rename(staging if (staging / BEST_FILE).is_file() else old, self.best_dir)
        for leftover in (staging, old):
            if leftover.exists():
                shutil.rmtree(leftover)


class MetricsLog:
    """``metrics.jsonl``: appended one line per record, flushed at once (and mirrored to `mirror`,
    a :class:`training.observe.TensorBoardLog`, when given)."""

    def __init__(self, path: Path, mirror: TensorBoardLog | None = None):
        self.path = Path(path)
        self.mirror = mirror

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.mirror is not None:
            self.mirror.write(record)

    def close(self) -> None:
        if self.mirror is not None:
            self.mirror.close()
            self.mirror = None

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a kill
        return records

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after `step` (logged after the checkpoint a resume starts from)."""
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)


_NOT_PLOTTED = {"step", "elapsed_s", "epoch"}


def metric_families(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Numeric keys grouped by family (``eval_loss`` joins ``loss``), in first-seen order."""
    families: dict[str, list[str]] = {}
    for record in records:
        for key, value in record.items():
            if key in _NOT_PLOTTED or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            family = families.setdefault(key.removeprefix("eval_"), [])
            if key not in family:
                family.append(key)
    return families


def plot_metrics(metrics_file: Path, out_dir: Path) -> list[Path]:
    """One PNG per metric family of `metrics_file` in `out_dir`; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = MetricsLog(metrics_file).read()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for family, keys in metric_families(records).items():
        figure, axes = plt.subplots(figsize=(6, 3.5))
        for key in keys:
            points = [(r["step"], r[key]) for r in records if key in r and math.isfinite(r[key])]
            if points:
                xs, ys = zip(*points, strict=True)
                axes.plot(xs, ys, marker="o" if key.startswith("eval_") or len(xs) < 20 else None, label=key)
        axes.set_xlabel("optimizer step")
        axes.set_title(family)
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        path = out_dir / f"{family}.png"
        figure.savefig(path, dpi=80)
        plt.close(figure)
        written.append(path)
    return written


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch random states (for an exact resume)."""
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def open_run(config: Any, data_summary: dict[str, Any], dist: Distributed = SINGLE) -> tuple[RunDir, int, dict[str, Any] | None]:
    """Create or resume `config`'s run directory and record its data summary.

    Returns the run, the step to start from, and, when the run already reached
    ``config.max_steps``, the summary a stage returns without doing any work (else None).
    Under torchrun rank 0 opens the directory and every rank gets its step (or its ConfigError).
    """
    run = RunDir(config.run_dir())
    start_step, error = 0, None
    if dist.is_main:
        try:
            start_step = run.open(config)
            (run.path / "data.json").write_text(json.dumps(data_summary, indent=2))
        except ConfigError as exc:
            if not dist.enabled:
                raise
            error = str(exc)
    start_step, error = dist.broadcast((start_step, error))
    if error is not None:
        raise ConfigError(error)
    if start_step < config.max_steps:
        return run, start_step, None
    run.close()
    log.info("run %s is complete (step %d)", run.path, start_step)
    return run, start_step, {"step": start_step, "checkpoint": str(run.checkpoint_dir), "resumed": True,
                             "complete": True}
