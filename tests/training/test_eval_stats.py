"""Evaluation statistics against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from training.evaluate.stats import bootstrap_stderr, mean_stderr, proportion_stderr, win_rate


def test_mean_stderr_by_hand():
    # mean 2.5; deviations -1.5 -0.5 0.5 1.5 -> sum of squares 5; s^2 = 5/3; se = sqrt(5/3/4)
    result = mean_stderr([1.0, 2.0, 3.0, 4.0])
    assert result["mean"] == 2.5 and result["n"] == 4
    assert result["stderr"] == pytest.approx(math.sqrt(5 / 12))
    assert mean_stderr([7.0]) == {"mean": 7.0, "stderr": None, "n": 1}
    assert mean_stderr([]) == {"mean": None, "stderr": None, "n": 0}


def test_win_rate_counts_ties_half_by_hand():
    # outcomes: win, loss, tie, win -> 1, 0, 0.5, 1: mean 0.625
    # deviations .375 -.625 -.125 .375 -> squares .140625 .390625 .015625 .140625 = .6875; s^2 = .229166..
    result = win_rate([0.9, 0.1, 0.5, 2.0], [0.2, 0.3, 0.5, -1.0])
    assert result["win_rate"] == pytest.approx(0.625)
    assert result["stderr"] == pytest.approx(math.sqrt(0.6875 / 3 / 4))
    assert (result["wins"], result["ties"], result["losses"], result["n"]) == (2, 1, 1, 4)


def test_win_rate_tie_margin_and_symmetry():
    a, b = [1.0, 1.04, 3.0], [1.02, 1.0, 1.0]
    assert win_rate(a, b)["win_rate"] == pytest.approx(2 / 3)
    assert win_rate(a, b, tie_margin=0.05)["ties"] == 2  # |diff| 0.02 and 0.04 are ties
    assert win_rate(a, b)["win_rate"] + win_rate(b, a)["win_rate"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="paired"):
        win_rate([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="tie_margin"):
        win_rate([1.0], [1.0], tie_margin=-1)


def test_proportion_and_bootstrap():
    assert proportion_stderr(0.5, 100) == pytest.approx(0.05)
    assert proportion_stderr(None, 10) is None and proportion_stderr(0.5, 1) is None
    # the bootstrap stderr of a mean is close to s / sqrt(n)
    values = [float(v % 7) for v in range(200)]
    expected = mean_stderr(values)["stderr"]
    assert bootstrap_stderr(values, lambda s: sum(s) / len(s), samples=400) == pytest.approx(expected, rel=0.2)
    assert bootstrap_stderr([1.0], lambda s: s[0]) is None
    assert bootstrap_stderr([1.0, 1.0, 1.0], lambda s: sum(s)) == 0.0
