"""table.md and the plot of a benchmarks.training.ppo_vs_trl results.json.

    .venv/bin/python -m benchmarks.training.ppo_report loadtests/results/<name>/results.json   # re-render both
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from benchmarks.training.accounting import PPO_PHASES, fmt_summary, paired_ratios, summary

SIDES = ("ours", "trl")
LABELS = {"ours": "ours", "trl": "TRL"}


def ok_rounds(results: dict) -> list[dict]:
    return [r for r in results["rounds"] if all("error" not in r[s] for s in SIDES)]


def median_phases(rounds: list[dict], side: str) -> dict[str, float]:
    """Per phase (and total), the median over rounds of the measurement's mean seconds per timed step."""
    return {k: round(statistics.median(r[side]["phases"][k] for r in rounds), 4) for k in (*PPO_PHASES, "total")}


def render_table(results: dict) -> str:
    m = results["machine"]
    ok = ok_rounds(results)
    s = results["plan"]["settings"]
    lines = [f"# PPO step time: ours vs TRL PPOTrainer ({results['name']})", "",
             f"Command: `{results['command']}`", "",
             f"Machine: {m['cpu_model']}, {m['nproc']} CPU(s), load average at start {m['loadavg_start']}, "
             f"at end {m.get('loadavg_end')}. {results.get('note', '')}", "",
             f"Settings (both): rollout batch {s['rollout_batch_size']}, {s['max_new_tokens']} new tokens per reply "
             f"(EOS ignored), {s['ppo_epochs']} PPO epochs x {s['rollout_batch_size'] // s['mini_batch_size']} "
             f"mini-batches of {s['mini_batch_size']}, forward batch {s['batch_size']}, {s['dtype']}, "
             f"LoRA {'on' if s['lora'] else 'off'}, {s['threads']} thread(s); "
             f"{results['plan']['warmup_steps']} warm-up + {results['plan']['timed_steps']} timed steps per run.", "",
             "Ratio: TRL's seconds per step / ours, same round (above 1: ours faster): median [min, max], "
             "mean +- SE.", ""]
    if ok:
        ratio = paired_ratios(ok, "s_per_step", ours="trl", theirs="ours")
        tok = paired_ratios(ok, "ms_per_response_token", ours="trl", theirs="ours")
        lines += ["| rounds | TRL/ours s per step | TRL/ours ms per generated token | ours s/step | TRL s/step |",
                  "|---|---|---|---|---|",
                  f"| {len(ok)} | {fmt_summary(ratio)} | {fmt_summary(tok)} | "
                  f"{statistics.median(r['ours']['s_per_step'] for r in ok):.1f} | "
                  f"{statistics.median(r['trl']['s_per_step'] for r in ok):.1f} |", "",
                  "Each side's step by phase (seconds: median over rounds of each run's mean per timed step; share "
                  "of the step):", "",
                  "| side | " + " | ".join(PPO_PHASES) + " | total | largest |",
                  "|---|" + "---|" * (len(PPO_PHASES) + 2)]
        for side in SIDES:
            ph = median_phases(ok, side)
            largest = max(PPO_PHASES, key=lambda p: ph[p])
            lines.append(f"| {LABELS[side]} | " + " | ".join(f"{ph[p]:.2f} ({ph[p] / ph['total']:.0%})"
                                                            for p in PPO_PHASES)
                         + f" | {ph['total']:.2f} | {largest} |")
        lines += ["", "Per phase, TRL / ours of the same round:", "", "| phase | TRL/ours |", "|---|---|"]
        for p in (*PPO_PHASES[:-1], "total"):
            small = [r[side]["phases"][p] for r in ok for side in SIDES if r[side]["phases"][p] < 0.05]
            if small:  # milliseconds: timer resolution, not a comparison
                lines.append(f"| {p} | - (under 50 ms a step: ours median "
                             f"{1000 * median_phases(ok, 'ours')[p]:.0f} ms, TRL {1000 * median_phases(ok, 'trl')[p]:.0f} ms) |")
                continue
            pairs = [r["trl"]["phases"][p] / r["ours"]["phases"][p] for r in ok]
            lines.append(f"| {p} | {fmt_summary(summary(pairs))} |")
    lines += ["", "Every round (seconds per timed step; load average before each run):", "",
              "| round | order | ours s/step | TRL s/step | TRL/ours | ours ms/token | TRL ms/token | ours load | "
              "TRL load | checks |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rounds"]:
        o, t = r["ours"], r["trl"]
        if "error" in o or "error" in t:
            lines.append(f"| {r['round']} | {'/'.join(r['order'])} | {o.get('error', '')} | {t.get('error', '')} "
                         "| | | | | | |")
            continue
        checks = "ok" if all(o["checks"].values()) and all(t["checks"].values()) else \
            f"ours {o['checks']} trl {t['checks']}"
        lines.append(f"| {r['round']} | {'/'.join(r['order'])} | {o['s_per_step']:.2f} | {t['s_per_step']:.2f} | "
                     f"{t['s_per_step'] / o['s_per_step']:.3f} | {o['ms_per_response_token']:.0f} | "
                     f"{t['ms_per_response_token']:.0f} | {o['loadavg_before']} | {t['loadavg_before']} | {checks} |")
    prompt_tokens = results["plan"]["prompt_tokens_per_step"]
    lines += ["", "Prompt tokens per step (each prompt; both sides left-pad to the longest): "
              + "; ".join(", ".join(map(str, s)) for s in prompt_tokens)]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = ok_rounds(results)
    if not ok:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    colors = {"rollout": "tab:blue", "scoring": "tab:purple", "forward": "tab:orange", "epochs": "tab:red",
              "other": "tab:grey"}
    for i, side in enumerate(SIDES):
        ph = median_phases(ok, side)
        left = 0.0
        for p in PPO_PHASES:
            axes[0].barh(i, ph[p], left=left, color=colors[p], label=p if i == 0 else None)
            if ph[p] / ph["total"] > 0.06:
                axes[0].text(left + ph[p] / 2, i, f"{ph[p]:.1f}", ha="center", va="center", fontsize=8, color="white")
            left += ph[p]
        axes[0].text(left, i, f" {ph['total']:.1f} s", va="center", fontsize=8)
    axes[0].set_yticks(range(len(SIDES)), [LABELS[s] for s in SIDES])
    axes[0].set_xlabel("seconds per PPO step (median over rounds)")
    axes[0].set_title("Step by phase")
    axes[0].set_xlim(0, 1.18 * max(median_phases(ok, side)["total"] for side in SIDES))
    axes[0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(PPO_PHASES))
    ratios = [r["trl"]["s_per_step"] / r["ours"]["s_per_step"] for r in ok]
    axes[1].scatter([r["round"] for r in ok], ratios, color="tab:green", s=24)
    s = summary(ratios)
    axes[1].axhline(s["median"], color="tab:green", lw=1)
    axes[1].annotate(f"median {s['median']:.2f}", (ok[0]["round"], s["median"]), fontsize=8,
                     xytext=(0, 4), textcoords="offset points")
    axes[1].axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[1].set_xticks([r["round"] for r in ok])
    axes[1].set_xlabel("round")
    axes[1].set_ylabel("TRL s/step / ours (above 1: ours faster)")
    axes[1].set_title("Paired ratio per round")
    fig.suptitle(f"PPO: icegrt vs TRL PPOTrainer, {results['settings'].get('model')} ({results['name']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    path = Path((argv or sys.argv[1:])[0])
    results = json.loads(path.read_text())
    (path.parent / "table.md").write_text(render_table(results))
    plot(results, path.parent / "ppo_vs_trl.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
