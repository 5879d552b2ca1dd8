"""The evaluation report: base, SFT and PPO checkpoints side by side, from evaluation JSONs and runs.

Inputs, each optional (a missing one is declared in the report, never guessed):

    general   ``icegrt eval general --output`` JSON per checkpoint: ``{"tasks": {name: {"acc",
              "acc_stderr", "acc_norm", "acc_norm_stderr", "n", "metric"}}, "average", ...}``;
              each task is read at its ``metric`` (acc or acc_norm) with that metric's stderr
    domain    ``icegrt eval domain --output`` JSON per checkpoint (:mod:`training.evaluate.suite`)
    runs      run directories (``runs/<name>/metrics.jsonl``) of the SFT, reward and PPO stages

:func:`build_report` gathers them into one dict (written as report.json), :func:`render_markdown`
states every comparison as a difference with its standard error. A difference is called higher
or lower only when it exceeds twice its standard error; otherwise the report says so. When both
JSONs carry per-example rows the difference is paired (:mod:`training.evaluate.paired`: on the
examples both checkpoints were scored on, paired standard error or paired bootstrap); only for
inputs without rows are the two standard errors added in quadrature, and the row says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.evaluate.stats import SIGNIFICANCE

Value = tuple[float, float | None]  # (value, stderr)


def _get(data: dict, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ads(split: str, what: str) -> Callable[[dict], Value | None]:
    def read(report: dict) -> Value | None:
        ads = _get(report, "ads", split)
        if ads is None:
            return None
        if what == "revision_pass_rate":
            rate = _get(ads, "revisions", "pass_rate")
            return None if rate is None else (rate, _get(ads, "revisions", "pass_rate_stderr"))
        value = ads["detection"]["micro"]["f1"] if what == "micro_f1" else ads["detection"]["macro_f1"]
        return value, _get(ads, "detection_stderr", what)
    return read


def _table(report: dict) -> Value | None:
    table = _get(report, "table", "test")
    return None if table is None else (table["cell_f1"], table.get("cell_f1_stderr"))


def _chat(report: dict) -> Value | None:
    reward = _get(report, "chat", "reward")
    return None if reward is None or reward.get("mean") is None else (reward["mean"], reward.get("stderr"))


DOMAIN_METRICS: dict[str, tuple[str, Callable[[dict], Value | None]]] = {
    "ads_test_micro_f1": ("Ads, generated test: micro F1", _ads("test", "micro_f1")),
    "ads_test_macro_f1": ("Ads, generated test: macro F1", _ads("test", "macro_f1")),
    "ads_test_revision_pass_rate": ("Ads, generated test: revision pass rate", _ads("test", "revision_pass_rate")),
    "ads_handwritten_micro_f1": ("Ads, hand-written: micro F1", _ads("handwritten", "micro_f1")),
    "ads_handwritten_macro_f1": ("Ads, hand-written: macro F1", _ads("handwritten", "macro_f1")),
    "ads_handwritten_revision_pass_rate": ("Ads, hand-written: revision pass rate",
                                           _ads("handwritten", "revision_pass_rate")),
    "table_cell_f1": ("Text to table, E2E test: cell F1", _table),
    "chat_reward": ("Multi-turn chat: reward-model score", _chat),
}
"""metric key -> (label, reader of a domain JSON); stderrs are bootstrap (F1), binomial (rates) or s/sqrt(n)."""


def general_values(report: dict) -> dict[str, Value]:
    """Task -> (score at the task's metric, its stderr), plus ``average`` (stderr in quadrature / k)."""
    values: dict[str, Value] = {}
    for task, result in sorted((report.get("tasks") or {}).items()):
        metric = result.get("metric") or "acc"
        values[task] = (result[metric], result.get(f"{metric}_stderr"))
    if values:
        errors = [se for _, se in values.values()]
        stderr = math.sqrt(sum(se**2 for se in errors)) / len(errors) if None not in errors else None
        average = report.get("average")
        values["average"] = (average if average is not None else sum(v for v, _ in values.values()) / len(values), stderr)
    return values


def domain_values(report: dict) -> dict[str, Value]:
    """Metric key -> (value, stderr) for the metrics present in a domain JSON."""
    return {key: value for key, (_, read) in DOMAIN_METRICS.items() if (value := read(report)) is not None}


def _reading(diff: float, stderr: float | None) -> str:
    if stderr is None:
        reading = "no stderr"
    elif abs(diff) > SIGNIFICANCE * stderr:
        reading = "higher" if diff > 0 else "lower"
    else:
        reading = "within 2 stderr"
    return reading


def difference(a: Value, b: Value) -> dict[str, Any]:
    """Unpaired ``a - b``: stderrs in quadrature, and a reading: higher / lower beyond 2 stderr, within, or unknown."""
    diff = a[0] - b[0]
    stderr = math.sqrt(a[1] ** 2 + b[1] ** 2) if a[1] is not None and b[1] is not None else None
    return {"diff": diff, "stderr": stderr, "reading": _reading(diff, stderr), "method": "unpaired"}


def paired_row(paired: dict[str, Any]) -> dict[str, Any]:
    """A comparison row from a paired difference of :mod:`training.evaluate.paired` (diff on the common examples)."""
    return {key: paired[key] for key in ("diff", "stderr", "n", "ci_low", "ci_high", "method")} | {
        "reading": _reading(paired["diff"], paired["stderr"])}


def stage_of(run_dir: Path, records: list[dict]) -> str:
    """sft, reward or ppo: the checkpoint's marker when there is one, else told from the metric names."""
    marker = run_dir / "checkpoint" / "icegrt-checkpoint.json"
    if marker.is_file():
        stage = json.loads(marker.read_text()).get("stage")
        if stage in ("sft", "reward", "ppo"):
            return stage
    keys = {key for record in records for key in record}
    return "ppo" if "kl" in keys else "reward" if "accuracy" in keys else "sft"


def load_run(run_dir: Path) -> dict[str, Any]:
    """``{"path", "stage", "records"}`` of a run directory.

    Raises:
        ValueError: no metrics.jsonl in `run_dir`.
    """
    from training.runs import MetricsLog

    metrics = Path(run_dir) / "metrics.jsonl"
    if not metrics.is_file():
        raise ValueError(f"{run_dir} has no metrics.jsonl: not a training run directory")
    records = MetricsLog(metrics).read()
    return {"path": str(run_dir), "stage": stage_of(Path(run_dir), records), "records": records}


def build_report(name: str, command: str, checkpoints: dict[str, str], general: dict[str, dict | None],
                 domain: dict[str, dict | None], runs: list[dict[str, Any]],
                 comparisons: list[tuple[str, str]]) -> dict[str, Any]:
    """Everything the Markdown and the plots are made from (written as report.json)."""
    general_table = {label: general_values(data) if data else None for label, data in general.items()}
    domain_table = {label: domain_values(data) if data else None for label, data in domain.items()}
    from training.evaluate.paired import DOMAIN_PAIRED, general_paired

    compared = []
    for a, b in comparisons:
        rows = []
        for kind, table, raw in (("domain", domain_table, domain), ("general", general_table, general)):
            left, right = table.get(a) or {}, table.get(b) or {}
            both = raw.get(a) and raw.get(b)
            paired_general = general_paired(raw[a], raw[b]) if kind == "general" and both else {}
            for key in [k for k in left if k in right]:
                paired = (DOMAIN_PAIRED[key](raw[a], raw[b]) if both else None) if kind == "domain" else paired_general.get(key)
                row = paired_row(paired) if paired is not None and paired["diff"] is not None else difference(left[key], right[key])
                rows.append({"kind": kind, "metric": key, a: left[key], b: right[key], **row})
        win = _win_rate(domain.get(a), checkpoints.get(b), b)
        compared.append({"a": a, "b": b, "rows": rows, "win_rate": win})
    return {"name": name, "command": command, "checkpoints": checkpoints,
            "inputs": {"general": general, "domain": domain, "runs": runs},
            "general": general_table, "domain": domain_table, "comparisons": compared}


def _win_rate(report: dict | None, other_path: str | None, other_label: str) -> dict[str, Any] | None:
    """The chat win rate recorded in `report` when its --versus was the other checkpoint."""
    versus = _get(report or {}, "chat", "versus")
    if versus is None or other_path is None:
        return None
    if versus["model"] not in (other_path, other_label) and Path(versus["model"]).resolve() != Path(other_path).resolve():
        return None
    return versus["win_rate"]
