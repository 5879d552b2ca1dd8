"""Admission control: token-bucket math (injected clock), 429/503 envelopes, metering, metrics."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from inference.engine import GenerationParams
from server.errors import APIError
from server.app import ENDPOINT_FAMILIES
from server.limits import GeneratingRoutes, KeyedBuckets, Limiter, MeteredEngine, TokenBucket
from server.openai.protocol import CompletionRequest
from server.openai.serving import OpenAIServing
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
ROUTES = [route for router in ENDPOINT_FAMILIES for route in router.routes]
"""The server's routes: the limiter applies to those that declare they generate."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scope(key: str | None = "k1", path: str = CHAT, method: str = "POST", client: str = "10.0.0.1") -> dict:
    headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
    return {"type": "http", "method": method, "path": path, "headers": headers, "client": (client, 5000)}


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("icegrt_rejected_requests_total", {"reason": reason}) or 0.0


# ---- token bucket --------------------------------------------------------------------------


def test_bucket_refills_continuously_up_to_capacity():
    clock = Clock()
    bucket = TokenBucket(capacity=10, per_second=0.5, clock=clock)
    assert bucket.level == 10
    bucket.take(4)
    assert bucket.level == 6
    clock.now += 3  # +1.5
    assert bucket.level == 7.5
    clock.now += 100
    assert bucket.level == 10  # capped


def test_bucket_debt_and_wait():
    clock = Clock()
    bucket = TokenBucket(capacity=10, per_second=0.5, clock=clock)
    bucket.take(13)  # 10 - 13 = -3
    assert bucket.level == -3
    assert bucket.wait(1) == 8.0  # (1 - -3) / 0.5
    clock.now += 8
    assert bucket.wait(1) == 0.0
    bucket.take(-100)  # refunds never exceed capacity
    assert bucket.level == 10


def test_keyed_buckets_are_independent_and_bounded():
    clock = Clock()
    buckets = KeyedBuckets(per_minute=60, clock=clock, max_keys=2)
    buckets["a"].take(60)
    assert buckets["b"].level == 60
    assert buckets["a"].level == 0
    buckets["c"]  # evicts "b", the least recently used
    buckets["a"]
    assert buckets["a"].level == 0
    assert buckets["b"].level == 60


# ---- limiter ---------------------------------------------------------------------------------


def test_requests_per_minute_per_key():
    clock = Clock()
    limiter = Limiter(requests_per_minute=2, key_by_api_key=True, clock=clock, routes=ROUTES)
    before = rejected("rate_limit_requests")
    for _ in range(2):
        with limiter.admit(scope("k1")):
            pass
    with pytest.raises(APIError) as info:
        limiter.admit(scope("k1"))
    assert (info.value.status, info.value.retry_after, info.value.code) == (429, 30, "rate_limit_exceeded")
    assert rejected("rate_limit_requests") == before + 1
    with limiter.admit(scope("k2")):  # another key has its own bucket
        pass
    with limiter.admit(scope("k1", path="/v1/models", method="GET")):  # not a generating route
        pass
    clock.now += 30  # one request's worth refilled
    with limiter.admit(scope("k1")):
        pass


def test_without_api_keys_clients_are_keyed_by_ip():
    limiter = Limiter(requests_per_minute=1, clock=Clock(), routes=ROUTES)
    with limiter.admit(scope(None, client="10.0.0.1")):
        pass
    with pytest.raises(APIError):
        limiter.admit(scope("made-up-key", client="10.0.0.1"))  # a bearer token does not buy a new bucket
    with limiter.admit(scope(None, client="10.0.0.2")):
        pass


def test_queue_cap_holds_until_the_request_finishes():
    limiter = Limiter(max_in_flight=1, routes=ROUTES)
    before = rejected("queue_full")
    with limiter.admit(scope()):
        with pytest.raises(APIError) as info:
            limiter.admit(scope())
        assert (info.value.status, info.value.code) == (503, "server_overloaded")
        assert info.value.retry_after >= 1
    assert limiter.in_flight == 0
    with limiter.admit(scope()):
        assert limiter.in_flight == 1
    assert rejected("queue_full") == before + 1


def test_refused_requests_take_nothing_from_the_request_bucket():
    clock = Clock()
    limiter = Limiter(max_in_flight=1, requests_per_minute=2, key_by_api_key=True, clock=clock, routes=ROUTES)
    with limiter.admit(scope()):
        with pytest.raises(APIError):
            limiter.admit(scope())  # 503: queue full
    with limiter.admit(scope()):  # the second of two per minute
        pass


def test_generating_routes():
    generates = GeneratingRoutes(ROUTES)
    assert generates("POST", "/v1/chat/completions")
    assert generates("POST", "/v1/conversations/conv-1/messages")
    assert not generates("GET", "/v1/conversations/conv-1")
    assert not generates("POST", "/v1/feedback")
    assert not generates("POST", "/v1/conversations/a/b/messages")


# ---- token metering --------------------------------------------------------------------------


