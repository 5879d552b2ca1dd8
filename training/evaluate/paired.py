"""Paired comparisons of two checkpoints' evaluation JSONs, example by example.

Evaluations keep one row per example beside their aggregates (``"rows"`` of
:mod:`training.evaluate.domain` and :mod:`training.evaluate.general.evaluate`, the chat
``transcripts``). Two runs are paired on the example ids both have; a figure that is a mean of
per-example values (a benchmark's accuracy, the chat reward-model score) is compared with
:func:`~training.evaluate.stats.paired_difference`, one that is not (micro and macro F1, cell F1
pooled over cells, a pass rate over the ads a model flagged) with
:func:`~training.evaluate.stats.paired_bootstrap`, recomputing both checkpoints' figure on the same
resampled examples. A JSON without rows (written before rows existed) gives None: the caller falls
back to an unpaired comparison and says so.

The 12-benchmark average is the mean of the tasks' scores, so its paired difference is the mean
of the tasks' paired differences, and (tasks being different examples) its standard error
``sqrt(sum of the tasks' squared paired SEs) / k``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from training.evaluate.stats import paired_bootstrap, paired_difference, significant

Rows = list[dict[str, Any]]
BOOTSTRAP_SAMPLES = 1000


def align(a: Rows, b: Rows) -> tuple[Rows, Rows]:
    """The rows of the example ids present in both lists, in `a`'s order (ids compared as text)."""
    theirs = {str(row["id"]): row for row in b}
    common = [row for row in a if str(row["id"]) in theirs]
    return common, [theirs[str(row["id"])] for row in common]


def micro_f1(rows: Rows) -> float:
    """Micro F1 of ad detection over rows with ``gold`` and ``predicted`` policy ids."""
    from tasks.ad_compliance.scorer import score_detection

    return score_detection([r["gold"] for r in rows], [r["predicted"] for r in rows]).micro.f1


def macro_f1(rows: Rows) -> float:
    from tasks.ad_compliance.scorer import score_detection

    return score_detection([r["gold"] for r in rows], [r["predicted"] for r in rows]).macro_f1


def revision_pass_rate(rows: Rows) -> float:
    """Share of the flagged ads whose revision passed (0 with none flagged, as the aggregate)."""
    flagged = [r for r in rows if r["flagged"]]
    return sum(r["revision_passed"] is True for r in flagged) / len(flagged) if flagged else 0.0


def cell_f1(rows: Rows) -> float:
    """Cell F1 from the summed (micro-averaged) matched / predicted / reference counts."""
    from tasks.text_to_table.score import CellScore

    return CellScore(sum(r["matched"] for r in rows), sum(r["predicted"] for r in rows),
                     sum(r["reference"] for r in rows)).f1


def compare_rows(a: Rows, b: Rows, statistic: Callable[[Rows], float] | None = None,
                 value: str | None = None, seed: int = 0) -> dict[str, Any] | None:
    """Paired difference a - b on the common examples: of the mean of each row's `value`, or of
    `statistic` over the rows (paired bootstrap). None when no example is in both."""
    left, right = align(a, b)
    if not left:
        return None
    if value is not None:
        return paired_difference([r[value] for r in left], [r[value] for r in right], BOOTSTRAP_SAMPLES, seed)
    assert statistic is not None, "a statistic or a value key"
    return paired_bootstrap(left, right, statistic, BOOTSTRAP_SAMPLES, seed)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ads(split: str, statistic: Callable[[Rows], float], needs: str | None = None) -> Callable[[dict, dict], Any]:
    def compare(a: dict, b: dict) -> dict[str, Any] | None:
        ra, rb = _get(a, "ads", split, "rows"), _get(b, "ads", split, "rows")
        if ra is None or rb is None or (needs and (_get(a, "ads", split, needs) is None or _get(b, "ads", split, needs) is None)):
            return None
        return compare_rows(ra, rb, statistic)
    return compare


def _table(a: dict, b: dict) -> dict[str, Any] | None:
    ra, rb = _get(a, "table", "test", "rows"), _get(b, "table", "test", "rows")
    return None if ra is None or rb is None else compare_rows(ra, rb, cell_f1)


def _chat(a: dict, b: dict) -> dict[str, Any] | None:
    def scored(report: dict) -> Rows | None:
        transcripts = _get(report, "chat", "transcripts")
        return None if transcripts is None else [t for t in transcripts if t.get("score") is not None]

    ra, rb = scored(a), scored(b)
    return None if ra is None or rb is None else compare_rows(ra, rb, value="score")


DOMAIN_PAIRED: dict[str, Callable[[dict, dict], dict[str, Any] | None]] = {
    **{f"ads_{split}_micro_f1": _ads(split, micro_f1) for split in ("test", "handwritten")},
    **{f"ads_{split}_macro_f1": _ads(split, macro_f1) for split in ("test", "handwritten")},
    **{f"ads_{split}_revision_pass_rate": _ads(split, revision_pass_rate, "revisions") for split in ("test", "handwritten")},
    "table_cell_f1": _table,
    "chat_reward": _chat,
}
"""metric key of :data:`training.evaluate.report.DOMAIN_METRICS` -> paired comparison of two domain JSONs."""


def general_paired(a: dict, b: dict) -> dict[str, dict[str, Any]]:
    """Task -> paired difference of the task's primary metric, plus ``average`` (see the module
    docstring) when every common task could be paired; tasks without rows on either side are left out."""
    out: dict[str, dict[str, Any]] = {}
    tasks_a, tasks_b = a.get("tasks") or {}, b.get("tasks") or {}
    common = sorted(set(tasks_a) & set(tasks_b))
    for task in common:
        ra, rb = tasks_a[task].get("rows"), tasks_b[task].get("rows")
        metric = tasks_a[task].get("metric") or "acc"
        if ra is not None and rb is not None and (paired := compare_rows(ra, rb, value=metric)) is not None:
            out[task] = paired
    if common and len(out) == len(common):
        errors = [p["stderr"] for p in out.values()]
        stderr = math.sqrt(sum(e**2 for e in errors)) / len(errors) if None not in errors else None
        diff = sum(p["diff"] for p in out.values()) / len(out)
        out["average"] = {"diff": diff, "stderr": stderr, "ci_low": None, "ci_high": None,
                          "n": sum(p["n"] for p in out.values()), "significant": significant(diff, stderr),
                          "method": "paired"}
    return out
