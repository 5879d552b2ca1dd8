"""table.md and the plot of a benchmarks.training.sft_vs_trl results.json; the header and the plot serve
rm_report.py too.

    .venv/bin/python -m benchmarks.training.report loadtests/results/<name>/results.json   # re-render both
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.training.accounting import fmt_summary, paired_ratios, summary

SIDES = ("ours", "trl")


def ok_rounds(rounds: list[dict]) -> list[dict]:
    """The rounds in which both sides measured."""
    return [r for r in rounds if all("error" not in r[s] for s in SIDES)]


def header(results: dict, title: str) -> list[str]:
    """The table's first lines: title, command, machine and load."""
    m = results["machine"]
    return [f"# {title} ({results['name']})", "", f"Command: `{results['command']}`", "",
            f"Machine: {m['cpu_model']}, {m['nproc']} CPU(s), load average at start {m['loadavg_start']}, "
            f"at end {m.get('loadavg_end')}. {results.get('note', '')}", ""]


def render_table(results: dict) -> str:
    lines = header(results, "SFT training speed: ours vs TRL SFTTrainer")
    peak = results.get("peak")
    if peak:
        lines += [f"Matmul peak (fp32, {peak['threads']} thread(s)): {peak['peak_gflops']} GFLOP/s best GEMM; "
                  f"{peak['model_shapes_gflops']} GFLOP/s over the model's own linear shapes at "
                  f"{peak['tokens_per_gemm']} tokens. Limit per real token (6N full, 4N LoRA, "
                  f"N = {peak['matmul_params'] / 1e6:.1f}M): full {peak['limit_ms_per_token_full']} ms "
                  f"({peak['limit_ms_per_token_full_at_model_shapes']} at model shapes), LoRA "
                  f"{peak['limit_ms_per_token_lora']} ms ({peak['limit_ms_per_token_lora_at_model_shapes']}).", ""]
    lines += ["Ratios are ours / TRL of the same round (above 1: ours faster): median [min, max], mean +- SE.", "",
              "| mode | rounds | ratio real tok/s | ours real tok/s | TRL real tok/s | ours padded tok/s | "
              "TRL padded tok/s | ours ms/real tok | TRL ms/real tok | limit ms/tok | ours / limit |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]

    def cells(mode: str, ok: list[dict]) -> list[str]:
        limit = peak and peak[f"limit_ms_per_token_{mode}"]
        ours_ms = median_of(ok, "ours", "ms_per_real_token")
        return [f"{median_of(ok, side, key):.{digits}f}" for key, digits in (
            ("real_tok_s", 1), ("padded_tok_s", 1)) for side in SIDES] + [
            f"{ours_ms:.2f}", f"{median_of(ok, 'trl', 'ms_per_real_token'):.2f}"] + (
            [f"{limit:.2f}", f"{ours_ms / limit:.2f}x"] if limit else ["-", "-"])

    lines += summary_rows(results, "real_tok_s", cells)
    lines += ["", "Every round (real tok/s; steps timed after the warm-up; load average before each run):", "",
              "| mode | round | order | ours real tok/s | TRL real tok/s | ratio | ours ms/real tok | "
              "TRL ms/real tok | ours load | TRL load | checks |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    return "\n".join(lines + round_rows(results, 8, round_cells)
                     + step_counts(results, ("real", "padded", "labels"))) + "\n"


def median_of(rounds: list[dict], side: str, key: str) -> float:
    return statistics.median(r[side][key] for r in rounds)


def summary_rows(results: dict, figure: str, cells: Callable[[str, list[dict]], list[str]]) -> list[str]:
    """A table row per mode with rounds in which both sides measured: mode, their count, the summary of the
    ratios ours / TRL of `figure`, then `cells(mode, those rounds)`."""
    lines = []
    for mode, data in results["modes"].items():
        ok = ok_rounds(data["rounds"])
        if ok:
            lines.append(f"| {mode} | {len(ok)} | {fmt_summary(paired_ratios(ok, figure))} | "
                         + " | ".join(cells(mode, ok)) + " |")
    return lines


def round_cells(o: dict, t: dict) -> list[str]:
    checks = "ok" if (o["checks"]["labels_match_plan"] and t["checks"]["labels_match_plan"]
                      and t["checks"].get("fed_tokens_match_plan")
                      and not t["checks"].get("examples_differing_from_ours")) else \
        f"ours {o['checks']} trl {t['checks']}"
    return [f"{o['real_tok_s']:.1f}", f"{t['real_tok_s']:.1f}", f"{o['real_tok_s'] / t['real_tok_s']:.3f}",
            f"{o['ms_per_real_token']:.2f}", f"{t['ms_per_real_token']:.2f}", str(o["loadavg_before"]),
            str(t["loadavg_before"]), checks]


def round_rows(results: dict, width: int, cells: Callable[[dict, dict], list[str]]) -> list[str]:
    """A table row per mode and round: mode, round, order, then the `width` cells of `cells(ours, trl)`, or
    the error of each side that failed."""
    lines = []
    for mode, data in results["modes"].items():
        for r in data["rounds"]:
            o, t = r["ours"], r["trl"]
            row = ([o.get("error", ""), t.get("error", "")] + [""] * (width - 2) if "error" in o or "error" in t
                   else cells(o, t))
            lines.append(f"| {mode} | {r['round']} | {'/'.join(r['order'])} | " + " | ".join(row) + " |")
    return lines


def step_counts(results: dict, counts: tuple[str, ...]) -> list[str]:
    """Per mode, a line of every step's `counts` (tokens, labels or pairs) and the share of padding."""
    lines = []
    for mode, data in results["modes"].items():
        steps = data["tokens_per_step"]
        padding = 1 - sum(s["real"] for s in steps) / sum(s["padded"] for s in steps)
        each = ", ".join("/".join(str(s[k]) for k in counts) for s in steps)
        lines += ["", f"{mode}: tokens per step ({' / '.join(counts)}): {each}; padding {padding:.0%} of positions."]
    return lines


def plot(results: dict, path: Path, figure: str = "real_tok_s", label: str = "real (non-pad) tokens/s",
         title: str = "SFT: icegrt vs TRL SFTTrainer") -> None:
    """Per mode, each side's `figure` (labelled `label`) round by round, and the paired ratio ours / TRL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [m for m, d in results["modes"].items() if ok_rounds(d["rounds"])]
    if not modes:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"ours": "tab:blue", "trl": "tab:orange"}
    for i, mode in enumerate(modes):
        ok = ok_rounds(results["modes"][mode]["rounds"])
        for j, side in enumerate(SIDES):
            values = [r[side][figure] for r in ok]
            x = [i + (j - 0.5) * 0.35 + (k - (len(values) - 1) / 2) * 0.04 for k in range(len(values))]
            axes[0].scatter(x, values, color=colors[side], label=side if i == 0 else None, s=22)
            axes[0].hlines(statistics.median(values), i + (j - 0.5) * 0.35 - 0.12, i + (j - 0.5) * 0.35 + 0.12,
                           color=colors[side])
        ratios = [r["ours"][figure] / r["trl"][figure] for r in ok]
        axes[1].scatter([i] * len(ratios), ratios, color="tab:green", s=22)
        s = summary(ratios)
        axes[1].hlines(s["median"], i - 0.15, i + 0.15, color="tab:green")
        axes[1].annotate(f"median {s['median']:.2f}", (i + 0.18, s["median"]), fontsize=8)
    for ax in axes:
        ax.set_xticks(range(len(modes)), modes)
        ax.set_xlim(-0.6, len(modes) - 0.4)
    axes[0].set_ylabel(label)
    axes[0].set_title("Training throughput per round (line: median)")
    axes[0].legend()
    axes[1].axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[1].set_ylabel("ours / TRL, same round")
    axes[1].set_title("Paired ratio per round")
    fig.suptitle(f"{title}, {results['settings'].get('model')} ({results['name']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rerender(argv: list[str] | None, render: Callable[[dict], str], draw: Callable[[dict, Path], None],
             plot_name: str) -> int:
    """Write table.md and the plot again beside the results.json named by the first argument."""
    path = Path((argv or sys.argv[1:])[0])
    results = json.loads(path.read_text())
    (path.parent / "table.md").write_text(render(results))
    draw(results, path.parent / plot_name)
    return 0


def main(argv: list[str] | None = None) -> int:
    return rerender(argv, render_table, plot, "sft_vs_trl.png")


if __name__ == "__main__":
    sys.exit(main())
