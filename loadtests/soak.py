"""Soak: a running server under normal, malformed, slow and disconnecting clients for a long time.

    icegrt serve --model SmolLM2-135M-Instruct --api-key soak-key &
    .venv/bin/python -m loadtests.soak --base-url http://127.0.0.1:8000 --api-key soak-key \\
        --server-pid $! --duration 1800 --out loadtests/results/soak/soak.json

Four kinds of client run side by side until ``--duration`` ends:

- **normal**: the ``streaming`` scenario's chat requests as Poisson arrivals at ``--rate`` per second,
  by default 80% of the capacity measured first (``--calibrate-s`` seconds of closed-loop streaming at
  ``--calibrate-concurrency``);
- **malformed**: bodies the server must refuse with a 4xx (bad JSON, bad fields, token ids outside the
  vocabulary, grammars it cannot compile, NUL characters), ``--malformed-rate`` per second;
- **slow**: ``--slow-clients`` connections that send their headers or body a byte every 2 s, each
  replaced when the server closes it (its header and body deadlines);
- **disconnecting**: streamed requests dropped after the first chunk, ``--disconnect-rate`` per second.

Every ``--window-s`` seconds the report gets a window: the normal requests completed in it and their
p99 end-to-end and first-token latencies, every status seen by kind, the server's memory (resident
set of the API process and its children) and the API process's open file descriptors (both need
``--server-pid``; this machine only). The verdict: no 5xx other than a documented 503, every
malformed request a 4xx, memory and descriptors flat, p99 stable (the last quarter against the
second, the first being warm-up). Loopback servers only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit

import httpx

from loadtests.loadgen import LoadPoint, _client, run_load, send, served_model
from loadtests.scenarios import CHAT_PATH, build_requests
from loadtests.stats import OK, RequestResult, percentile

MALFORMED: list[tuple[str, bytes]] = [
    ("/v1/chat/completions", b"{not json"),
    ("/v1/chat/completions", b'{"messages": []}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "robot", "content": "x"}]}'),
    ("/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2,
                                         "response_format": {"type": "json_schema", "json_schema": {
                                             "name": "r", "schema": {"$ref": "#"}}}}).encode()),
    ("/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "\ud800"}]}).encode()),
    ("/v1/completions", b'{"prompt": [999999999], "max_tokens": 2}'),
    ("/v1/completions", b'{"prompt": "", "max_tokens": 2}'),
    ("/v1/feedback", json.dumps({"conversation_id": "conv-\x00", "message_id": "m", "rating": 1}).encode()),
    ("/v1/conversations", json.dumps({"system": "a\x00b", "unknown": 1}).encode()),
]
SLOW_BYTE_INTERVAL_S = 2.0
DOCUMENTED_5XX = frozenset({"503"})


@dataclass
class Window:
    """What happened in one `--window-s` slice of the run."""

    end_s: float
    statuses: dict[str, Counter] = field(default_factory=lambda: {k: Counter() for k in
                                                                   ("normal", "malformed", "slow", "disconnect")})
    normal: list[RequestResult] = field(default_factory=list)
    rss_mb: float | None = None
    fds: int | None = None

    def as_dict(self) -> dict:
        done = [r for r in self.normal if r.ok]
        e2e = [r.latency * 1000 for r in done if r.latency is not None]
        ttft = [r.ttft * 1000 for r in done if r.ttft is not None]
        return {"end_s": round(self.end_s, 1), "normal_completed": len(done),
                "p99_e2e_ms": round(percentile(e2e, 99), 1) if e2e else None,
                "p99_ttft_ms": round(percentile(ttft, 99), 1) if ttft else None,
                "statuses": {kind: dict(c) for kind, c in self.statuses.items()},
                "rss_mb": self.rss_mb, "fds": self.fds}


class Run:
    """The windows, with the current one open for every client task to record into."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.windows = [Window(0.0)]
        self.stop = asyncio.Event()

    @property
    def current(self) -> Window:
        return self.windows[-1]

    def record(self, kind: str, status: str) -> None:
        self.current.statuses[kind][status] += 1


def _server_resources(pid: int | None) -> tuple[float | None, int | None]:
    if pid is None:
        return None, None
    import psutil

    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in family if p.is_running())
        return round(rss / 2**20, 1), process.num_fds()
    except psutil.Error:
        return None, None


async def _sampler(run: Run, window_s: float, pid: int | None) -> None:
    while not run.stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), window_s)
        run.current.end_s = time.monotonic() - run.started
        run.current.rss_mb, run.current.fds = _server_resources(pid)
        print(json.dumps(run.current.as_dict()), flush=True)
        if not run.stop.is_set():
            run.windows.append(Window(0.0))


async def _arrivals(run: Run, rate: float, seed: int, one) -> None:
    """Call `one(i)` as Poisson arrivals at `rate` per second until the run stops."""
    rng, tasks, i = random.Random(seed), set(), 0
    while not run.stop.is_set():
        task = asyncio.create_task(one(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), rng.expovariate(rate))
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _normal(run: Run, client: httpx.AsyncClient, model: str, rate: float, max_tokens: int) -> None:
    specs = build_requests("streaming", 1000, model, max_tokens)

    async def one(i: int) -> None:
        result = RequestResult("chat")
        await send(client, specs[i % len(specs)], result)
        run.current.normal.append(result)
        run.record("normal", result.status)

    await _arrivals(run, rate, 1, one)


