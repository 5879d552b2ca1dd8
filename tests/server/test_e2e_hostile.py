"""Hostile clients against a real server (vLLM on the tiny model), one server for the module:
tenants cannot reach each other's data, no input produces a 500 or a traceback, keep-alive
connections survive client errors, a flood of idle and slow connections blocks neither /health
nor generation, and the engine processes die with a SIGKILLed server.

The server runs with an open-file limit of 1,024 (soft and hard), as in the report that found
1,100 idle connections making /health unreachable.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import signal
import socket
import time
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from tests.conftest import start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEYS = {"acme": "acme-key", "rival": "rival-key", "admin": "ops-key"}
KEY_FILE = "acme-key acme\nrival-key rival\nops-key ops admin\n"
CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
FILE_LIMIT = 1024
IDLE_CONNECTIONS = 1000


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


@pytest.fixture(scope="module")
def server(tiny_model_path, tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    (directory / "keys").write_text(KEY_FILE)
    live = start_server(directory / "server.log", "--api-key-file", str(directory / "keys"),
                        "--max-queued-requests", "4", "--client-header-timeout", "5", "--client-body-timeout", "5",
                        api_key=None, preexec_fn=_limit_files)
    yield live
    stop_server(live)


def h(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[tenant]}"}


def call(server, method: str, path: str, tenant: str = "acme", **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.base_url}{path}", headers=h(tenant), timeout=120, **kwargs)


def status_counts(server) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in httpx.get(f"{server.base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("icegrt_requests_total{"):
            status = line.split('status="')[1].split('"')[0]
            counts[status] = counts.get(status, 0) + float(line.rsplit(" ", 1)[1])
    return counts


def assert_clean_log(server) -> None:
    text = server.log_path.read_text()
    assert "Traceback" not in text, text[text.index("Traceback") - 2000:][:6000]
    assert "500" not in status_counts(server)


# ---- tenants ------------------------------------------------------------------------------------


def test_another_tenant_gets_404_on_every_conversation_and_feedback_route(server):
    conv = call(server, "POST", "/v1/conversations", json={"system": "acme secret"}).json()["id"]
    reply = call(server, "POST", f"/v1/conversations/{conv}/messages", json={"content": "hi", "max_tokens": 2})
    assert reply.status_code == 200, reply.text
    msg = reply.json()["id"]
    attempts = [
        ("GET", f"/v1/conversations/{conv}", {}),
        ("POST", f"/v1/conversations/{conv}/messages", {"json": {"content": "x", "max_tokens": 2}}),
        ("POST", f"/v1/conversations/{conv}/messages", {"json": {"content": "x", "max_tokens": 2, "stream": True}}),
        ("POST", "/v1/feedback", {"json": {"conversation_id": conv, "message_id": msg, "rating": -1}}),
        ("POST", "/v1/feedback", {"json": {"conversation_id": conv, "message_id": msg, "comment": "poison"}}),
        ("DELETE", f"/v1/conversations/{conv}", {}),
    ]
    for method, path, kwargs in attempts:
        foreign = call(server, method, path, "rival", **kwargs)
        assert foreign.status_code == 404, (method, path, foreign.text)
        assert "acme secret" not in foreign.text and foreign.headers["x-request-id"]
    own = call(server, "GET", f"/v1/conversations/{conv}").json()
    assert [m["role"] for m in own["messages"]] == ["system", "user", "assistant"]
    assert call(server, "GET", f"/v1/conversations/{conv}", "admin").status_code == 200


# ---- no 500s, no tracebacks, keep-alive survives --------------------------------------------------


def _keep_alive_pair(server, first: tuple[str, str, bytes]) -> tuple[http.client.HTTPResponse, int]:
    """Send `first`, then a good request on the same connection; returns the first response and the second's status."""
    parts = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    headers = {**h("acme"), "Content-Type": "application/json"}
    method, path, body = first
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.body = response.read()
    sock = connection.sock
    assert sock is not None and response.getheader("connection") != "close", "the server closed the connection"
    connection.request("GET", "/v1/models", headers=headers)
    second = connection.getresponse()
    second.read()
    assert connection.sock is sock, "the second request needed a new connection"
    connection.close()
    return response, second.status


