"""PNG figures of the evaluation report: grouped bars with stderr error bars, and training curves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from training.evaluate.report import DOMAIN_METRICS

PPO_PANELS = (
    ("PPO reward (raw score)", ("reward", "reward_scaled", "eval_reward")),
    ("PPO reward components", ("reward_model_score", "task_score_*", "task_part_*")),
    ("PPO KL (nats per reply)", ("kl",)),
    ("PPO KL (nats per token)", ("kl_token",)),
    ("PPO KL coefficient beta", ("kl_coef",)),
    ("PPO entropy (nats per token)", ("entropy",)),
)
"""(title, metric keys drawn together) of the PPO curves; a key ending in ``*`` stands for every
logged key with that prefix (one task score per prompt source)."""

# (stage, title, metric keys drawn together)
TRAINING_PANELS = (
    ("sft", "SFT loss", ("loss", "eval_loss")),
    ("reward", "Reward model loss", ("loss", "eval_loss")),
    ("reward", "Reward model accuracy", ("accuracy", "eval_accuracy")),
    *(("ppo", title, keys) for title, keys in PPO_PANELS),
)


def headless_pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grouped_bars(axes: Any, groups: list[str], series: dict[str, dict[str, tuple[float, float | None]]],
                 ylabel: str) -> None:
    """One group of bars per entry of `groups`, one bar per series (checkpoint), stderr as error bars."""
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        heights = [values[k][0] if k in values else math.nan for k in groups]
        errors = [(values[k][1] or 0.0) if k in values else 0.0 for k in groups]
        axes.bar(xs, heights, width, yerr=errors, capsize=2, label=label)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(groups, rotation=35, ha="right", fontsize=8)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8)


def _two_panels(path: Path, series: dict[str, dict[str, Any]], wide: tuple[list[str], str, str],
                narrow: tuple[list[str], str, str]) -> Path:
    """Grouped bars on a wide panel and a narrow one (an average, or a metric on another scale);
    each panel is (groups, y label, title)."""
    plt = headless_pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [4, 1]})
    for ax, (groups, ylabel, title) in zip(axes, (wide, narrow), strict=True):
        grouped_bars(ax, groups, series, ylabel)
        ax.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def plot_general(report: dict[str, Any], path: Path) -> Path | None:
    """Benchmarks grouped per task, and the general average, per checkpoint (None: nothing to plot)."""
    series = {label: values for label, values in report["general"].items() if values}
    if not series:
        return None
    tasks = sorted({k for values in series.values() for k in values if k != "average"})
    return _two_panels(path, series, (tasks, "accuracy", "General benchmarks (± stderr)"),
                       (["average"], "accuracy", "General average"))


def plot_domain(report: dict[str, Any], path: Path) -> Path | None:
    """F1 and pass rates on one axis, the chat reward-model score (another scale) on its own."""
    series = {label: values for label, values in report["domain"].items() if values}
    if not series:
        return None
    present = [k for k in DOMAIN_METRICS if any(k in values for values in series.values())]
    rates = [k for k in present if k != "chat_reward"]
    return _two_panels(path, series, (rates, "score (0-1)", "Domain metrics (± stderr)"),
                       (["chat_reward"], "reward-model score", "Multi-turn chat"))


def _expand(keys: tuple[str, ...], records: list[dict[str, Any]]) -> list[str]:
    """`keys` with each ``prefix*`` replaced by the logged keys that start with prefix, in first-seen order."""
    logged = list(dict.fromkeys(k for r in records for k in r))
    return [k for key in keys for k in ([x for x in logged if x.startswith(key[:-1])] if key.endswith("*") else [key])]


def _curves(ax: Any, title: str, records: list[dict[str, Any]] | None, keys: tuple[str, ...], missing: str) -> None:
    """One panel: each of `keys` (expanded) against the step; `missing` is written where nothing was logged."""
    ax.set_title(title, fontsize=10)
    drawn = False
    for key in _expand(keys, records) if records else ():
        points = [(r["step"], r[key]) for r in records
                  if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool) and math.isfinite(r[key])]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if key.startswith("eval_") or len(xs) < 20 else None, label=key)
            drawn = True
    if drawn:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, missing, ha="center", va="center", transform=ax.transAxes)


def plot_training(runs: list[dict[str, Any]], path: Path) -> Path | None:
    """One panel per TRAINING_PANELS entry; a stage without a run gets a panel that says so."""
    if not runs:
        return None
    plt = headless_pyplot()
    by_stage = {run["stage"]: run for run in runs}
    figure, axes = plt.subplots(3, 3, figsize=(13, 9.5))
    for ax, (stage, title, keys) in zip(axes.flat, TRAINING_PANELS, strict=True):
        run = by_stage.get(stage)
        _curves(ax, title, run["records"] if run else None, keys, f"no {stage} run given" if run is None else "not logged")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def plot_ppo(records: list[dict[str, Any]], path: Path) -> Path:
    """A PPO run's curves per step on one figure (PPO_PANELS): reward and its components, KL per reply
    and per token, beta, entropy."""
    plt = headless_pyplot()
    figure, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (title, keys) in zip(axes.flat, PPO_PANELS, strict=True):
        _curves(ax, title, records, keys, "not logged")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
