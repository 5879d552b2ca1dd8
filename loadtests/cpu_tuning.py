"""What each CPU setting of ``icegrt serve`` is worth, beside ``vllm serve`` with its defaults.

    .venv/bin/python -m loadtests.cpu_tuning --name cpu-tuning --rounds 2

Servers, each started in turn on the same model and load (streaming, concurrency 16 by
default), in ``--rounds`` alternating rounds so that drift on a shared machine shows:

- ``vllm-defaults``: ``python -m vllm.entrypoints.openai.api_server`` as a user runs it (vLLM
  preloads torch's libgomp itself and binds its threads automatically);
- ``icegrt-untuned``: ``icegrt serve`` with every CPU setting off (what vLLM does by itself);
- ``+tcmalloc``, ``+iomp``: one preload each;
- ``+threads``: every usable CPU for the model's threads (``--cpu-reserved-cpus 0``), only
  when more than one CPU is usable (vLLM reserves one for its other processes);
- ``+poll``: vLLM's engine processes poll their message queues every 200 us, sleeping in
  between, instead of spinning on ``sched_yield`` (``--cpu-engine-poll-us 200``,
  inference/vllm_plugin.py); ``+threads+poll``: both;
- ``icegrt-defaults``: ``icegrt serve`` as shipped.

Writes ``results/<name>/tuning.json``, ``tuning.md`` (output-token throughput per round,
their mean and the ratios to vllm-defaults and icegrt-untuned) and ``tuning.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from loadtests.compare import RESULTS_DIR, Target, free_port, results_header, running, target
from loadtests.loadgen import LoadPoint, measure

OFF = {"ICEGRT_CPU_PRELOAD_TCMALLOC": "false", "ICEGRT_CPU_PRELOAD_IOMP": "false",
       "ICEGRT_CPU_RESERVED_CPUS": "1"}  # vLLM's own reservation on x86: one CPU per rank
CONFIGS: dict[str, dict[str, str]] = {
    "icegrt-untuned": OFF,
    "+tcmalloc": {**OFF, "ICEGRT_CPU_PRELOAD_TCMALLOC": "true"},
    "+iomp": {**OFF, "ICEGRT_CPU_PRELOAD_IOMP": "true"},
    "+threads": {**OFF, "ICEGRT_CPU_RESERVED_CPUS": "0"},
    "+poll": {**OFF, "ICEGRT_CPU_ENGINE_POLL_US": "200"},
    "+threads+poll": {**OFF, "ICEGRT_CPU_RESERVED_CPUS": "0", "ICEGRT_CPU_ENGINE_POLL_US": "200"},
    "icegrt-defaults": {},
}
"""``icegrt serve`` variants: environment over the process's own (ICEGRT_* settings)."""
BASELINE = "vllm-defaults"
MULTI_CPU_ONLY = frozenset({"+threads", "+threads+poll"})


def configs(usable_cpus: int) -> list[str]:
    return [BASELINE] + [name for name in CONFIGS if usable_cpus > 1 or name not in MULTI_CPU_ONLY]


def make_target(config: str, model_dir: Path, served: str, args: argparse.Namespace, data_dir: Path) -> Target:
    server = "vllm" if config == BASELINE else "icegrt"
    t = target(server, model_dir, served, free_port(), args, data_dir)
    return Target(config, t.command, t.ready_path, CONFIGS.get(config, {}))


def summarize_rounds(runs: list[dict]) -> dict[str, dict]:
    """Per config: throughput of each round, mean, and the ratios of the means."""
    table: dict[str, dict] = {}
    for run in runs:
        row = table.setdefault(run["config"], {"rounds": [], "ttft_p50_ms": []})
        row["rounds"].append(run["summary"]["output_throughput"])
        row["ttft_p50_ms"].append((run["summary"]["ttft_ms"] or {}).get("p50"))
    for row in table.values():
        row["mean"] = round(statistics.fmean(row["rounds"]), 2)
    for row in table.values():
        for ref in (BASELINE, "icegrt-untuned"):
            if ref in table and table[ref]["mean"]:
                row[f"vs_{ref}"] = round(row["mean"] / table[ref]["mean"], 3)
    return table