MALFORMED = [
    ("completions: a token id outside the vocabulary", "/v1/completions", {"prompt": [999999999], "max_tokens": 2}),
    ("completions: the same, streamed", "/v1/completions", {"prompt": [999999999], "max_tokens": 2, "stream": True}),
    ("completions: an empty prompt", "/v1/completions", {"prompt": "", "max_tokens": 2}),
    ("completions: an empty token list", "/v1/completions", {"prompt": [], "max_tokens": 2}),
    ("completions: a negative token id", "/v1/completions", {"prompt": [-1], "max_tokens": 2}),
    ("chat: a recursive schema", CHAT, {**HI, "response_format": {"type": "json_schema", "json_schema": {
        "name": "r", "schema": {"$ref": "#"}}}}),
    ("chat: a schema the grammar rejects", CHAT, {**HI, "response_format": {"type": "json_schema", "json_schema": {
        "name": "bad", "schema": {"type": "string", "pattern": "(unclosed"}}}}),
    ("chat: a schema of an unknown type", CHAT, {**HI, "response_format": {"type": "json_schema", "json_schema": {
        "name": "bad", "schema": {"type": "strnig"}}}}),
    ("chat: a lone surrogate", CHAT, {"messages": [{"role": "user", "content": "\ud800"}], "max_tokens": 2}),
    ("chat: a huge max_tokens", CHAT, {**HI, "max_tokens": 10**12}),
    ("chat: a huge n", CHAT, {**HI, "n": 10**9}),
    ("chat: a huge seed", CHAT, {**HI, "seed": 2**80}),
    ("chat: nested content", CHAT, {"messages": [{"role": "user", "content": [[["x"]]]}]}),
    ("chat: a stop list of empty strings", CHAT, {**HI, "stop": [""]}),
    ("chat: huge logprobs", CHAT, {**HI, "logprobs": True, "top_logprobs": 10**6}),
    ("conversation: a NUL in an id", "/v1/conversations/conv-%00x/messages", {"content": "hi"}),
    ("feedback: a NUL everywhere", "/v1/feedback", {"completion_id": "c\x00", "comment": "a\x00b", "rating": 1}),
    ("ads: an empty ad", "/v1/ads/compliance", {"ad": {}}),
    ("text-to-table: a NUL", "/v1/text-to-table", {"text": "\x00", "columns": ["a\x00"]}),
]


@pytest.mark.parametrize(("case", "path", "body"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_no_input_is_a_500_and_the_connection_survives(server, case, path, body):
    response, second = _keep_alive_pair(server, ("POST", path, json.dumps(body).encode()))
    assert response.status < 500, (case, response.status, response.body[:500])
    assert response.getheader("x-request-id")
    if response.status >= 400:
        error = json.loads(response.body)["error"]
        assert set(error) == {"message", "type", "param", "code"}
    assert second == 200


def test_the_reported_reproductions_are_400(server):
    for body in ({"prompt": [999999999], "max_tokens": 2}, {"prompt": "", "max_tokens": 2}):
        assert call(server, "POST", "/v1/completions", json=body).status_code == 400
    recursive = {**HI, "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"$ref": "#"}}}}
    r = call(server, "POST", CHAT, json=recursive)
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format", r.text


def test_garbage_bytes_and_bad_framing_are_4xx(server):
    for raw in (b"\xff\xfe{", b'{"messages": [', b"[]", b"null", b'{"messages": "x"}' * 1000):
        response, second = _keep_alive_pair(server, ("POST", CHAT, raw))
        assert 400 <= response.status < 500 and second == 200


def test_nul_characters_are_stored_not_refused(server):
    conv = call(server, "POST", "/v1/conversations", json={"system": "sys\x00tem", "metadata": {"k": "v\x00"}})
    assert conv.status_code == 200, conv.text
    conv_id = conv.json()["id"]
    reply = call(server, "POST", f"/v1/conversations/{conv_id}/messages", json={"content": "a\x00b", "max_tokens": 2})
    assert reply.status_code == 200, reply.text
    stored = call(server, "GET", f"/v1/conversations/{conv_id}").json()
    assert [m["content"] for m in stored["messages"][:2]] == ["sys\ufffdtem", "a\ufffdb"]
    fb = call(server, "POST", "/v1/feedback", json={"conversation_id": conv_id, "message_id": reply.json()["id"],
                                                     "rating": 1, "comment": "\x00"})
    assert fb.status_code == 200, fb.text


def test_duplicate_authorization_and_version(server):
    r = httpx.get(f"{server.base_url}/v1/models", timeout=10,
                  headers=[("Authorization", "Bearer acme-key"), ("Authorization", "Bearer rival-key")])
    assert r.status_code == 400
    version = call(server, "GET", "/version").json()
    assert "/" not in json.dumps(version).replace("\\/", "")  # no file paths


def test_the_log_holds_no_traceback_and_metrics_no_500(server):
    assert_clean_log(server)


# ---- idle and slow connections ---------------------------------------------------------------------


def _open(server, count: int, first: bytes = b"") -> list[socket.socket]:
    parts = urlsplit(server.base_url)
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        if first:
            sock.sendall(first)
        sockets.append(sock)
    return sockets


def test_a_flood_of_idle_and_slow_connections_blocks_neither_health_nor_generation(server):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # this client needs the descriptors
    auth = f"Authorization: Bearer {KEYS['rival']}\r\n".encode()
    slow_body = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 1000\r\n\r\n{"
    sockets = []
    try:
        sockets += _open(server, 8, slow_body)  # twice --max-queued-requests, all waiting for their bodies
        sockets += _open(server, 50, b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        sockets += _open(server, IDLE_CONNECTIONS)
        started = time.monotonic()
        health = httpx.get(f"{server.base_url}/health", timeout=10)
        assert health.status_code == 200
        reply = call(server, "POST", CHAT, json=HI)
        assert reply.status_code == 200, reply.text
        assert time.monotonic() - started < 60
    finally:
        for sock in sockets:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200
    assert_clean_log(server)


# ---- last: kill the server -----------------------------------------------------------------------


def test_engine_processes_exit_when_the_server_is_killed(server):
    children = psutil.Process(server.process.pid).children(recursive=True)
    assert children, "the engine runs in child processes"
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    try:
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"still running 15 s after the server died: {[p.pid for p in alive]}"
    finally:
        for child in children:
            if child.is_running():
                child.kill()
