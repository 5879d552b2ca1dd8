"""Prefix-cache hit rate from two /metrics scrapes (hand-written Prometheus text)."""

from __future__ import annotations

from loadtests.server_metrics import counters, prefix_cache

BEFORE = """\
# HELP vllm:prefix_cache_queries Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1000.0
# HELP vllm:prefix_cache_hits Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits counter
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 400.0
# TYPE icegrt_rejected_requests counter
icegrt_rejected_requests_total{reason="queue_full"} 2.0
icegrt_rejected_requests_total{reason="rate_limit_requests"} 3.0
icegrt_rejected_requests_created{reason="queue_full"} 1.7e9
"""


def test_counters_sum_labels_and_drop_total_suffix_and_created():
    c = counters(BEFORE)
    assert c["vllm:prefix_cache_queries"] == 1000.0
    assert c["icegrt_rejected_requests"] == 5.0  # summed over reasons, _created not added


def test_prefix_cache_delta_and_hit_rate():
    after = BEFORE.replace("1000.0", "3000.0").replace("400.0", "2200.0")
    assert prefix_cache(counters(BEFORE), counters(after)) == {"queries": 2000, "hits": 1800, "hit_rate": 0.9}
    assert prefix_cache(counters(BEFORE), counters(BEFORE))["hit_rate"] is None  # nothing queried
    assert prefix_cache(None, counters(after)) is None  # a server without /metrics
    assert prefix_cache({}, {"other": 1.0}) is None


def test_bucket_count_by_labels():
    from loadtests.server_metrics import bucket_count

    text = """\
# TYPE icegrt_request_duration_seconds histogram
icegrt_request_duration_seconds_bucket{le="0.05",route="unrouted"} 7.0
icegrt_request_duration_seconds_bucket{le="+Inf",route="unrouted"} 9.0
icegrt_request_duration_seconds_bucket{le="0.05",route="/v1/chat/completions"} 1.0
icegrt_request_duration_seconds_count{route="unrouted"} 9.0
icegrt_request_duration_seconds_sum{route="unrouted"} 0.4
"""
    assert bucket_count(text, "icegrt_request_duration_seconds", "0.05", route="unrouted") == 7.0
    assert bucket_count(text, "icegrt_request_duration_seconds", "+Inf", route="unrouted") == 9.0
    assert bucket_count(text, "icegrt_request_duration_seconds", "0.05") == 8.0
