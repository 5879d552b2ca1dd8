"""Admission control on a real server (vLLM on the tiny model): 503 over the queue cap and 429
over a key's rate limit, each with Retry-After, in the OpenAI envelope, counted in /metrics,
while the admitted request runs to the end."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from loadtests.server_metrics import counters
from tests.conftest import start_server, stop_server

KEY_A, KEY_B = "key-a", "key-b"
RPM = 3
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
    """The admitted request holds its place while its body is still uploading (admission comes
    before the body is read), so it is in flight for as long as the test needs without keeping the
    engine busy: with the tiny model a generating request also starved the API process's event loop
    until it ended, so a second request arrived only after the first had left."""
    before = rejected(server, "queue_full")
    body = json.dumps({"model": "tiny", **SHORT}).encode()
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as held:
        held.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY_A}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                     .encode() + body[:10])
        deadline = time.monotonic() + 30
        # the gauge counts the /metrics request reading it too: 2 means the held request is in
        while counters(httpx.get(f"{server.base_url}/metrics", timeout=10).text).get("icegrt_requests_in_flight", 0) < 2:
            assert time.monotonic() < deadline, "the held request was never admitted"
            time.sleep(0.05)
        started = time.perf_counter()
        refused = post(server, KEY_B, SHORT)
        elapsed = time.perf_counter() - started
        held.sendall(body[10:])
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
    assert_refusal(refused, 503, "service_unavailable", "server_overloaded")
    assert elapsed < 1.0  # refused at the door, not after queueing
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]  # the admitted request ran to its end
    assert b'"completion_tokens":1' in answer
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
