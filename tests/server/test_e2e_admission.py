"""Admission control on a real server (vLLM on the tiny model): 503 over the queue cap and 429
over a key's rate limit, each with Retry-After, in the OpenAI envelope, counted in /metrics,
while the admitted request runs to the end."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from loadtests.server_metrics import counters
from tests.conftest import start_server, stop_server

KEY_A, KEY_B = "key-a", "key-b"
RPM = 3
LONG = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 300, "temperature": 1.0, "seed": 3,
        "stop": ["unlikely-stop-string-xyz"]}
SHORT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}


@pytest.fixture(scope="module")
def server(tiny_model_path, tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("admission") / "server.log", "--max-queued-requests", "1",
                        "--rate-limit-rpm", str(RPM), "--api-key", KEY_A, KEY_B, api_key=None)
    yield live
    stop_server(live)


def post(server, key: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/chat/completions", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {key}"})


def rejected(server, reason: str) -> float:
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("icegrt_rejected_requests_total{") and f'reason="{reason}"' in line)


def assert_refusal(response: httpx.Response, status: int, error_type: str, code: str) -> None:
    assert response.status_code == status, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json() == {"error": {"message": response.json()["error"]["message"], "type": error_type,
                                         "param": None, "code": code}}


@pytest.mark.e2e
@pytest.mark.slow
def test_over_the_queue_cap_503_while_the_admitted_request_finishes(server):
    before = rejected(server, "queue_full")
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("r", post(server, KEY_A, LONG)))
    worker.start()
    deadline = time.monotonic() + 30
    while counters(httpx.get(f"{server.base_url}/metrics", timeout=10).text).get("icegrt_requests_in_flight", 0) < 1:
        assert time.monotonic() < deadline, "the long request never started"
        time.sleep(0.05)
    started = time.perf_counter()
    refused = post(server, KEY_B, SHORT)
    elapsed = time.perf_counter() - started
    assert_refusal(refused, 503, "service_unavailable", "server_overloaded")
    assert elapsed < 1.0  # refused at the door, not after queueing
    worker.join(120)
    assert result["r"].status_code == 200 and result["r"].json()["usage"]["completion_tokens"] == 300
    assert rejected(server, "queue_full") == before + 1


@pytest.mark.e2e
@pytest.mark.slow
def test_over_the_rate_limit_429_for_that_key_only(server):
    before = rejected(server, "rate_limit_requests")
    statuses = [post(server, KEY_B, SHORT).status_code for _ in range(RPM)]
    assert statuses == [200] * RPM  # a minute's allowance may come in a burst
    assert_refusal(post(server, KEY_B, SHORT), 429, "rate_limit_error", "rate_limit_exceeded")
    assert rejected(server, "rate_limit_requests") == before + 1
    other = post(server, KEY_A, SHORT)  # A has its own bucket (one request spent above)
    assert other.status_code == 200, other.text
