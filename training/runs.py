"""Run directories: config, metrics, plots, and atomic checkpoints that a killed run resumes from.

Layout of ``runs/<name>/``::

    config.yaml        every setting of the run (defaults included)
    metrics.jsonl      one JSON object per logged step ({"step": ..., "loss": ...}), and evaluations
    plots/*.png        one chart per metric family (``loss`` shows loss and eval_loss)
    checkpoint/        Hugging Face model + tokenizer + chat template (servable as is)
    trainer_state/     state.json (step), optimizer.pt, scheduler.pt, rng.pt, stage extras

Checkpoints are written into ``.staging/``; a ``COMPLETE`` marker written last (after every file
is flushed to disk) commits them, and they are then moved into place. :meth:`RunDir.recover`
runs before anything else reads the directory: a committed staging area is moved in (again,
if a kill interrupted the move), an uncommitted one is thrown away. So ``checkpoint/`` and
``trainer_state/`` always describe the same step, whenever the process dies.
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

log = logging.getLogger(__name__)

STAGING = ".staging"
COMPLETE = "COMPLETE"
CHECKPOINT = "checkpoint"
TRAINER_STATE = "trainer_state"
STATE_FILE = "state.json"


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


class RunDir:
    """One run's directory (see the module docstring for its layout)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.config_file = self.path / "config.yaml"
        self.metrics_file = self.path / "metrics.jsonl"
        self.plots_dir = self.path / "plots"
        self.checkpoint_dir = self.path / CHECKPOINT
        self.state_dir = self.path / TRAINER_STATE

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
        if self.config_file.is_file():
            self._check_same_run(config)
        self.config_file.write_text(dump_config(config), encoding="utf-8")
        step = self.saved_step() or 0
        MetricsLog(self.metrics_file).truncate_after(step)
        return step

    def _check_same_run(self, config: TrainConfig) -> None:
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

    # -- checkpoints ----------------------------------------------------------------------
    def saved_step(self) -> int | None:
        """Step of the last committed checkpoint, or None."""
        state_file = self.state_dir / STATE_FILE
        if not state_file.is_file() or not self.checkpoint_dir.is_dir():
            return None
        return int(json.loads(state_file.read_text())["step"])

    def recover(self) -> None:
        """Finish moving a committed checkpoint into place, or drop an uncommitted one."""
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
        shutil.rmtree(staging)

    def save(self, step: int, write_model: Callable[[Path], None], write_state: Callable[[Path], None]) -> None:
        """Write a checkpoint of `step` atomically (staging, commit marker, rename)."""
        staging = self.path / STAGING
        if staging.exists():
            shutil.rmtree(staging)
        (staging / TRAINER_STATE).mkdir(parents=True)
        write_model(staging / CHECKPOINT)
        write_state(staging / TRAINER_STATE)
        state = {"step": step, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (staging / TRAINER_STATE / STATE_FILE).write_text(json.dumps(state))
        _fsync_tree(staging)
        (staging / COMPLETE).write_text(str(step))
        _fsync_tree(staging)
        self.recover()


class MetricsLog:
    """``metrics.jsonl``: appended one line per record, flushed at once."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

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
    log.info("run %s is complete (step %d)", run.path, start_step)
    return run, start_step, {"step": start_step, "checkpoint": str(run.checkpoint_dir), "resumed": True,
                             "complete": True}
