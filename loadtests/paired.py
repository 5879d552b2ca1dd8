"""Paired comparison on a shared machine: both servers up at once, loads alternated, ratios per pair.

    .venv/bin/python -m loadtests.paired --name cpu-paired --concurrency 1 4 16 64 --repeats 3
    .venv/bin/python -m loadtests.paired --baseline-checkout ../before --concurrency 16   # this commit vs another

With ``--baseline-checkout DIR`` the baseline is not plain vLLM but ``icegrt serve`` from another
checkout of this project (its own ``.venv``, set up with its own ``scripts/setup.sh``; e.g. a
``git worktree`` at an older commit), named ``before``: a refactoring is "within noise of before"
when these ratios say so.

`loadtests.compare` runs one server after another, so drift in what else the machine runs
(other people's jobs) lands on one server and not the other. Here ``icegrt serve`` and
plain vLLM (the same commands and settings as `loadtests.compare`) are started together
and stay up; an idle vLLM server costs next to no CPU. At every load point each repeat
runs the same load on both, back to back, in alternating order (AB, BA, AB, ...), so each
pair of runs sees about the same machine. Reported per load point: every pair's ratio
(ours / vLLM: output-token throughput, TTFT p50, E2E p99), the median ratio and the range,
in ``results/<name>/paired.json`` and ``paired.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from loadtests.compare import RESULTS_DIR, Target, free_port, results_header, running, target
from loadtests.loadgen import LoadPoint, measure

SERVERS = ("icegrt", "vllm")
BEFORE = "before"
RATIO_FIGURES = (("out tok/s", "output_throughput", None), ("TTFT p50", "ttft_ms", "p50"),
                 ("E2E p99", "e2e_ms", "p99"))


def value(summary: dict, key: str, stat: str | None) -> float | None:
    v = summary.get(key)
    return (v or {}).get(stat) if stat else v


def pair_ratios(pairs: list[dict], servers: Sequence[str] = SERVERS) -> dict[str, dict]:
    """Per figure: each pair's ours/theirs, their median and range (pairs missing a figure are skipped)."""
    out = {}
    for name, key, stat in RATIO_FIGURES:
        ratios = []
        for pair in pairs:
            ours, theirs = value(pair[servers[0]], key, stat), value(pair[servers[1]], key, stat)
            if ours is not None and theirs:
                ratios.append(round(ours / theirs, 3))
        out[name] = {"pairs": ratios, "median": round(statistics.median(ratios), 3) if ratios else None,
                     "min": min(ratios, default=None), "max": max(ratios, default=None)}
    return out


def render(results: dict) -> str:
    m, s = results["machine"], results["settings"]
    servers = results.get("servers", SERVERS)
    ours, theirs = servers
    lines = [f"# Paired comparison: {results['name']}", "", f"Command: `{results['command']}`", "",
             f"Machine: {m['cpu_model']}, {m['nproc']} CPU(s) usable, load average at start {m['loadavg_start']}, "
             f"at end {m.get('loadavg_end')}. {results.get('note', '')}", "",
             *([f"Baseline `{theirs}`: icegrt serve at commit {results['baseline']['commit']}; ours at "
                f"{m.get('git_commit', '?')}.", ""] if "baseline" in results else []),
             f"Scenario {s['scenario']}, {s['max_tokens']} output tokens, {s['repeats']} pairs per load point, "
             f"the two servers run back to back in alternating order. Ratios are {ours} / {theirs} (above 1 is better "
             "for throughput, below 1 for latencies): median of the pairs, then [min, max].", "",
             "| load | " + " | ".join(f"{n} {ours}/{theirs}" for n, _, _ in RATIO_FIGURES)
             + f" | {ours} out tok/s (median) | {theirs} out tok/s (median) | {ours} TTFT p50 ms"
             f" | {theirs} TTFT p50 ms |",
             "|" + "---|" * (len(RATIO_FIGURES) + 5)]
    for label, point in results["points"].items():
        cells = []
        for name, _, _ in RATIO_FIGURES:
            r = point["ratios"][name]
            cells.append("-" if r["median"] is None else f"{r['median']:.2f} [{r['min']:.2f}, {r['max']:.2f}]")

        def median(server: str, key: str, stat: str | None) -> str:
            values = [v for pair in point["pairs"] if (v := value(pair[server], key, stat)) is not None]
            return f"{statistics.median(values):.1f}" if values else "-"

        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(
            median(srv, key, stat) for key, stat in (("output_throughput", None), ("ttft_ms", "p50"))
            for srv in servers) + " |")
    return "\n".join(lines) + "\n"


