"""The connection guard on a real uvicorn server (a trivial app): idle and slow connections are
closed by the header deadline or evicted by the cap, while a new well-behaved client gets in."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.connections import ConnectionGuard, guarded_protocol
from tests.conftest import free_port

CAP = 8


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=[HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
def served(request):
    guard = ConnectionGuard(CAP, header_timeout_s=1.0)
    port = free_port()
    config = uvicorn.Config(app, port=port, http=guarded_protocol(request.param, guard), log_level="warning",
                            lifespan="off", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", port, guard
    server.should_exit = True
    thread.join(10)


def _connect(port: int, first_bytes: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        return sock.recv(1024) == b""
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


def test_a_connection_that_sends_no_headers_in_time_is_closed(served):
    _, port, guard = served
    silent, slowloris = _connect(port), _connect(port, b"GET /health HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    assert _closed_by_server(silent, 3) and _closed_by_server(slowloris, 3)
    assert 0.8 < time.monotonic() - started < 3
    assert guard.timed_out >= 2


def test_keep_alive_connections_get_a_new_deadline_after_each_response(served):
    base, port, guard = served
    with httpx.Client(base_url=base) as client:
        for _ in range(3):
            assert client.get("/health").text == "ok"
            time.sleep(0.6)  # under the deadline each time, over it in total
        assert client.get("/health").status_code == 200
    sock = _connect(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"\r\n\r\nok"):  # the whole response, however it is split
        answer += sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 200")
    assert _closed_by_server(sock, 3)  # idle after its response: closed at the deadline, not kept forever


def test_over_the_cap_the_longest_waiting_connection_makes_room(served):
    base, port, guard = served
    idle = [_connect(port) for _ in range(CAP)]
    slow_body = _connect(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    time.sleep(0.2)
    assert len(guard) <= CAP
    assert httpx.get(f"{base}/health", timeout=2).text == "ok"  # a new client still gets in
    assert _closed_by_server(idle[0], 1) and _closed_by_server(idle[1], 1)  # oldest first
    assert guard.evicted >= 2
    for sock in [*idle, slow_body]:
        sock.close()


def test_a_flood_of_idle_connections_never_blocks_health(served):
    base, port, guard = served
    flood = []
    for _ in range(20):
        flood += [_connect(port) for _ in range(10)]
        assert httpx.get(f"{base}/health", timeout=2).status_code == 200
        assert len(guard) <= CAP
    for sock in flood:
        sock.close()


LIMITS = """
import resource
from server.connections import FD_RESERVE, effective_max_connections
resource.setrlimit(resource.RLIMIT_NOFILE, (200, 256))  # a soft limit that can be raised
assert effective_max_connections(4096) == 256 - FD_RESERVE
assert resource.getrlimit(resource.RLIMIT_NOFILE) == (256, 256)
assert effective_max_connections(10) == 10  # now a hard limit that cannot
print("ok")
"""


def test_the_cap_stays_below_the_open_file_limit():
    # In a child: a lowered hard limit cannot be raised again, not even by root in a container.
    done = subprocess.run([sys.executable, "-c", LIMITS], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.stdout.strip() == "ok", done.stderr


def test_guard_bookkeeping_without_sockets():
    class Transport:
        closed = False

        def is_closing(self):
            return self.closed

        def close(self):
            self.closed = True

    class Protocol:
        def __init__(self):
            self.cycle, self.transport, self.loop = None, Transport(), asyncio.new_event_loop()

    guard = ConnectionGuard(1, header_timeout_s=60)
    busy, waiting = Protocol(), Protocol()
    guard.opened(busy)
    busy.cycle = type("Cycle", (), {"response_complete": False, "more_body": False, "response_started": True})()
    guard.progressed(busy)
    guard.opened(waiting)  # over the cap, and the only other connection is busy: the new one goes
    assert waiting.transport.closed and not busy.transport.closed
    for protocol in (busy, waiting):
        guard.closed(protocol)
        protocol.loop.close()
    assert len(guard) == 0


# ---- the body deadline and admission after the body (RequestMiddleware, driven over ASGI) ----------


def _middleware(**kwargs):
    from server.limits import Limiter
    from server.middleware import RequestMiddleware

    served = []

    async def inner(scope, receive, send):
        message = await receive()
        served.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    middleware = RequestMiddleware(inner, api_keys=[], max_body_bytes=4096, metrics_require_auth=False,
                                   limiter=Limiter(max_in_flight=1), **kwargs)
    return middleware, served


def _scope() -> dict:
    return {"type": "http", "method": "POST", "path": "/v1/completions", "headers": [], "client": ("1.2.3.4", 1)}


async def _call(middleware, parts: list[bytes], stall: bool) -> list[dict]:
    sent, queue = [], list(parts)

    async def receive():
        if queue:
            body = queue.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(queue) or stall}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await middleware(_scope(), receive, send)
    return sent


def test_a_body_that_stalls_gets_408_and_holds_no_admission_slot():
    middleware, served = _middleware(body_timeout_s=0.3)

    async def scenario():
        slow = asyncio.ensure_future(_call(middleware, [b'{"pro'], stall=True))
        await asyncio.sleep(0.05)
        fast = await _call(middleware, [b'{"prompt": "a"}'], stall=False)  # the cap is 1 and the slow one waits
        return await slow, fast

    slow, fast = asyncio.run(scenario())
    assert fast[0]["status"] == 200 and served == [b'{"prompt": "a"}']
    assert slow[0]["status"] == 408 and b"did not arrive within 0.3 s" in slow[1]["body"]
    assert dict(slow[0]["headers"])[b"x-request-id"]


def test_a_body_in_several_parts_reaches_the_app_whole():
    middleware, served = _middleware()
    sent = asyncio.run(_call(middleware, [b'{"prompt"', b': "a"}'], stall=False))
    assert sent[0]["status"] == 200 and served == [b'{"prompt": "a"}']
