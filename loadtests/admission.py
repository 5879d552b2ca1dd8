"""Admission control under load: overload beyond the queue cap, and a noisy neighbour.

    .venv/bin/python -m loadtests.admission --name cpu-admission            # both benchmarks
    .venv/bin/python -m loadtests.admission --benchmarks overload --capacity 4

**Overload.** ``icegrt serve`` runs with ``--max-num-seqs C --max-queued-requests C`` (its
capacity: C requests in flight). First C clients keep it full (closed loop): the at-capacity
E2E p99 and request rate X. Then requests arrive at 4 X per second (Poisson): about a
quarter are admitted, the rest must get 503 with ``Retry-After`` in the OpenAI envelope,
fast. Reported: admitted p99 / at-capacity p99 (target <= 1.5), refusal latency
p50/p99/max (target <= 50 ms), statuses (nothing but 200 and 503), refusals without
``Retry-After`` or envelope, and the growth of ``icegrt_rejected_requests_total``.

**Noisy neighbour.** The server has keys A and B and ``--rate-limit-rpm R``. Client B sends
chat requests at a steady Poisson rate: alone, then beside A sending one-token chats at its
limit (R per minute, all admitted), then beside A flooding at many times R per minute. A's
flood starts first and B starts once A has had its first 429 and A's admitted burst has left
the engine, so that B sees A over its limit throughout. A's admitted share is the same in the
last two runs, so B's p99 flooding / at the limit (target <= 1.10) is what the requests over
the limit cost B; B's p99 against B alone is reported too (it includes A's admitted share).

Both write ``results/<name>/admission.json`` and ``admission.md``. Statistics are those of
`loadtests.stats`; refusal latency runs from sending to the whole answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import httpx

from loadtests.compare import RESULTS_DIR, Target, free_port, results_header, running
from loadtests.loadgen import LoadPoint, _client, run_load
from loadtests.scenarios import RequestSpec, build_requests
from loadtests.server_metrics import bucket_count, counters
from loadtests.stats import REFUSALS, RequestResult, summarize

BENCHMARKS = ("overload", "neighbour")
OVERLOAD_FACTOR = 4
KEY_A, KEY_B = "client-a-key", "client-b-key"


def check_refusals(results: Sequence[RequestResult]) -> dict:
    """Which refusals break the contract: no Retry-After, or a body that is not the OpenAI envelope."""
    refused = [r for r in results if r.status in REFUSALS]
    bad_envelope = 0
    for r in refused:
        try:
            error = json.loads(r.error)["error"]
            ok = isinstance(error["message"], str) and isinstance(error["type"], str) and "code" in error
        except (ValueError, KeyError, TypeError):
            ok = False
        bad_envelope += not ok
    return {
        "refused": len(refused),
        "without_retry_after": sum(r.retry_after is None or not r.retry_after.isdigit() for r in refused),
        "bad_envelope": bad_envelope,
        "other_errors": dict(Counter(r.status for r in results if not r.ok and r.status not in REFUSALS)),
    }


def refusal_counts(base_url: str) -> dict[str, float]:
    """Refusals counted by the server, and how many it answered within 50 ms by its own clock.

    Refused requests are recorded under route ``unrouted`` in
    ``icegrt_request_duration_seconds`` (middleware start to last byte): its 0.05 s bucket
    against the client's figure separates time inside the server from queueing outside it
    (CPU, connection accept, the load generator itself).
    """
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    return {"rejected": counters(text).get("icegrt_rejected_requests", 0.0),
            "unrouted": bucket_count(text, "icegrt_request_duration_seconds", "+Inf", route="unrouted"),
            "unrouted_within_50ms": bucket_count(text, "icegrt_request_duration_seconds", "0.05", route="unrouted")}


def chats(count: int, model: str, max_tokens: int, seed: int) -> list[RequestSpec]:
    return build_requests("short_chat", count, model, max_tokens, seed=seed)


async def _load(base_url: str, key: str | None, specs: Sequence[RequestSpec], point: LoadPoint, cap_s: float,
                seed: int = 0) -> tuple[list[RequestResult], float]:
    async with _client(base_url, key, cap_s + 30) as client:
        return await run_load(client, specs, point, cap_s, seed)


def p99(summary: dict) -> float | None:
    return summary["e2e_ms"]["p99"] if summary["e2e_ms"] else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


async def overload(base_url: str, model: str, args: argparse.Namespace) -> dict:
    capacity = args.capacity
    warm = chats(capacity, model, args.max_tokens, seed=99)
    await _load(base_url, None, warm, LoadPoint(concurrency=capacity), args.max_duration)
    specs = chats(args.num_prompts, model, args.max_tokens, args.seed)
    results, duration = await _load(base_url, None, specs, LoadPoint(concurrency=capacity), args.max_duration)
    at_capacity = summarize(results, duration, len(specs))
    rate = OVERLOAD_FACTOR * at_capacity["request_throughput"]
    print(f"[admission] at capacity {capacity}: p99 {p99(at_capacity)} ms, {at_capacity['request_throughput']} "
          f"req/s; offering {rate:.2f} req/s", flush=True)
    before = refusal_counts(base_url)
    over_specs = chats(OVERLOAD_FACTOR * args.num_prompts, model, args.max_tokens, args.seed + 1)
    over_results, over_duration = await _load(base_url, None, over_specs, LoadPoint(rate=rate), args.max_duration,
                                              args.seed)
    after = refusal_counts(base_url)
    counted = after["rejected"] - before["rejected"]
    server_side = {k: int(after[k] - before[k]) for k in ("unrouted", "unrouted_within_50ms")}
    overloaded = summarize(over_results, over_duration, len(over_specs))
    checks = check_refusals(over_results)
    report = {
        "capacity": capacity, "offered_rate": round(rate, 3), "at_capacity": at_capacity, "overloaded": overloaded,
        "checks": checks, "rejected_counted_in_metrics": int(counted), "server_side_refusals": server_side,
        "admitted_p99_ratio": ratio(p99(overloaded), p99(at_capacity)),
        "refusal_max_ms": max((round(r.latency * 1000, 1) for r in over_results
                               if r.status in REFUSALS and r.latency is not None), default=None),
    }
    print(f"[admission] overload: admitted {overloaded['completed']}, refused {checks['refused']}, p99 ratio "
          f"{report['admitted_p99_ratio']}, refusal ms {overloaded['refusal_ms']}, other {checks['other_errors']}",
          flush=True)
    return report


async def _watch_for_429(results: list[RequestResult], refused: asyncio.Event) -> None:
    while not any(r.status == "429" for r in results):
        await asyncio.sleep(0.05)
    refused.set()


async def _engine_idle(base_url: str, timeout_s: float) -> None:
    """Wait until vLLM has no request running or waiting."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        async with asyncio.timeout(timeout_s):
            while True:
                c = counters((await client.get("/metrics")).text)
                if c.get("vllm:num_requests_running", 0) + c.get("vllm:num_requests_waiting", 0) == 0:
                    return
                await asyncio.sleep(0.1)