def test_tokens_charged_up_front_and_refunded_at_the_end():
    """Prompt 3 tokens, max_tokens 10, reply 3 tokens: 13 reserved, 6 kept."""
    clock = Clock()
    limiter = Limiter(tokens_per_minute=60, key_by_api_key=True, clock=clock, routes=ROUTES)
    engine = MeteredEngine(FakeEngine(reply="Hello there friend"))
    params = GenerationParams(max_tokens=10)

    async def run() -> list[float]:
        levels = []
        with limiter.admit(scope()):
            bucket = limiter._tokens["key:k1"]
            async for _ in engine.generate([1, 2, 3], params, "r1"):
                levels.append(bucket.level)
        levels.append(bucket.level)
        return levels

    levels = asyncio.run(run())
    assert levels[0] == 60 - 13
    assert levels[-1] == 60 - 6


def test_tokens_of_an_abandoned_generation_are_charged_as_far_as_it_got():
    limiter = Limiter(tokens_per_minute=60, key_by_api_key=True, clock=Clock(), routes=ROUTES)
    fake = FakeEngine(reply="one two three four five")
    engine = MeteredEngine(fake)

    async def run() -> float:
        with limiter.admit(scope()):
            stream = engine.generate([1, 2], GenerationParams(max_tokens=20), "r1")
            await anext(stream)
            await stream.aclose()
        return limiter._tokens["key:k1"].level

    assert asyncio.run(run()) == 60 - 3  # prompt 2 + one generated token
    assert fake.aborted == ["r1"]  # closing the meter closed the engine's stream


def test_a_list_of_prompts_is_charged_prompt_by_prompt():
    """Prompts of 2 and 1 tokens, max_tokens 2: 3 + 2 x 2 reserved, and used (each reply is 2 tokens)."""
    limiter = Limiter(tokens_per_minute=60, key_by_api_key=True, clock=Clock(), routes=ROUTES)
    fake = FakeEngine()
    serving = OpenAIServing(MeteredEngine(fake))

    async def run() -> float:
        with limiter.admit(scope(path="/v1/completions")):
            await serving.completion(CompletionRequest(prompt=["a bb", "c"], max_tokens=2), "cmpl-1")
        return limiter._tokens["key:k1"].level

    assert asyncio.run(run()) == 60 - 7
    assert len(fake.calls) == 2


def test_token_limit_refuses_while_in_debt():
    clock = Clock()
    limiter = Limiter(tokens_per_minute=60, key_by_api_key=True, clock=clock, routes=ROUTES)
    limiter._tokens["key:k1"].take(61)  # level -1
    with pytest.raises(APIError) as info:
        limiter.admit(scope())
    assert (info.value.status, info.value.retry_after) == (429, 2)  # (1 - -1) / 1 per second
    clock.now += 2
    with limiter.admit(scope()):
        pass


# ---- through the app (fake engine) -----------------------------------------------------------


def test_rate_limited_request_gets_429_envelope_and_no_engine_work():
    engine = FakeEngine()
    with make_client(engine, api_key=["k1", "k2"], rate_limit_rpm=2) as client:
        wait_ready(client)
        k1, k2 = ({"Authorization": f"Bearer {k}"} for k in ("k1", "k2"))
        assert [client.post(CHAT, json=HI, headers=k1).status_code for _ in range(2)] == [200, 200]
        r = client.post(CHAT, json=HI, headers=k1)
        assert r.status_code == 429
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["x-request-id"]
        assert len(engine.calls) == 2
        assert client.post(CHAT, json=HI, headers=k2).status_code == 200
        assert client.get("/v1/models", headers=k1).status_code == 200
        assert client.post(CHAT, json=HI).status_code == 401  # auth comes first, and costs no bucket


@pytest.mark.parametrize("stream", [False, True])
def test_token_limit_lets_the_admitted_request_finish_then_refuses(stream):
    engine = FakeEngine()
    with make_client(engine, rate_limit_tpm=3) as client:
        wait_ready(client)
        first = client.post(CHAT, json={**HI, "stream": stream})  # 1 prompt + 3 generated > 3: finishes, in debt
        assert first.status_code == 200
        assert "friend" in first.text
        r = client.post(CHAT, json=HI)
        assert r.status_code == 429
        assert "tokens per minute" in r.json()["error"]["message"]
        assert len(engine.calls) == 1


def test_queue_cap_answers_503_with_retry_after():
    engine = FakeEngine()
    with make_client(engine, max_queued_requests=1) as client:
        wait_ready(client)
        limiter = client.app.state.limiter
        before = rejected("queue_full")
        with limiter.admit(scope(None)):  # one request in flight
            r = client.post(CHAT, json=HI)
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "server_overloaded"
            assert int(r.headers["retry-after"]) >= 1
            assert client.get("/ready").status_code == 200  # operational routes are never refused
        assert engine.calls == []
        assert rejected("queue_full") == before + 1
        assert "icegrt_rejected_requests_total" in client.get("/metrics").text
        stream = client.post(CHAT, json={**HI, "stream": True})
        assert stream.status_code == 200 and stream.text.rstrip().endswith("data: [DONE]")
        assert limiter.in_flight == 0  # a finished stream gave its slot back
        assert client.post(CHAT, json=HI).status_code == 200
