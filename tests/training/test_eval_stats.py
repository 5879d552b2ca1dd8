"""Evaluation statistics against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from training.evaluate.stats import (_percentile, bootstrap_stderr, clustered_mean_stderr, mean_stderr, paired_bootstrap, paired_difference,
                                     proportion_stderr, significant, win_rate)


def test_mean_stderr_by_hand():
    # mean 2.5; deviations -1.5 -0.5 0.5 1.5 -> sum of squares 5; s^2 = 5/3; se = sqrt(5/3/4)
    result = mean_stderr([1.0, 2.0, 3.0, 4.0])
    assert result["mean"] == 2.5 and result["n"] == 4
    assert result["stderr"] == pytest.approx(math.sqrt(5 / 12))
    assert mean_stderr([7.0]) == {"mean": 7.0, "stderr": None, "n": 1}
    assert mean_stderr([]) == {"mean": None, "stderr": None, "n": 0}


def test_clustered_mean_stderr_by_hand():
    values, clusters = [1, 0, 1, 1, 0, 1], ["a", "a", "b", "b", "c", "c"]
    # mean 2/3; cluster sums of deviations -1/3, 2/3, -1/3; 3/2 * (1/9 + 4/9 + 1/9) = 1; sqrt(1) / 6
    result = clustered_mean_stderr(values, clusters)
    assert result["mean"] == pytest.approx(2 / 3) and result["stderr"] == pytest.approx(1 / 6)
    assert (result["n"], result["clusters"]) == (6, 3)
    # one item per cluster: the plain standard error of the mean
    assert clustered_mean_stderr(values, list("uvwxyz"))["stderr"] == pytest.approx(mean_stderr(values)["stderr"])
    assert clustered_mean_stderr(values, ["a"] * 6)["stderr"] is None
    assert clustered_mean_stderr([], [])["mean"] is None
    with pytest.raises(ValueError, match="6 values for 5"):
        clustered_mean_stderr(values, clusters[:5])


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


A = [0.8, 0.6, 0.9, 0.7]
B = [0.7, 0.6, 0.6, 0.5]


def test_paired_difference_by_hand():
    # d = 0.1, 0, 0.3, 0.2: mean 0.15; deviations -.05 -.15 .15 .05 -> squares sum .05; s^2 = .05/3;
    # paired se = sqrt(.05/3/4) = 0.06455; 0.15 > 2 * 0.06455 = 0.1291 -> significant
    result = paired_difference(A, B)
    assert result["diff"] == pytest.approx(0.15)
    assert result["stderr"] == pytest.approx(math.sqrt(0.05 / 12))
    assert result["n"] == 4 and result["significant"] is True and result["method"] == "paired"
    assert result["ci_low"] <= 0.15 <= result["ci_high"]
    # unpaired, the same data is not significant: se_a = sqrt(.05/12), se_b = sqrt(.02/12) (b: mean .6,
    # deviations .1 0 0 -.1), quadrature sqrt(.07/12) = 0.0764 and 2 * 0.0764 = 0.153 > 0.15
    quadrature = math.sqrt(mean_stderr(A)["stderr"] ** 2 + mean_stderr(B)["stderr"] ** 2)
    assert quadrature == pytest.approx(math.sqrt(0.07 / 12))
    assert significant(0.15, quadrature) is False


def test_paired_difference_edge_cases():
    constant = paired_difference([1.0, 0.5, 0.0], [0.9, 0.4, -0.1])  # d = 0.1 everywhere
    assert constant["diff"] == pytest.approx(0.1) and constant["stderr"] == pytest.approx(0.0, abs=1e-12)
    assert constant["ci_low"] == pytest.approx(0.1) and constant["ci_high"] == pytest.approx(0.1)
    assert paired_difference([1.0], [0.0])["stderr"] is None
    assert paired_difference([1.0], [0.0])["significant"] is None
    assert paired_difference([], [])["diff"] is None
    with pytest.raises(ValueError, match="aligned"):
        paired_difference([1.0], [1.0, 2.0])
    assert significant(0.1, None) is None and significant(-0.3, 0.1) is True and significant(0.2, 0.1) is False


def test_percentile_matches_linear_interpolation_by_hand():
    assert _percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert _percentile([1.0, 2.0, 3.0, 4.0], 0.25) == 1.75  # position 0.75 between 1 and 2
    assert _percentile([1.0, 2.0, 3.0, 4.0], 1.0) == 4.0


def test_paired_bootstrap_of_the_mean_matches_the_plug_in_stderr():
    # bootstrap se of a mean -> plug-in sd / sqrt(n): sqrt(.05/4) / 2 = 0.0559 for d above
    result = paired_bootstrap(A, B, lambda xs: sum(xs) / len(xs), samples=4000, seed=1)
    assert result["diff"] == pytest.approx(0.15)
    assert result["stderr"] == pytest.approx(math.sqrt(0.05 / 4) / 2, rel=0.05)
    assert result["ci_low"] < 0.15 < result["ci_high"] and result["method"] == "paired_bootstrap"


def test_paired_bootstrap_resamples_both_sides_with_the_same_indices():
    # a ratio statistic (sum of hits / sum of tries): a's items equal b's with one extra hit in every
    # item, so every resample's difference is exactly (n + hits) / tries - hits / tries = n / tries = 1/2
    a = [(1, 2), (2, 2), (1, 2)]
    b = [(0, 2), (1, 2), (0, 2)]

    def ratio(items: list) -> float:
        return sum(h for h, _ in items) / sum(t for _, t in items)

    result = paired_bootstrap(a, b, ratio, samples=200)
    assert result["diff"] == pytest.approx(0.5) and result["stderr"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="aligned"):
        paired_bootstrap(a, b[:2], ratio)