async def _malformed(run: Run, client: httpx.AsyncClient, rate: float) -> None:
    async def one(i: int) -> None:
        path, body = MALFORMED[i % len(MALFORMED)]
        try:
            response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
            run.record("malformed", str(response.status_code))
        except httpx.HTTPError as exc:
            run.record("malformed", type(exc).__name__)

    await _arrivals(run, rate, 2, one)


async def _disconnecting(run: Run, client: httpx.AsyncClient, model: str, rate: float) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "Tell a long story."}], "max_tokens": 256,
            "stream": True}

    async def one(_: int) -> None:
        try:
            async with client.stream("POST", CHAT_PATH, json=body) as response:
                async for _chunk in response.aiter_bytes():
                    break  # leave after the first chunk
            run.record("disconnect", str(response.status_code))
        except httpx.HTTPError as exc:
            run.record("disconnect", type(exc).__name__)

    await _arrivals(run, rate, 3, one)


async def _slow_client(run: Run, host: str, port: int, api_key: str | None, in_body: bool) -> None:
    """One connection trickling a byte every 2 s; records how it ended, then the caller opens another."""
    auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
    head = f"POST {CHAT_PATH} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
    head += "Content-Length: 100000\r\n\r\n" if in_body else ""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode() if in_body else head.encode()[:20])
        while not run.stop.is_set():
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(1024), SLOW_BYTE_INTERVAL_S)
                status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
                run.record("slow", status)
                return
            writer.write(b"x" if in_body else b"X")
    except OSError as exc:
        run.record("slow", type(exc).__name__)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _slow(run: Run, base_url: str, api_key: str | None, count: int) -> None:
    parts = urlsplit(base_url)

    async def keep_one(in_body: bool) -> None:
        while not run.stop.is_set():
            await _slow_client(run, parts.hostname, parts.port, api_key, in_body)

    await asyncio.gather(*(keep_one(i % 2 == 1) for i in range(count)))


async def calibrate(client: httpx.AsyncClient, model: str, max_tokens: int, concurrency: int, seconds: float) -> float:
    """Streaming requests completed per second at `concurrency` for `seconds` (closed loop)."""
    specs = build_requests("streaming", 10_000, model, max_tokens)
    results, duration = await run_load(client, specs, LoadPoint(concurrency=concurrency), seconds)
    return sum(r.ok for r in results) / duration


def verdict(windows: list[dict]) -> dict:
    """No undocumented 5xx, malformed always 4xx, memory and fds flat, p99 stable (last quarter vs second)."""
    def count(kind: str, accept) -> int:
        return sum(n for w in windows for status, n in w["statuses"][kind].items() if accept(status))

    server_errors = sum(count(kind, lambda s: s.startswith("5") and s not in DOCUMENTED_5XX)
                        for kind in ("normal", "malformed", "slow", "disconnect"))
    quarter = max(1, len(windows) // 4)
    base, last = windows[quarter:2 * quarter] or windows[:1], windows[-quarter:]

    def med(rows: list[dict], key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return median(values) if values else None

    checks = {
        "no_server_errors": server_errors == 0,
        "malformed_all_4xx": count("malformed", lambda s: not s.startswith("4")) == 0,
    }
    for key, allowed in (("rss_mb", lambda b, x: x <= b * 1.10 + 64), ("fds", lambda b, x: x <= b + 32),
                         ("p99_e2e_ms", lambda b, x: x <= b * 1.5)):
        b, x = med(base, key), med(last, key)
        checks[f"{key}_flat"] = None if b is None or x is None else allowed(b, x)
    return {"server_errors": server_errors, "checks": checks,
            "passed": all(v is not False for v in checks.values())}


async def soak(args: argparse.Namespace) -> dict:
    async with _client(args.base_url, args.api_key, 300) as client:
        model = await served_model(args.base_url, args.api_key)
        rate = args.rate
        capacity = None
        if rate is None:
            capacity = await calibrate(client, model, args.max_tokens, args.calibrate_concurrency, args.calibrate_s)
            rate = max(0.05, 0.8 * capacity)
        print(f"soak: {args.duration:g} s, normal {rate:.2f}/s (capacity {capacity}), malformed "
              f"{args.malformed_rate}/s, {args.slow_clients} slow, disconnect {args.disconnect_rate}/s", flush=True)
        run = Run()
        tasks = [asyncio.create_task(t) for t in (
            _sampler(run, args.window_s, args.server_pid),
            _normal(run, client, model, rate, args.max_tokens),
            _malformed(run, client, args.malformed_rate),
            _disconnecting(run, client, model, args.disconnect_rate),
            _slow(run, args.base_url, args.api_key, args.slow_clients),
        )]
        await asyncio.sleep(args.duration)
        run.stop.set()
        await asyncio.gather(*tasks)
    windows = [w.as_dict() for w in run.windows]
    return {"command": sys.argv, "settings": {k: v for k, v in vars(args).items() if k != "api_key"},
            "capacity_rps": capacity, "rate_rps": rate, "windows": windows, "verdict": verdict(windows)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--server-pid", type=int, default=None, help="API process id, for memory and descriptors")
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds (default: 30 minutes)")
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=None, help="normal requests/s (default: 80%% of calibrated)")
    parser.add_argument("--calibrate-s", type=float, default=60.0)
    parser.add_argument("--calibrate-concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--malformed-rate", type=float, default=1.0)
    parser.add_argument("--disconnect-rate", type=float, default=0.5)
    parser.add_argument("--slow-clients", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps(report["verdict"]))
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