def render(results: dict) -> str:
    table = summarize_rounds(results["runs"])
    m = results["machine"]
    lines = [f"# CPU settings: {results['name']}", "", f"Command: `{results['command']}`", "",
             f"Machine: {m['cpu_model']}, {m['nproc']} CPU(s) usable, load average at start {m['loadavg_start']}. "
             f"{results.get('note', '')}", "",
             f"Load: {results['settings']['scenario']} at c={results['settings']['concurrency']}, "
             f"{results['settings']['num_prompts']} requests of {results['settings']['max_tokens']} tokens per run; "
             "output tokens/s.", "",
             "| config | rounds (tok/s) | mean tok/s | vs vllm-defaults | vs icegrt-untuned | TTFT p50 ms |",
             "|---|---|---|---|---|---|"]
    for config, row in table.items():
        ttft = [t for t in row["ttft_p50_ms"] if t is not None]
        lines.append(f"| {config} | {', '.join(f'{r:.1f}' for r in row['rounds'])} | {row['mean']:.1f} | "
                     f"{row.get('vs_' + BASELINE, '-')} | {row.get('vs_icegrt-untuned', '-')} | "
                     + (f"{statistics.fmean(ttft):.0f} |" if ttft else "- |"))
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarize_rounds(results["runs"])
    names = list(table)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(names, [table[n]["mean"] for n in names], color=["grey"] + ["tab:blue"] * (len(names) - 1))
    for i, n in enumerate(names):
        ax.scatter([i] * len(table[n]["rounds"]), table[n]["rounds"], color="black", s=12, zorder=3)
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_ylabel("output tokens/s (bars: mean, dots: rounds)")
    s = results["settings"]
    ax.set_title(f"CPU settings, {s['scenario']} c={s['concurrency']} ({results['machine']['nproc']} CPU usable)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.cpu_tuning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--configs", nargs="+", default=None, help="Default: all that apply to this machine")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scenario", default="streaming")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--num-prompts", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--max-duration", type=float, default=180)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--kv-cache-space", type=float, default=2.0)
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--note", default="", help="Machine conditions to state in the report")
    parser.add_argument("--name", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--append", action="store_true", help="Add rounds to --name's tuning.json")
    args = parser.parse_args(argv)
    # what loadtests.compare.target reads
    args.dtype, args.max_num_seqs, args.gpu, args.gpu_memory_utilization = "float32", None, False, 0.0
    args.cpu_reserved_cpus = None  # each server's own; the configs set it for icegrt
    args.name = args.name or datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-cpu-tuning")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from common.models import resolve_model

    args = parse_args(argv)
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model(args.model)
    chosen = args.configs or configs(len(os.sched_getaffinity(0)))
    results = {**results_header("loadtests.cpu_tuning", args, argv), "runs": [],
               "settings": {"scenario": args.scenario, "concurrency": args.concurrency,
                            "num_prompts": args.num_prompts, "max_tokens": args.max_tokens,
                            "enforce_eager": args.enforce_eager, "configs": chosen, "rounds": args.rounds}}
    done_rounds = 0
    if args.append and (out / "tuning.json").exists():  # more rounds, e.g. one lock hold per round
        earlier = json.loads((out / "tuning.json").read_text())
        results["runs"], results["command"] = earlier["runs"], f"{earlier['command']} ; then {results['command']}"
        done_rounds = max(run["round"] for run in earlier["runs"])
    with tempfile.TemporaryDirectory(prefix="icegrt-tuning-") as scratch:
        for round_ in range(done_rounds, done_rounds + args.rounds):
            for config in chosen:
                t = make_target(config, model_dir, model_dir.name, args, Path(scratch))
                print(f"[tuning] round {round_ + 1} {config}", flush=True)
                with running(t, out / f"{config}.log", 900) as (base_url, _):
                    reports = asyncio.run(measure(
                        base_url, args.scenario, [LoadPoint(concurrency=args.concurrency)], model=model_dir.name,
                        num_prompts=args.num_prompts, max_tokens=args.max_tokens, max_duration_s=args.max_duration,
                        progress=lambda line: print(f"[tuning] {config:<16}{line}", flush=True)))
                results["runs"].append({"config": config, "round": round_ + 1, "summary": reports[0]["summary"],
                                        "loadavg": [round(x, 2) for x in os.getloadavg()]})
                (out / "tuning.json").write_text(json.dumps(results, indent=2))
    (out / "tuning.md").write_text(render(results))
    plot(results, out / "tuning.png")
    print(f"[tuning] wrote {out / 'tuning.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
