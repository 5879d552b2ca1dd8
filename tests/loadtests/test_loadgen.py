"""The load generator: SSE timing capture, load modes and the time cap (mock transport), scenarios,
and one end-to-end run against the session's real server."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from loadtests.loadgen import LoadPoint, check_loopback, measure, run_load, served_model
from loadtests.scenarios import MIX_PATTERN, build_requests
from loadtests.stats import CANCELLED

MODEL = "m"


def sse(*events: dict | str) -> bytes:
    return b"".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def chat_stream(words: list[str], usage: dict | None) -> bytes:
    events: list = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{"choices": [{"index": 0, "delta": {"content": w}}]} for w in words]
    if usage:
        events.append({"choices": [], "usage": usage})
    return sse(*events, "[DONE]")


def run(handler, specs, point=LoadPoint(concurrency=2), max_duration_s=30.0):
    async def go():
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await run_load(client, specs, point, max_duration_s)

    return asyncio.run(go())


def test_stream_timings_skip_the_role_chunk_and_take_tokens_from_usage():
    usage = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
    results, duration = run(lambda request: httpx.Response(200, content=chat_stream(["a", " b", " c"], usage)),
                            build_requests("streaming", 3, MODEL, 8))
    assert len(results) == 3 and duration > 0
    for r in results:
        assert r.status == "200" and r.ttft is not None and r.latency >= r.ttft
        assert len(r.itl) == 2  # three text chunks, two gaps
        assert (r.prompt_tokens, r.output_tokens) == (9, 5)


def test_stream_without_usage_counts_chunks_and_errors_are_classified():
    def handler(request: httpx.Request) -> httpx.Response:
        content = json.loads(request.content)["messages"][0]["content"]
        if content.startswith("Request 0."):
            return httpx.Response(200, content=chat_stream(["x", "y"], None))
        if content.startswith("Request 1."):
            return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "3"})
        if content.startswith("Request 2."):
            return httpx.Response(200, content=sse({"error": {"message": "engine died", "code": None}}))
        raise httpx.ConnectError("refused")

    results, _ = run(handler, build_requests("streaming", 4, MODEL, 8), LoadPoint(concurrency=1))
    assert [r.status for r in results] == ["200", "429", "stream_error", "ConnectError"]
    assert results[0].output_tokens == 2
    assert "slow down" in results[1].error
    assert results[1].retry_after == "3" and results[1].latency is not None  # a refusal's answer time


def test_non_streamed_requests_have_latency_and_usage_only():
    body = {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 4, "completion_tokens": 7}}
    results, _ = run(lambda request: httpx.Response(200, json=body), build_requests("short_chat", 2, MODEL, 8))
    assert all(r.ttft is None and r.latency is not None and r.output_tokens == 7 for r in results)


def test_time_cap_cancels_what_is_in_flight_and_sends_no_more():
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json={})

    results, _ = run(slow, build_requests("short_chat", 5, MODEL, 8), LoadPoint(concurrency=2), max_duration_s=0.2)
    assert [r.status for r in results] == [CANCELLED, CANCELLED]


def test_poisson_arrivals_send_every_request():
    results, _ = run(lambda request: httpx.Response(200, content=chat_stream(["a"], None)),
                     build_requests("streaming", 6, MODEL, 8), LoadPoint(rate=1000.0))
    assert len(results) == 6 and all(r.ok for r in results)


def test_load_points_and_loopback_only():
    assert LoadPoint(concurrency=4).label == "c=4"
    assert LoadPoint(rate=2.5).as_dict() == {"mode": "rate", "value": 2.5}
    for bad in ({}, {"concurrency": 1, "rate": 1.0}, {"concurrency": 0}, {"rate": 0.0}):
        with pytest.raises(ValueError):
            LoadPoint(**bad)
    assert check_loopback("http://localhost:8000/") == "http://localhost:8000"
    assert check_loopback("http://[::1]:8000") == "http://[::1]:8000"
    with pytest.raises(ValueError, match="loopback"):
        check_loopback("http://example.com:8000")


def test_scenarios_are_deterministic_and_distinct():
    first = build_requests("long_prompt", 4, MODEL, 32, long_prompt_words=100, seed=1)
    assert first == build_requests("long_prompt", 4, MODEL, 32, long_prompt_words=100, seed=1)
    prompts = [s.body["messages"][0]["content"] for s in first]
    assert len(set(prompts)) == 4 and all(len(p.split()) > 100 for p in prompts)
    assert all(s.stream and s.body["stream_options"] == {"include_usage": True} for s in first)
    mix = build_requests("mix", 12, MODEL, 32)
    assert [s.kind for s in mix] == list(MIX_PATTERN) * 2
    assert {s.path for s in mix} == {"/v1/chat/completions", "/v1/ads/compliance", "/v1/text-to-table"}
    assert not any(s.stream for s in build_requests("short_chat", 3, MODEL, 32))
    ads = build_requests("ads", 5, MODEL, 32)
    assert {s.path for s in ads} == {"/v1/ads/compliance"}
    assert len({s.body["ad"]["headline"] for s in ads}) == 5  # no two requests share the ad itself
    handwritten = build_requests("ads_handwritten", 3, MODEL, 32)
    from tasks.ad_compliance.data import load_handwritten

    assert [s.body["ad"] for s in handwritten] == [r.ad.model_dump(exclude_none=True) for r in load_handwritten()[:3]]
    assert all(s.body["suggest"] and "mode" not in s.body for s in handwritten)  # the endpoint's default mode
    with pytest.raises(ValueError, match="unknown scenario"):
        build_requests("nope", 1, MODEL, 8)


@pytest.mark.e2e
def test_load_generator_against_the_live_server(live_server):
    model = asyncio.run(served_model(live_server.base_url, live_server.api_key))
    reports = asyncio.run(measure(
        live_server.base_url, "mix", [LoadPoint(concurrency=2), LoadPoint(rate=5.0)], model=model, num_prompts=6,
        max_tokens=8, max_duration_s=240, api_key=live_server.api_key, long_prompt_words=60, progress=lambda _: None,
    ))
    assert [(r["mode"], r["value"]) for r in reports] == [("concurrency", 2), ("rate", 5.0)]
    for report in reports:
        s = report["summary"]
        assert s["errors_by_status"] == {} and s["completed"] == s["planned"] == 6
        assert s["output_throughput"] > 0 and s["request_throughput"] > 0
        for name in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
            assert set(s[name]) == {"mean", "p50", "p90", "p99"}, name
            assert 0 <= s[name]["p50"] <= s[name]["p90"] <= s[name]["p99"], name