async def _b_beside_a(base_url: str, model: str, args: argparse.Namespace, b_specs: Sequence[RequestSpec],
                      a_rate: float, flood: bool) -> dict:
    """B's run while A sends one-token chats at `a_rate`. Flooding, B starts once A has had its
    first 429 (its bucket of a minute's allowance is spent) and A's admitted burst has left the
    engine, so that B sees A over its limit throughout; at its limit, B starts after 5 s."""
    a_specs = chats(int(a_rate * args.max_duration * 2) + 10, model, 1, args.seed + 7)
    a_results: list[RequestResult] = []
    async with _client(base_url, KEY_A, args.max_duration * 2 + 30) as a_client:
        a_task = asyncio.create_task(run_load(a_client, a_specs, LoadPoint(rate=a_rate), args.max_duration * 2,
                                              args.seed, results=a_results))
        if flood:
            await asyncio.wait_for(_watch_for_429(a_results, asyncio.Event()), args.max_duration)
            await _engine_idle(base_url, args.max_duration)
        else:
            await asyncio.sleep(5)
        a_before = len(a_results)
        counts_before = refusal_counts(base_url)
        results, duration = await _load(base_url, KEY_B, b_specs, LoadPoint(rate=args.b_rate), args.max_duration,
                                        args.seed)
        a_during = a_results[a_before:]
        counts_after = refusal_counts(base_url)
        a_task.cancel()
        await asyncio.gather(a_task, return_exceptions=True)
    return {"b": summarize(results, duration, len(b_specs)), "b_checks": check_refusals(results),
            "a_rate": a_rate, "a_sent_before_b": a_before, "a_during_b": dict(Counter(r.status for r in a_during)),
            "a_refusal_ms_during_b": summarize(a_during, duration, len(a_during))["refusal_ms"],
            "a_checks": check_refusals(a_during),
            "server_side_refusals": {k: int(counts_after[k] - counts_before[k])
                                     for k in ("unrouted", "unrouted_within_50ms")}}


