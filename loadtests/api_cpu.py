"""CPU time of each server's API process per request, streamed and not: where a serving layer
costs throughput on a CPU machine.

    .venv/bin/python -m loadtests.api_cpu --name cpu-api-cpu

Starts ``icegrt serve`` and plain vLLM in turn (``loadtests.compare``'s commands and settings),
runs the same load in each scenario, and reads the API process's user + system CPU seconds
from ``/proc`` before and after. On CPU the API process shares the cores with the model's
threads, so every millisecond it spends per request is taken from decoding; the engine-core
and worker processes are not counted (their work is the same model in both servers).
Writes ``results/<name>/api_cpu.json`` and ``api_cpu.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from loadtests.compare import RESULTS_DIR, free_port, results_header, running, target
from loadtests.loadgen import LoadPoint, measure
from loadtests.refusal_cost import cpu_seconds


def _port_argument(argv: list[bytes]) -> bytes | None:
    return argv[argv.index(b"--port") + 1] if b"--port" in argv[:-1] else None


def api_pid(port: str) -> int:
    """The process started with ``--port <port>``: the API process (vLLM's engine processes are
    spawned children whose command lines do not carry the port)."""
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if _port_argument(argv) == port.encode():
                return int(proc.name)
    raise RuntimeError(f"no process started with --port {port}")


def per_request(cpu_s: float, report: dict) -> dict:
    """CPU milliseconds per completed request and per output token, beside the load's throughput."""
    summary = report["summary"]
    done, tokens = summary["completed"], summary["total_output_tokens"]
    return {"api_cpu_s": round(cpu_s, 3), "completed": done,
            "api_cpu_ms_per_request": round(1000 * cpu_s / done, 2) if done else None,
            "api_cpu_ms_per_output_token": round(1000 * cpu_s / tokens, 3) if tokens else None,
            "output_throughput": summary["output_throughput"]}


async def load_and_count(base_url: str, scenario: str, args: argparse.Namespace, served: str) -> dict:
    pid = api_pid(base_url.rsplit(":", 1)[1])
    before = cpu_seconds(pid)
    [report] = await measure(base_url, scenario, [LoadPoint(concurrency=args.concurrency)], model=served,
                             num_prompts=args.num_prompts, max_tokens=args.max_tokens,
                             max_duration_s=args.max_duration, progress=lambda line: print(line, flush=True))
    return per_request(cpu_seconds(pid) - before, report)


def render(results: dict) -> str:
    rows = ["| server | scenario | API CPU ms / request | API CPU ms / output token | out tok/s | completed |",
            "|---|---|---|---|---|---|"]
    for server, scenarios in results["servers"].items():
        for scenario, r in scenarios.items():
            rows.append(f"| {server} | {scenario} | {r['api_cpu_ms_per_request']} | {r['api_cpu_ms_per_output_token']} "
                        f"| {r['output_throughput']} | {r['completed']} |")
    s = results["settings"]
    return "\n".join([f"# API-process CPU: {results['name']}", "", f"Command: `{results['command']}`", "",
                      f"Machine: {results['machine']['cpu_model']}, {results['machine']['nproc']} CPU(s). "
                      f"{results.get('note', '')}", "",
                      f"Load: c={s['concurrency']}, {s['num_prompts']} requests of {s['max_tokens']} tokens per "
                      "scenario.", "", *rows, ""])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.api_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--scenarios", nargs="+", default=["short_chat", "streaming"],
                        choices=("short_chat", "streaming", "long_prompt"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--num-prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--max-duration", type=float, default=150)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--kv-cache-space", type=float, default=2.0)
    parser.add_argument("--cpu-reserved-cpus", type=int, default=None,
                        help="VLLM_CPU_NUM_OF_RESERVED_CPU for both servers; default: each server's own")
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--note", default="")
    parser.add_argument("--name", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.dtype, args.max_num_seqs, args.gpu, args.gpu_memory_utilization = "float32", None, False, 0.0
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-api-cpu")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from common.models import resolve_model

    args = parse_args(argv)
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model(args.model)
    results = {**results_header("loadtests.api_cpu", args, argv), "servers": {},
               "settings": {k: getattr(args, k) for k in ("concurrency", "num_prompts", "max_tokens",
                                                           "cpu_reserved_cpus", "enforce_eager")}}
    with tempfile.TemporaryDirectory(prefix="icegrt-api-cpu-") as scratch:
        for server in ("icegrt", "vllm"):
            t = target(server, model_dir, model_dir.name, free_port(), args, Path(scratch))
            with running(t, out / f"{server}.log", 900) as (base_url, _):
                for scenario in args.scenarios:
                    r = asyncio.run(load_and_count(base_url, scenario, args, model_dir.name))
                    results["servers"].setdefault(server, {})[scenario] = r
                    print(f"[api_cpu] {server} {scenario}: {r}", flush=True)
            (out / "api_cpu.json").write_text(json.dumps(results, indent=2))
    (out / "api_cpu.md").write_text(render(results))
    print(f"[api_cpu] wrote {out / 'api_cpu.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
