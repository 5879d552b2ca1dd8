"""Load generator: a scenario at fixed concurrency levels or a Poisson request rate.

    .venv/bin/python -m loadtests.loadgen --base-url http://127.0.0.1:8000 --scenario streaming \\
        --concurrency 1 4 16 64 --num-prompts 64 --max-tokens 64 --out report.json

Each load point sends at most ``--num-prompts`` requests and stops by itself after
``--max-duration`` seconds (requests still running then are cancelled and counted under
``cancelled_at_time_cap``). Fixed concurrency keeps N requests in flight; a request rate
sends with exponential gaps (Poisson arrivals), as ``vllm bench serve --request-rate``
does. Statistics follow ``vllm bench serve`` (see `loadtests.stats`). Only loopback
servers are accepted: this tool is for measuring, not for loading other people's hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from loadtests.scenarios import SCENARIOS, RequestSpec, build_requests
from loadtests.server_metrics import prefix_cache, scrape
from loadtests.stats import CANCELLED, OK, RequestResult, summarize

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_CONCURRENCY = (1, 4, 16, 64)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadPoint:
    """Either a fixed number of requests in flight or a mean arrival rate (requests/s)."""

    concurrency: int | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        if (self.concurrency is None) == (self.rate is None):
            raise ValueError("a load point has either a concurrency or a request rate")
        if (self.concurrency is not None and self.concurrency < 1) or (self.rate is not None and self.rate <= 0):
            raise ValueError(f"concurrency must be >= 1 and rate > 0: {self}")

    @property
    def label(self) -> str:
        return f"c={self.concurrency}" if self.concurrency is not None else f"rate={self.rate:g}/s"

    def as_dict(self) -> dict:
        return {"mode": "concurrency" if self.concurrency is not None else "rate",
                "value": self.concurrency if self.concurrency is not None else self.rate}


def check_loopback(base_url: str) -> str:
    host = urlsplit(base_url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"only loopback servers may be load-tested ({', '.join(sorted(LOOPBACK_HOSTS))}); "
                         f"got {base_url!r}")
    return base_url.rstrip("/")


def _usage(result: RequestResult, usage: dict | None) -> None:
    if usage:
        result.prompt_tokens = usage.get("prompt_tokens") or 0
        result.output_tokens = usage.get("completion_tokens") or 0


async def _stream(client: httpx.AsyncClient, spec: RequestSpec, result: RequestResult) -> None:
    sent = time.perf_counter()
    async with client.stream("POST", spec.path, json=spec.body) as response:
        if response.status_code != 200:
            await response.aread()
            _refused(result, response, sent)
            return
        last, chunks = None, 0
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            now = time.perf_counter()
            event = json.loads(data)
            if "error" in event:  # a failure after the 200 was sent
                result.status, result.error = "stream_error", json.dumps(event["error"])[:300]
                return
            _usage(result, event.get("usage"))
            choices = event.get("choices") or []
            if not choices:
                continue
            text = choices[0].get("delta", {}).get("content") or choices[0].get("text") or ""
            if result.ttft is None:
                if not text:
                    continue  # the role announcement carries no token
                result.ttft = now - sent
            else:
                result.itl.append(now - last)
            last, chunks = now, chunks + 1
        result.latency = (last or time.perf_counter()) - sent
        result.output_tokens = result.output_tokens or chunks
        result.status = OK


async def _post(client: httpx.AsyncClient, spec: RequestSpec, result: RequestResult) -> None:
    sent = time.perf_counter()
    response = await client.post(spec.path, json=spec.body)
    if response.status_code != 200:
        _refused(result, response, sent)
        return
    result.latency = time.perf_counter() - sent
    result.status = str(response.status_code)
    _usage(result, response.json().get("usage"))


def _refused(result: RequestResult, response: httpx.Response, sent: float) -> None:
    """A non-200 answer: its status, how long it took, its body and its Retry-After."""
    result.latency = time.perf_counter() - sent
    result.status, result.error = str(response.status_code), response.text[:1000]
    result.retry_after = response.headers.get("retry-after")


async def send(client: httpx.AsyncClient, spec: RequestSpec, result: RequestResult) -> None:
    """Send one request, filling `result`; failures become its status, never exceptions."""
    try:
        await (_stream if spec.stream else _post)(client, spec, result)
    except httpx.TimeoutException:
        result.status = "timeout"
    except httpx.HTTPError as exc:
        result.status, result.error = type(exc).__name__, str(exc)[:300]
    except ValueError as exc:  # a body that is not the JSON it should be
        result.status, result.error = "bad_response", str(exc)[:300]


async def run_load(
    client: httpx.AsyncClient, specs: Sequence[RequestSpec], point: LoadPoint, max_duration_s: float, seed: int = 0,
    results: list[RequestResult] | None = None,
) -> tuple[list[RequestResult], float]:
    """Send `specs` at `point`; returns the results of those sent and the run's wall time.

    `results`, when given, is filled as requests are sent (to watch a run from outside).
    """
    results = [] if results is None else results
    pending = iter(specs)

    async def one(spec: RequestSpec) -> None:
        result = RequestResult(spec.kind)
        results.append(result)
        try:
            await send(client, spec, result)
        except asyncio.CancelledError:
            result.status = CANCELLED
            raise

    async def worker() -> None:
        for spec in pending:
            await one(spec)

    started = time.perf_counter()
    try:
        async with asyncio.timeout(max_duration_s), asyncio.TaskGroup() as group:
            if point.concurrency is not None:
                for _ in range(min(point.concurrency, len(specs))):
                    group.create_task(worker())
            else:
                rng = random.Random(seed)
                for i, spec in enumerate(specs):
                    if i:
                        await asyncio.sleep(rng.expovariate(point.rate))
                    group.create_task(one(spec))
    except TimeoutError:
        pass  # the time cap: in-flight requests were cancelled and are counted as such
    return results, time.perf_counter() - started


def _client(base_url: str, api_key: str | None, timeout_s: float) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(base_url=check_loopback(base_url), headers=headers, timeout=httpx.Timeout(timeout_s),
                             limits=httpx.Limits(max_connections=None, max_keepalive_connections=None))


async def served_model(base_url: str, api_key: str | None = None) -> str:
    async with _client(base_url, api_key, 30) as client:
        response = await client.get("/v1/models")
        response.raise_for_status()
        return response.json()["data"][0]["id"]


async def measure(
    base_url: str,
    scenario: str,
    points: Sequence[LoadPoint],
    *,
    model: str,
    num_prompts: int,
    max_tokens: int,
    max_duration_s: float,
    api_key: str | None = None,
    long_prompt_words: int = 900,
    seed: int = 0,
    progress: Progress = print,
) -> list[dict]:
    """One warm-up request, then every load point of `scenario`; one report per point."""
    specs = build_requests(scenario, num_prompts, model, max_tokens, long_prompt_words=long_prompt_words, seed=seed)
    reports = []
    async with _client(base_url, api_key, max_duration_s + 30) as client:
        warm = RequestResult(specs[0].kind)
        await send(client, specs[0], warm)
        if not warm.ok:
            raise RuntimeError(f"warm-up request to {base_url}{specs[0].path} failed: {warm.status} {warm.error}")
        for point in points:
            before = await scrape(client)
            results, duration = await run_load(client, specs, point, max_duration_s, seed)
            summary = summarize(results, duration, len(specs))
            summary["prefix_cache"] = prefix_cache(before, await scrape(client))
            reports.append({"scenario": scenario, **point.as_dict(), "label": point.label, "summary": summary})
            progress(f"  {scenario:<11} {point.label:<12} {describe(summary)}")
    return reports


def describe(summary: dict) -> str:
    """One progress line: completions, throughput, medians."""
    def p50(name: str) -> str:
        dist = summary[name]
        return f"{dist['p50']:.0f}" if dist else "-"

    errors = "".join(f" {k}x{v}" for k, v in summary["errors_by_status"].items())
    cache = summary.get("prefix_cache") or {}
    return (f"{summary['completed']}/{summary['planned']} ok in {summary['duration_s']:.1f}s  "
            f"{summary['output_throughput']:.1f} tok/s  {summary['request_throughput']:.2f} req/s  "
            f"p50 ttft {p50('ttft_ms')} ms  tpot {p50('tpot_ms')} ms  e2e {p50('e2e_ms')} ms"
            + (f"  prefix cache hits {cache['hit_rate']:.0%}" if cache.get("hit_rate") is not None else "")
            + (f"  errors:{errors}" if errors else ""))


def points_from_args(concurrency: Sequence[int] | None, rates: Sequence[float] | None) -> list[LoadPoint]:
    return [LoadPoint(concurrency=c) for c in concurrency or ()] + [LoadPoint(rate=r) for r in rates or ()]


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The load options `loadgen` and `compare` share."""
    parser.add_argument("--concurrency", type=int, nargs="*", default=list(DEFAULT_CONCURRENCY),
                        help="Fixed numbers of requests in flight, one run each (default: 1 4 16 64)")
    parser.add_argument("--request-rate", type=float, nargs="*", default=[],
                        help="Mean request rates (requests/s, Poisson arrivals), one run each")
    parser.add_argument("--num-prompts", type=int, default=64, help="Most requests per run")
    parser.add_argument("--max-tokens", type=int, default=64, help="max_tokens of every chat request")
    parser.add_argument("--max-duration", type=float, default=300,
                        help="Seconds after which a run stops by itself (in-flight requests are cancelled)")
    parser.add_argument("--long-prompt-words", type=int, default=900,
                        help="Words in each long_prompt document (about 1.3 tokens per word)")
    parser.add_argument("--seed", type=int, default=0, help="Seed of prompts and arrival times")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.loadgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Server to load (loopback only)")
    parser.add_argument("--api-key", default=None, help="Bearer key, when the server wants one")
    parser.add_argument("--model", default=None, help="Model id to send; default: the first of /v1/models")
    parser.add_argument("--scenario", choices=SCENARIOS, default="streaming")
    parser.add_argument("--out", type=Path, default=None, help="Write the reports here as JSON")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    try:
        base_url = check_loopback(args.base_url)
        points = points_from_args(args.concurrency, args.request_rate)
    except ValueError as exc:
        parser.error(str(exc))
    model = args.model or asyncio.run(served_model(base_url, args.api_key))
    print(f"loading {base_url} ({model}) with {args.scenario}", flush=True)
    reports = asyncio.run(measure(
        base_url, args.scenario, points, model=model, num_prompts=args.num_prompts, max_tokens=args.max_tokens,
        max_duration_s=args.max_duration, api_key=args.api_key, long_prompt_words=args.long_prompt_words,
        seed=args.seed, progress=lambda line: print(line, flush=True),
    ))
    if args.out:
        args.out.write_text(json.dumps({"base_url": base_url, "model": model, "runs": reports}, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