async def neighbour(base_url: str, model: str, args: argparse.Namespace) -> dict:
    """B alone, B beside A at its rate limit, B beside A flooding. A's admitted share is the same
    in the last two (its limit), so their p99 ratio is what A's requests over the limit cost B."""
    b_specs = chats(args.num_prompts, model, args.max_tokens, args.seed)
    await _load(base_url, KEY_B, chats(2, model, args.max_tokens, seed=99), LoadPoint(concurrency=1), 60)
    results, duration = await _load(base_url, KEY_B, b_specs, LoadPoint(rate=args.b_rate), args.max_duration,
                                    args.seed)
    alone = summarize(results, duration, len(b_specs))
    print(f"[admission] B alone: p99 {p99(alone)} ms", flush=True)
    at_limit = await _b_beside_a(base_url, model, args, b_specs, args.rate_limit_rpm / 60, flood=False)
    print(f"[admission] B with A at its limit: p99 {p99(at_limit['b'])} ms; A during B: {at_limit['a_during_b']}",
          flush=True)
    flooding = await _b_beside_a(base_url, model, args, b_specs, args.a_rate, flood=True)
    report = {
        "rate_limit_rpm": args.rate_limit_rpm, "b_rate": args.b_rate, "a_rate": args.a_rate,
        "b_alone": alone, "a_at_limit": at_limit, "a_flooding": flooding,
        "b_p99_ratio": ratio(p99(flooding["b"]), p99(at_limit["b"])),
        "b_p99_ratio_to_alone": ratio(p99(flooding["b"]), p99(alone)),
    }
    print(f"[admission] B with A flooding: p99 {p99(flooding['b'])} ms, ratio to A at its limit "
          f"{report['b_p99_ratio']}; A during B: {flooding['a_during_b']}", flush=True)
    return report


def server(model_dir: Path, served: str, args: argparse.Namespace, data_dir: Path, *extra: str) -> Target:
    command = [sys.executable, "-m", "cli.main", "serve", "--model", str(model_dir), "--port", str(free_port()),
               "--served-model-name", served, "--dtype", "float32", "--max-model-len", str(args.max_model_len),
               "--kv-cache-space", str(args.kv_cache_space), "--data-dir", str(data_dir), "--log-level", "warning",
               *(["--enforce-eager"] if args.enforce_eager else []), *extra]
    if args.server_cpus:
        command = ["taskset", "-c", args.server_cpus, *command]
    return Target("icegrt", command, "/ready", {})


def _fmt(dist: dict | None, key: str) -> str:
    return f"{dist[key]:.0f}" if dist else "-"


def render(results: dict) -> str:
    """The Markdown summary of `results` (admission.json)."""
    lines = [f"# Admission control under load: {results['name']}", "",
             f"Command: `{results['command']}`", "",
             f"Machine: {results['machine']['cpu_model']}, {results['machine']['nproc']} CPU(s) usable, load average "
             f"at start {results['machine']['loadavg_start']}. {results.get('note', '')}", ""]
    if over := results.get("overload"):
        at, ov, ch = over["at_capacity"], over["overloaded"], over["checks"]
        lines += [
            f"## Overload: capacity {over['capacity']} in flight, offered {over['offered_rate']} req/s "
            f"({OVERLOAD_FACTOR}x the at-capacity rate)", "",
            "| run | sent | 200 | refused | E2E p50 ms | E2E p99 ms | refusal p50 ms | refusal p99 ms "
            "| refusal max ms |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| at capacity | {at['sent']} | {at['completed']} | {at['failed']} | {_fmt(at['e2e_ms'], 'p50')} | "
            f"{_fmt(at['e2e_ms'], 'p99')} | - | - | - |",
            f"| {OVERLOAD_FACTOR}x capacity | {ov['sent']} | {ov['completed']} | {ch['refused']} | "
            f"{_fmt(ov['e2e_ms'], 'p50')} | {_fmt(ov['e2e_ms'], 'p99')} | {_fmt(ov['refusal_ms'], 'p50')} | "
            f"{_fmt(ov['refusal_ms'], 'p99')} | {over.get('refusal_max_ms', '-')} |", "",
            f"- admitted p99 / at-capacity p99: **{over['admitted_p99_ratio']}** (target <= 1.5)",
            f"- statuses at {OVERLOAD_FACTOR}x: {ov['errors_by_status'] or 'none refused'} besides 200; other errors: "
            f"{ch['other_errors'] or 'none'}",
            f"- refusals without Retry-After: {ch['without_retry_after']}; not in the OpenAI envelope: "
            f"{ch['bad_envelope']}; counted in icegrt_rejected_requests_total: {over['rejected_counted_in_metrics']}",
            *([f"- by the server's own clock (icegrt_request_duration_seconds, route unrouted): "
               f"{over['server_side_refusals']['unrouted_within_50ms']} of {over['server_side_refusals']['unrouted']}"
               " refusals answered within 50 ms"] if over.get("server_side_refusals") else []),
            ""]
    if nb := results.get("neighbour"):
        at_limit, flood = nb["a_at_limit"], nb["a_flooding"]
        runs = (("alone", nb["b_alone"]), (f"A at its limit ({at_limit['a_rate']:g} req/s)", at_limit["b"]),
                (f"A flooding ({nb['a_rate']:g} req/s)", flood["b"]))
        lines += [
            f"## Noisy neighbour: --rate-limit-rpm {nb['rate_limit_rpm']}; B at {nb['b_rate']} req/s beside A", "",
            "| client B | sent | 200 | E2E p50 ms | E2E p90 ms | E2E p99 ms |", "|---|---|---|---|---|---|",
            *(f"| {label} | {s['sent']} | {s['completed']} | {_fmt(s['e2e_ms'], 'p50')} | {_fmt(s['e2e_ms'], 'p90')} "
              f"| {_fmt(s['e2e_ms'], 'p99')} |" for label, s in runs), "",
            f"- B's p99 with A flooding / with A at its limit: **{nb['b_p99_ratio']}** (target <= 1.10): what A's "
            f"requests over its limit cost B; against B alone: {nb['b_p99_ratio_to_alone']} (that includes A's "
            "admitted share). B's errors: " + str(flood["b"]["errors_by_status"] or "none"),
            *(f"- A while B ran ({name}): {run['a_during_b']}; A's refusal ms {run['a_refusal_ms_during_b']}; without "
              f"Retry-After {run['a_checks']['without_retry_after']}, bad envelope {run['a_checks']['bad_envelope']}; "
              f"by the server's own clock {run['server_side_refusals']['unrouted_within_50ms']} of "
              f"{run['server_side_refusals']['unrouted']} refusals answered within 50 ms"
              for name, run in (("at its limit", at_limit), ("flooding", flood))), ""]
    return "\n".join(lines)


