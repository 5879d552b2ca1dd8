"""Render a comparison's results.json as a Markdown table of ratios and a latency-versus-throughput plot.

    .venv/bin/python -m loadtests.report loadtests/results/NAME

`loadtests.compare` calls this after every server; run it by hand to re-render (for
instance where matplotlib was missing when the results were taken).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OURS = "icegrt"
BASELINES = ("vllm", "hf")
COLORS = {OURS: "C0", "vllm": "C1", "hf": "C2"}
FIGURES = (  # column, metric key, statistic
    ("out tok/s", "output_throughput", None),
    ("req/s", "request_throughput", None),
    ("TTFT p50 ms", "ttft_ms", "p50"),
    ("TTFT p99 ms", "ttft_ms", "p99"),
    ("TPOT p50 ms", "tpot_ms", "p50"),
    ("ITL p50 ms", "itl_ms", "p50"),
    ("E2E p50 ms", "e2e_ms", "p50"),
    ("E2E p99 ms", "e2e_ms", "p99"),
)
RATIOS = (("out tok/s", "output_throughput", None), ("TTFT p50", "ttft_ms", "p50"),
          ("TPOT p50", "tpot_ms", "p50"), ("E2E p50", "e2e_ms", "p50"), ("E2E p99", "e2e_ms", "p99"))


def figure(summary: dict, key: str, stat: str | None) -> float | None:
    value = summary.get(key)
    if stat is not None:
        value = value.get(stat) if value else None
    return value


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "n/a"
    return f"{ours / theirs:.2f}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _prefix_hits(summary: dict) -> str:
    """vLLM's prefix-cache hit rate over the run (tokens), where the server reports it."""
    rate = (summary.get("prefix_cache") or {}).get("hit_rate")
    return "-" if rate is None else f"{rate:.0%}"


def _errors(summary: dict) -> str:
    text = ", ".join(f"{k}: {v}" for k, v in summary["errors_by_status"].items())
    return f"{summary['completed']}/{summary['planned']}" + (f" ({text})" if text else "")


def _by_scenario(runs: list[dict]) -> dict[str, dict[str, dict[str, dict]]]:
    """scenario -> load label -> server -> summary, in the order the runs were taken."""
    table: dict[str, dict[str, dict[str, dict]]] = {}
    for run in runs:
        table.setdefault(run["scenario"], {}).setdefault(run["label"], {})[run["server"]] = run["summary"]
    return table


def markdown(results: dict) -> str:
    settings, machine = results["settings"], results["machine"]
    lines = [
        f"# Load-test comparison: {results['name']}",
        "",
        f"Command: `{results['command']}`",
        "",
        f"Machine: {machine.get('cpu_model')}, {machine.get('nproc')} CPUs, {machine.get('ram_gib')} GiB RAM, "
        f"GPU: {machine.get('gpu') or 'none'}; load average at start {machine.get('loadavg_start')}.",
        "",
        f"Model `{settings['model']}` ({settings['dtype']}), max_tokens {settings['max_tokens']}, up to "
        f"{settings['num_prompts']} requests and {settings['max_duration_s']:g} s per run, greedy decoding. "
        "Conventions of `vllm bench serve` (see loadtests/stats.py). Ratios are ours / theirs: above 1 is better "
        "for throughput, below 1 is better for latencies.",
    ]
    for server, info in results["servers"].items():
        if info.get("error"):
            lines += ["", f"**{server}** did not run: {info['error']}"]
    for scenario, loads in _by_scenario(results["runs"]).items():
        lines += ["", f"## {scenario}", "",
                  "| load | server | " + " | ".join(c for c, _, _ in FIGURES) + " | prefix cache hits | ok |",
                  "|" + "---|" * (len(FIGURES) + 4)]
        for label, servers in loads.items():
            for server, s in servers.items():
                cells = [_fmt(figure(s, key, stat)) for _, key, stat in FIGURES] + [_prefix_hits(s)]
                lines.append(f"| {label} | {server} | " + " | ".join(cells) + f" | {_errors(s)} |")
        if not any(base in servers for servers in loads.values() for base in BASELINES):
            continue  # nothing to compare with (the mix scenario runs on this server only)
        pairs = [(name, base) for name, *_ in RATIOS for base in BASELINES]
        lines += ["", "| load | " + " | ".join(f"{name} ours/{base}" for name, base in pairs) + " |",
                  "|" + "---|" * (len(pairs) + 1)]
        for label, servers in loads.items():
            ours = servers.get(OURS)
            cells = [ratio(figure(ours, key, stat) if ours else None,
                           figure(servers[base], key, stat) if base in servers else None)
                     for _, key, stat in RATIOS for base in BASELINES]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> bool:
    """Median E2E and TTFT against output throughput, one panel per scenario; False without matplotlib.

    Each server's fixed-concurrency points are joined by a solid line, its request-rate
    points by a dashed one; latencies are on a log scale (the baseline is far slower).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    table = _by_scenario(results["runs"])
    modes = {(run["scenario"], run["label"]): run["mode"] for run in results["runs"]}
    fig, axes = plt.subplots(2, max(len(table), 1), figsize=(5 * max(len(table), 1), 8), squeeze=False)
    for col, (scenario, loads) in enumerate(table.items()):
        for row, (key, title) in enumerate((("e2e_ms", "E2E p50 (s)"), ("ttft_ms", "TTFT p50 (s)"))):
            ax = axes[row][col]
            servers = [name for name in COLORS if any(name in runs for runs in loads.values())]
            for server in servers:
                for mode, style in (("concurrency", "-o"), ("rate", "--s")):
                    points = [(s["output_throughput"], s[key]["p50"] / 1000, label) for label, runs in loads.items()
                              if modes[scenario, label] == mode and (s := runs.get(server)) and s[key]]
                    if not points:
                        continue
                    ax.plot([p[0] for p in points], [p[1] for p in points], style, color=COLORS[server],
                            label=f"{server} ({mode})")
                    for x, y, label in points:
                        ax.annotate(label, (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
            ax.set_title(f"{scenario}: {title}")
            ax.set_xlabel("output tokens/s")
            ax.set_ylabel(title)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.set_yscale("log")
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no streamed requests", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def render(directory: Path) -> list[Path]:
    """Write results.md and latency_vs_throughput.png beside results.json; returns what was written."""
    results = json.loads((directory / "results.json").read_text())
    written = [directory / "results.md"]
    written[0].write_text(markdown(results))
    if plot(results, directory / "latency_vs_throughput.png"):
        written.append(directory / "latency_vs_throughput.png")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="A comparison's results directory (holds results.json)")
    args = parser.parse_args(argv)
    for path in render(args.directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
