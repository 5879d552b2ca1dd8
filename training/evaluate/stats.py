"""Uncertainty of evaluation figures: mean with standard error, pairwise win rate, bootstrap.

Every figure a report compares comes with a standard error, so a difference can be read against
its noise: a mean's is ``s / sqrt(n)`` (sample standard deviation); a win rate is the mean of
per-item outcomes (1 win, 0.5 tie, 0 loss) with the same formula; a micro-averaged F1, which is
not a mean of per-item values, gets the standard deviation of its bootstrap distribution
(examples resampled with replacement, seeded).

Two checkpoints scored on the same examples are compared per example, not by adding their
standard errors in quadrature: :func:`paired_difference` takes the per-example differences
``d_i = a_i - b_i`` of a mean metric (standard error ``sd(d) / sqrt(n)``, much smaller than the
quadrature sum when the two checkpoints agree on most examples); :func:`paired_bootstrap` resamples
example indices once for both checkpoints, for figures that are not means (micro F1, a pass rate
over flagged ads). A difference is :func:`significant` beyond ``SIGNIFICANCE`` paired standard errors.
Items that come in correlated groups (a reward model's held-out pairs, several from one prompt) get
:func:`clustered_mean_stderr`, which counts each group once rather than each item.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
SIGNIFICANCE = 2.0
"""A difference is called significant when |difference| > SIGNIFICANCE x its (paired) standard error."""


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


def clustered_mean_stderr(values: Sequence[float], clusters: Sequence[str]) -> dict[str, Any]:
    """``{"mean", "stderr", "n", "clusters"}`` for items that come in correlated groups (the pairs of
    one prompt): the cluster-robust standard error ``sqrt(G / (G - 1) * sum_g (sum_{i in g} (v_i -
    mean))^2) / n`` over G clusters, which is ``s / sqrt(n)``'s counterpart when items are not
    independent. stderr is None for fewer than two clusters.

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(values) != len(clusters):
        raise ValueError(f"{len(values)} values for {len(clusters)} cluster labels")
    n, groups = len(values), len(set(clusters))
    if n == 0:
        return {"mean": None, "stderr": None, "n": 0, "clusters": 0}
    mean = sum(values) / n
    if groups < 2:
        return {"mean": mean, "stderr": None, "n": n, "clusters": groups}
    sums: dict[str, float] = {}
    for value, cluster in zip(values, clusters):
        sums[cluster] = sums.get(cluster, 0.0) + value - mean
    variance = groups / (groups - 1) * sum(total ** 2 for total in sums.values())
    return {"mean": mean, "stderr": math.sqrt(variance) / n, "n": n, "clusters": groups}


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


def significant(diff: float, stderr: float | None) -> bool | None:
    """|diff| > SIGNIFICANCE * stderr; None when there is no standard error to judge by."""
    return None if stderr is None else abs(diff) > SIGNIFICANCE * stderr


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of already sorted values, q in [0, 1]."""
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def paired_bootstrap(a: Sequence[T], b: Sequence[T], statistic: Callable[[list[T]], float], samples: int = 1000,
                     seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """``statistic(a) - statistic(b)`` with a paired bootstrap: each resample draws example indices
    with replacement and applies the same indices to both checkpoints' items.

    Args:
        a, b: per-example items of the two checkpoints, aligned (a[i] and b[i] are example i).
        statistic: the figure computed from a list of items (a mean, a micro F1, ...).
        samples: bootstrap resamples (>= 2); seed: their RNG seed; confidence: of the percentile CI.

    Returns:
        ``{"diff", "stderr", "ci_low", "ci_high", "n", "significant", "method": "paired_bootstrap"}``:
        diff on the full sets, stderr the standard deviation of the resampled differences, the CI
        their percentiles; stderr and CI None for fewer than two examples.

    Raises:
        ValueError: the two lists differ in length, samples < 2 or confidence outside (0, 1).
    """
    if len(a) != len(b):
        raise ValueError(f"a paired bootstrap needs aligned examples: {len(a)} against {len(b)}")
    if samples < 2:
        raise ValueError(f"bootstrap needs at least 2 resamples, got {samples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(a)
    diff = statistic(list(a)) - statistic(list(b)) if n else None
    result = {"diff": diff, "stderr": None, "ci_low": None, "ci_high": None, "n": n, "significant": None,
              "method": "paired_bootstrap"}
    if n < 2:
        return result
    rng = random.Random(seed)
    diffs = []
    for _ in range(samples):
        index = [rng.randrange(n) for _ in range(n)]
        diffs.append(statistic([a[i] for i in index]) - statistic([b[i] for i in index]))
    mean = sum(diffs) / samples
    stderr = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (samples - 1))
    diffs.sort()
    tail = (1 - confidence) / 2
    return {**result, "stderr": stderr, "ci_low": _percentile(diffs, tail), "ci_high": _percentile(diffs, 1 - tail),
            "significant": significant(diff, stderr)}


def paired_difference(a: Sequence[float], b: Sequence[float], bootstrap_samples: int = 1000,
                      seed: int = 0) -> dict[str, Any]:
    """Mean of the per-example differences ``d_i = a_i - b_i`` with its paired standard error
    ``sd(d) / sqrt(n)`` (sample sd, n - 1), a paired bootstrap 95% percentile CI of the mean difference
    (`bootstrap_samples` resamples of the differences, numpy-seeded by `seed`), and the significance
    call ``|mean d| > 2 * stderr``.

    Returns ``{"diff", "stderr", "ci_low", "ci_high", "n", "significant", "method": "paired"}``;
    stderr, CI and significance are None for fewer than two examples, diff None for none.

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"a paired difference needs aligned examples: {len(a)} against {len(b)}")
    summary = mean_stderr([x - y for x, y in zip(a, b, strict=True)])
    result = {"diff": summary["mean"], "stderr": summary["stderr"], "ci_low": None, "ci_high": None,
              "n": summary["n"], "significant": None, "method": "paired"}
    if summary["stderr"] is None:
        return result
    import numpy as np

    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    index = np.random.default_rng(seed).integers(0, len(diffs), size=(bootstrap_samples, len(diffs)))
    low, high = np.percentile(diffs[index].mean(axis=1), [2.5, 97.5])  # linear interpolation, as _percentile
    return {**result, "ci_low": float(low), "ci_high": float(high),
            "significant": significant(summary["mean"], summary["stderr"])}