def server_pid(base_url: str) -> int:
    """The pid of the ``icegrt serve`` process listening on `base_url`'s port."""
    port = base_url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"serve" in argv and port.encode() in argv:
                return int(proc.name)
    raise RuntimeError(f"no server process found for {base_url}")


@contextlib.contextmanager
def profiling(enabled: bool, base_url: str, path: Path) -> Iterator[None]:
    """py-spy samples the API server process (its event loop) while the benchmark runs."""
    if not enabled:
        yield
        return
    py_spy = str(Path(sys.executable).parent / "py-spy")
    spy = subprocess.Popen([py_spy, "record", "--pid", str(server_pid(base_url)), "--format", "raw", "--rate", "50",
                            "--output", str(path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        spy.wait(60)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.admission", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--benchmarks", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--capacity", type=int, default=4, help="--max-num-seqs and --max-queued-requests")
    parser.add_argument("--num-prompts", type=int, default=32, help="Requests per measured run (overload: 4x)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--max-duration", type=float, default=120, help="Seconds after which a run stops")
    parser.add_argument("--rate-limit-rpm", type=int, default=60, help="Neighbour: requests per minute per key")
    parser.add_argument("--b-rate", type=float, default=0.5, help="Neighbour: client B's request rate (req/s)")
    parser.add_argument("--a-rate", type=float, default=20, help="Neighbour: client A's flood rate (req/s)")
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--kv-cache-space", type=float, default=2.0)
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--server-cpus", default=None,
                        help="Pin the server (API process, engine core, worker) to these CPUs (taskset -c list), "
                             "so that the load generator, run with taskset on others, does not share them")
    parser.add_argument("--note", default="", help="Machine conditions to state in the report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true",
                        help="Record the API server with py-spy during each benchmark (collapsed stacks, "
                        "*-profile.txt)")
    parser.add_argument("--name", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-admission")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import tempfile

    from common.models import resolve_model

    args = parse_args(argv)
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model(args.model)
    served = model_dir.name
    results = {**results_header("loadtests.admission", args, argv),
               "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    extra = {"overload": ("--max-num-seqs", str(args.capacity), "--max-queued-requests", str(args.capacity)),
             "neighbour": ("--api-key", KEY_A, KEY_B, "--rate-limit-rpm", str(args.rate_limit_rpm))}
    run = {"overload": overload, "neighbour": neighbour}
    with tempfile.TemporaryDirectory(prefix="icegrt-admission-") as scratch:
        for name in args.benchmarks:
            target = server(model_dir, served, args, Path(scratch), *extra[name])
            with running(target, out / f"{name}.log", 900) as (base_url, startup_s):
                print(f"[admission] {name}: server ready in {startup_s:.0f} s", flush=True)
                with profiling(args.profile, base_url, out / f"{name}-profile.txt"):
                    results[name] = asyncio.run(run[name](base_url, served, args))
            results["machine"][f"loadavg_after_{name}"] = [round(x, 2) for x in os.getloadavg()]
            (out / "admission.json").write_text(json.dumps(results, indent=2))
    (out / "admission.md").write_text(render(results))
    print(f"[admission] wrote {out / 'admission.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