async def run_points(urls: dict[str, str], served: str, args: argparse.Namespace,
                     save: Callable[[dict], None] = lambda points: None) -> dict:
    """Every load point's pairs; `save` gets the points so far after each one (a cut run keeps them).
    `urls` names the two servers, ours first."""
    servers = tuple(urls)
    points: dict[str, dict] = {}
    for concurrency in args.concurrency:
        point = LoadPoint(concurrency=concurrency)
        prompts = max(args.num_prompts, concurrency)
        pairs = []
        for repeat in range(args.repeats):
            order = servers if repeat % 2 == 0 else servers[::-1]
            pair = {}
            for server in order:
                reports = await measure(urls[server], args.scenario, [point], model=served, num_prompts=prompts,
                                        max_tokens=args.max_tokens, max_duration_s=args.max_duration,
                                        progress=lambda line, s=server: print(f"[paired] {s:<7}{line}", flush=True))
                pair[server] = reports[0]["summary"]
            pairs.append(pair)
        points[point.label] = {"pairs": pairs, "ratios": pair_ratios(pairs, servers)}
        print(f"[paired] {point.label}: {points[point.label]['ratios']}", flush=True)
        save(points)
    return points


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.paired", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--scenario", default="streaming", choices=("streaming", "short_chat", "long_prompt"))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--repeats", type=int, default=3, help="Pairs per load point")
    parser.add_argument("--num-prompts", type=int, default=16, help="Requests per run (at least the concurrency)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--max-duration", type=float, default=60)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--kv-cache-space", type=float, default=2.0)
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--cpu-reserved-cpus", type=int, default=None,
                        help="VLLM_CPU_NUM_OF_RESERVED_CPU for both servers; default: each server's own")
    parser.add_argument("--baseline-checkout", type=Path, default=None,
                        help="Compare with `icegrt serve` from this checkout (its own .venv) instead of plain vLLM")
    parser.add_argument("--note", default="")
    parser.add_argument("--name", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.dtype, args.max_num_seqs, args.gpu, args.gpu_memory_utilization = "float32", None, False, 0.0
    args.long_prompt_words = 900
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-paired")
    return args


def checkout_commit(checkout: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=checkout).stdout.strip()


def before_target(checkout: Path, model_dir: Path, port: int, args: argparse.Namespace, data_dir: Path) -> Target:
    """Our own server's command, run by `checkout`'s interpreter from inside `checkout`."""
    checkout = checkout.resolve()
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: run scripts/setup.sh in {checkout} first")
    ours = target("icegrt", model_dir, model_dir.name, port, args, data_dir)
    return Target(BEFORE, [str(python), *ours.command[1:]], ours.ready_path, {"PYTHONPATH": str(checkout)}, checkout)


def main(argv: Sequence[str] | None = None) -> int:
    from common.models import resolve_model

    args = parse_args(argv)
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model(args.model)
    results = {**results_header("loadtests.paired", args, argv),
               "settings": {"scenario": args.scenario, "max_tokens": args.max_tokens, "repeats": args.repeats,
                            "num_prompts": args.num_prompts, "enforce_eager": args.enforce_eager,
                            "cpu_reserved_cpus": args.cpu_reserved_cpus}}
    servers = SERVERS if args.baseline_checkout is None else ("icegrt", BEFORE)
    results["servers"] = servers
    if args.baseline_checkout is not None:
        results["baseline"] = {"checkout": str(args.baseline_checkout.resolve()),
                               "commit": checkout_commit(args.baseline_checkout)}
    with tempfile.TemporaryDirectory(prefix="icegrt-paired-") as scratch, contextlib.ExitStack() as stack:
        urls = {}
        for server in servers:
            data_dir = Path(scratch) / server
            data_dir.mkdir()
            t = (before_target(args.baseline_checkout, model_dir, free_port(), args, data_dir) if server == BEFORE
                 else target(server, model_dir, model_dir.name, free_port(), args, data_dir))
            results.setdefault("commands", {})[server] = shlex.join(t.command)
            urls[server], _ = stack.enter_context(running(t, out / f"{server}.log", 900))

        def save(points: dict) -> None:
            results["points"] = points
            results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
            (out / "paired.json").write_text(json.dumps(results, indent=2))
            (out / "paired.md").write_text(render(results))

        asyncio.run(run_points(urls, model_dir.name, args, save))
    print(f"[paired] wrote {out / 'paired.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
