"""report.md and accuracy.png for results/rm-ranked/: held-out pairwise accuracy of the reward model
per pair source, each with a standard error clustered by prompt (a ranked prompt gives up to 6 pairs),
beside length rules on the same pairs ("the longer reply is better", "the shorter one is", ties counted
half) and the paired difference between the model and the better of the two rules on that source
(picked on the held-out pairs themselves, which favours the rule).

Usage: python report.py RUN_DIR SAMPLES.jsonl  (markdown to stdout; accuracy.png beside this file)
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.config import RewardConfig, load_config  # noqa: E402
from training.data.preference import load_pairs  # noqa: E402
from training.evaluate.stats import clustered_mean_stderr  # noqa: E402
from training.rank.scorers import score_record  # noqa: E402
from training.reward import HELDOUT_SCORES, source_label  # noqa: E402

HERE = Path(__file__).parent


def heldout_rows(run: Path, config: RewardConfig) -> list[dict]:
    """The checkpoint's held-out scores joined with the pairs' texts (the same order as training's)."""
    rows = [json.loads(line) for line in (run / "checkpoint" / HELDOUT_SCORES).read_text().splitlines()]
    pairs = [p for p in load_pairs(config.pairs) if p.split == "eval"][: config.max_eval_pairs]
    if [p.prompt_id for p in pairs] != [r["prompt_id"] for r in rows]:
        raise SystemExit("the pair files changed since training: held-out pairs do not line up")
    for row, pair in zip(rows, pairs):
        row["rm_right"] = float(row["chosen"] > row["rejected"])
        chosen, rejected = len(pair.chosen), len(pair.rejected)
        row["longer_right"] = 0.5 if chosen == rejected else float(chosen > rejected)
        row["shorter_right"] = 1 - row["longer_right"]
    return rows


def figure(values: list[float], clusters: list[str]) -> str:
    s = clustered_mean_stderr(values, clusters)
    return f"{s['mean']:.3f} ± {s['stderr']:.3f}" if s["stderr"] is not None else f"{s['mean']:.3f}"


def main(run_dir: str, samples_path: str) -> None:
    run = Path(run_dir)
    config = load_config(RewardConfig, run / "config.yaml", {})
    rows = heldout_rows(run, config)
    samples = [json.loads(line) for line in Path(samples_path).read_text().splitlines()]
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in evals if "eval_accuracy" in e]
    train_counts = Counter(p.source for p in load_pairs(config.pairs) if p.split == "train")

    print("# ICE-Reward trained the paper's way: ICE-Instruct samples ranked by the task scorers\n")
    print(f"Made by `results/rm-ranked/run.sh` (reward config `configs/reward_ranked_cpu.yaml`, run `{run}`, "
          f"step {evals[-1]['step']}). Held-out pairs are split per prompt: the reward model never saw their "
          "prompts. Standard errors are clustered by prompt.\n")
    print("## Samples\n")
    print("| task | prompts | prompts whose replies differ in score | mean score |")
    print("|---|---:|---:|---:|")
    by_task: dict[str, list[dict]] = {}
    for record in samples:
        by_task.setdefault(record["task"], []).append(record)
    for task, records in sorted(by_task.items()):
        scored = [score_record(record) for record in records]
        scores = [score for by_reply in scored for score in by_reply.values()]
        ordered = sum(len(set(by_reply.values())) > 1 for by_reply in scored)
        mean = f"{sum(scores) / len(scores):.3f}" if scores else "n/a"
        print(f"| {task} | {len(records)} | {ordered} | {mean} |")
    print("\n## Held-out pairwise accuracy\n")
    print("| source | train pairs | held-out pairs (prompts) | reward model | longer reply wins | shorter reply wins "
          "| reward model - better length rule |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    plotted = []
    for source in config.pairs:
        mine = [r for r in rows if r["source"] == source]
        if not mine:
            continue
        clusters = [r["prompt_id"] for r in mine]
        rm, longer, shorter = ([r[k] for r in mine] for k in ("rm_right", "longer_right", "shorter_right"))
        rule = max(longer, shorter, key=sum)
        diff = [a - b for a, b in zip(rm, rule)]
        print(f"| {source_label(source)} | {train_counts[source]} | {len(mine)} ({len(set(clusters))}) | "
              f"{figure(rm, clusters)} | {figure(longer, clusters)} | {figure(shorter, clusters)} | {figure(diff, clusters)} |")
        plotted.append((source_label(source), clustered_mean_stderr(rm, clusters), clustered_mean_stderr(rule, clusters)))
    everything = [r["prompt_id"] for r in rows]
    print(f"| all | {sum(train_counts.values())} | {len(rows)} ({len(set(everything))}) | "
          f"{figure([r['rm_right'] for r in rows], everything)} | "
          f"{figure([r['longer_right'] for r in rows], everything)} | "
          f"{figure([r['shorter_right'] for r in rows], everything)} | |")
    print("\n## Accuracy at each evaluation\n")
    keys = [k for k in evals[-1] if k.startswith("eval_accuracy")]
    print("| step | " + " | ".join(k.removeprefix("eval_") for k in keys) + " |")
    print("|---:|" + "---:|" * len(keys))
    for e in evals:
        print(f"| {e['step']} | " + " | ".join(f"{e[k]:.3f}" if k in e else "" for k in keys) + " |")

    fig, ax = plt.subplots(figsize=(7, 0.7 * len(plotted) + 1.5))
    for i, (label, rm, longer) in enumerate(plotted):
        ax.errorbar(rm["mean"], i + 0.1, xerr=2 * (rm["stderr"] or 0), fmt="o", color="C0", label="reward model" if i == 0 else None)
        ax.errorbar(longer["mean"], i - 0.1, xerr=2 * (longer["stderr"] or 0), fmt="s", color="C1", label="better length rule" if i == 0 else None)
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_yticks(range(len(plotted)), [p[0] for p in plotted])
    ax.set_xlabel("held-out pairwise accuracy (± 2 SE, clustered by prompt)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(HERE / "accuracy.png", dpi=120)


if __name__ == "__main__":
    main(*sys.argv[1:3])
