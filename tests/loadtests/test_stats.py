"""Load-test statistics against hand-worked numbers (and numpy for percentiles)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.stats import CANCELLED, RequestResult, distribution, percentile, summarize, tpot


def test_percentile_interpolates_between_closest_ranks():
    values = [4.0, 1.0, 3.0, 2.0]  # sorted: 1 2 3 4, ranks 0..3
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5  # rank 1.5
    assert percentile(values, 90) == pytest.approx(3.7)  # rank 2.7
    assert percentile(values, 99) == pytest.approx(3.97)  # rank 2.97
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_matches_numpy(values, p):
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)), rel=1e-9, abs=1e-6)


def test_tpot_excludes_the_first_token():
    assert tpot(latency=1.0, ttft=0.2, output_tokens=5) == pytest.approx(0.2)  # 0.8 s over 4 tokens
    assert tpot(latency=1.0, ttft=0.2, output_tokens=1) is None
    assert tpot(latency=1.0, ttft=0.2, output_tokens=0) is None


def test_distribution_in_milliseconds():
    assert distribution([0.1, 0.2, 0.3, 0.4]) == {"mean": 250.0, "p50": 250.0, "p90": 370.0, "p99": 397.0}
    assert distribution([]) is None


def test_summarize_hand_worked_run():
    results = [
        # streamed: ttft 0.1, 3 gaps of 0.1 -> e2e 0.4, 4 tokens -> tpot 0.1
        RequestResult("chat", "200", latency=0.4, ttft=0.1, itl=[0.1, 0.1, 0.1], prompt_tokens=10, output_tokens=4),
        # streamed: ttft 0.3, 1 gap of 0.5 -> e2e 0.8, 2 tokens -> tpot 0.5
        RequestResult("chat", "200", latency=0.8, ttft=0.3, itl=[0.5], prompt_tokens=12, output_tokens=2),
        # not streamed: e2e only
        RequestResult("ads", "200", latency=1.2, prompt_tokens=50, output_tokens=14),
        RequestResult("chat", "429", latency=0.01, error="rate limited", retry_after="2"),
        RequestResult("chat", "503", latency=0.03, error="full"),
        RequestResult("chat", CANCELLED),
    ]
    s = summarize(results, duration_s=2.0, planned=7)
    assert (s["planned"], s["sent"], s["not_sent"], s["completed"], s["failed"]) == (7, 6, 1, 3, 3)
    assert s["errors_by_status"] == {"429": 1, "503": 1, CANCELLED: 1}
    assert s["refusal_ms"] == {"mean": 20.0, "p50": 20.0, "p90": 28.0, "p99": 29.8}
    assert s["refused_with_retry_after"] == 1
    assert s["request_throughput"] == 1.5  # 3 completed / 2 s
    assert s["output_throughput"] == 10.0  # (4 + 2 + 14) / 2 s
    assert (s["total_prompt_tokens"], s["total_output_tokens"], s["mean_output_tokens"]) == (72, 20, 6.67)
    assert s["ttft_ms"] == {"mean": 200.0, "p50": 200.0, "p90": 280.0, "p99": 298.0}
    assert s["tpot_ms"] == {"mean": 300.0, "p50": 300.0, "p90": 460.0, "p99": 496.0}
    assert s["itl_ms"]["mean"] == 200.0 and s["itl_ms"]["p50"] == 100.0  # gaps 0.1 0.1 0.1 0.5
    assert s["e2e_ms"]["mean"] == 800.0 and s["e2e_ms"]["p50"] == 800.0  # 0.4 0.8 1.2


def test_summarize_with_nothing_completed():
    s = summarize([RequestResult("chat", "503")], duration_s=1.0, planned=1)
    assert s["completed"] == 0 and s["ttft_ms"] is None and s["e2e_ms"] is None and s["mean_output_tokens"] == 0
