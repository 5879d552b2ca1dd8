"""Pure accounting of the SFT benchmark: tokens in a padded batch, per-measurement rates, paired ratios.

Counting rules (the same for both trainers, which see the same batches):
    real tokens     non-pad positions (the attention mask's ones): the work a padding-free trainer would do
    padded tokens   batch rows x the longest row: the positions the model actually computes
    label tokens    positions whose next-token label is kept (assistant tokens, the first position never)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

IGNORE_INDEX = -100


def batch_tokens(lengths: Sequence[int]) -> dict[str, int]:
    """Real and padded tokens of one right-padded batch of sequences of these lengths."""
    if not lengths:
        return {"real": 0, "padded": 0}
    return {"real": sum(lengths), "padded": len(lengths) * max(lengths)}


def label_tokens(labels: Sequence[int]) -> int:
    """Labelled positions a next-token loss sees in one sequence (its first token is never predicted)."""
    return sum(label != IGNORE_INDEX for label in labels[1:])


def step_tokens(batch: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[str, int]:
    """Real, padded and label tokens of one step's batch of (input_ids, labels) pairs."""
    return {**batch_tokens([len(ids) for ids, _ in batch]), "labels": sum(label_tokens(lab) for _, lab in batch)}


def sum_tokens(steps: Sequence[dict[str, int]]) -> dict[str, int]:
    keys = ("real", "padded", "labels")
    return {k: sum(s.get(k, 0) for s in steps) for k in keys}


def rates(seconds: float, tokens: dict[str, int]) -> dict[str, float]:
    """Throughput of one measurement: tokens/s (real, padded), ms per real token."""
    if seconds <= 0 or tokens["real"] <= 0:
        raise ValueError(f"a measurement needs time and tokens, got {seconds} s and {tokens}")
    return {"seconds": round(seconds, 3), "real_tok_s": round(tokens["real"] / seconds, 2),
            "padded_tok_s": round(tokens["padded"] / seconds, 2),
            "ms_per_real_token": round(1000 * seconds / tokens["real"], 3)}


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Median, min-max and mean +- standard error (sample stdev / sqrt(n)) of a set of values."""
    values = list(values)
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "mean": None, "se": None}
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return {"n": len(values), "median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "mean": round(statistics.fmean(values), 4),
            "se": None if se is None else round(se, 4)}


def paired_ratios(rounds: Sequence[dict], figure: str = "real_tok_s", ours: str = "ours",
                  theirs: str = "trl") -> dict:
    """Per round ours/theirs of `figure` (rounds missing either side are skipped) and their summary."""
    ratios = [round(r[ours][figure] / r[theirs][figure], 4) for r in rounds
              if r.get(ours) and r.get(theirs) and r[theirs].get(figure)]
    return {"figure": figure, "ratios": ratios, **summary(ratios)}


def fmt_summary(s: dict, digits: int = 2) -> str:
    """``median [min, max], mean +- se (n)`` for tables."""
    if not s.get("n"):
        return "-"
    se = f" +- {s['se']:.{digits + 1}f}" if s.get("se") is not None else ""
    return (f"{s['median']:.{digits}f} [{s['min']:.{digits}f}, {s['max']:.{digits}f}], "
            f"mean {s['mean']:.{digits}f}{se} (n={s['n']})")
