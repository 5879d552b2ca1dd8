"""Uncertainty of evaluation figures: mean with standard error, pairwise win rate, bootstrap.

Every figure a report compares comes with a standard error, so a difference can be read against
its noise: a mean's is ``s / sqrt(n)`` (sample standard deviation); a win rate is the mean of
per-item outcomes (1 win, 0.5 tie, 0 loss) with the same formula; a micro-averaged F1, which is
not a mean of per-item values, gets the standard deviation of its bootstrap distribution
(examples resampled with replacement, seeded).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def mean_stderr(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "stderr", "n"}``; stderr is None for fewer than two values, mean None for none."""
    n = len(values)
    if n == 0:
        return {"mean": None, "stderr": None, "n": 0}
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "stderr": None, "n": n}
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return {"mean": mean, "stderr": math.sqrt(variance / n), "n": n}


def win_rate(scores: Sequence[float], other: Sequence[float], tie_margin: float = 0.0) -> dict[str, Any]:
    """How often `scores[i]` beats `other[i]` (same items, same order), ties counted half.

    An item is a tie when the two scores differ by at most `tie_margin`. Returns
    ``{"win_rate", "stderr", "n", "wins", "ties", "losses"}``; win_rate is None for no items.

    Raises:
        ValueError: the two lists differ in length, or tie_margin is negative.
    """
    if len(scores) != len(other):
        raise ValueError(f"win rate needs paired scores: {len(scores)} against {len(other)}")
    if tie_margin < 0:
        raise ValueError(f"tie_margin must be >= 0, got {tie_margin}")
    outcomes = [0.5 if abs(a - b) <= tie_margin else float(a > b) for a, b in zip(scores, other, strict=True)]
    summary = mean_stderr(outcomes)
    return {"win_rate": summary["mean"], "stderr": summary["stderr"], "n": summary["n"],
            "wins": outcomes.count(1.0), "ties": outcomes.count(0.5), "losses": outcomes.count(0.0)}


def proportion_stderr(rate: float | None, n: int) -> float | None:
    """Standard error of a proportion over n independent items (None when undefined)."""
    if rate is None or n < 2:
        return None
    return math.sqrt(rate * (1 - rate) / n)


def bootstrap_stderr(items: Sequence[T], statistic: Callable[[list[T]], float], samples: int = 200,
                     seed: int = 0) -> float | None:
    """Standard deviation of `statistic` over `samples` resamples of `items` (None for < 2 items)."""
    if samples < 2:
        raise ValueError(f"bootstrap needs at least 2 resamples, got {samples}")
    if len(items) < 2:
        return None
    rng = random.Random(seed)
    values = [statistic([items[rng.randrange(len(items))] for _ in items]) for _ in range(samples)]
    mean = sum(values) / samples
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (samples - 1))
