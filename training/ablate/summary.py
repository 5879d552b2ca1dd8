"""Per-variant figures of an ablation, its Markdown table and its overlaid reward and KL curves.

Figures are read from each variant's ``metrics.jsonl`` (PPO step records, those with a
``reward``): the mean raw reward and mean KL over the last k steps, the sample variance of the
reward over those steps (stability), and whether the run diverged (the trainer stopped it on a
NaN/inf or too large loss, gradient or reward, or a logged figure is not finite).

A variant's domain metric is compared with ``full``'s on the same examples: the paired difference
of :func:`domain_difference` (per-example cell counts of both evaluations, paired bootstrap), the
figure that says whether switching the factor off changed what the model does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from training.ablate.variants import VARIANTS
from training.runs import MetricsLog


def step_records(metrics_file: Path) -> list[dict[str, Any]]:
    """The PPO step records (not evaluations or events) of a run, in step order."""
    return [r for r in MetricsLog(metrics_file).read() if "reward" in r and "kl" in r]


def summarize_variant(metrics_file: Path, last_k: int, diverged: dict[str, Any] | None) -> dict[str, Any]:
    """``{"steps", "final_reward", "final_kl", "final_kl_coef", "reward_variance", "diverged", ...}``."""
    records = step_records(metrics_file)
    tail = records[-last_k:]
    rewards = [r["reward"] for r in tail]
    kls = [r["kl"] for r in tail]
    not_finite = any(v is None or not math.isfinite(v) for v in rewards + kls)
    usable = not not_finite and bool(tail)
    mean_reward = sum(rewards) / len(rewards) if usable else None
    variance = (sum((v - mean_reward) ** 2 for v in rewards) / (len(rewards) - 1)
                if usable and len(rewards) > 1 else None)
    return {
        "steps": records[-1]["step"] if records else 0,
        "last_k": len(tail),
        "final_reward": mean_reward,
        "final_kl": sum(kls) / len(kls) if usable else None,
        "final_kl_coef": tail[-1].get("kl_coef") if tail else None,
        "reward_variance": variance,
        "diverged": diverged is not None or not_finite,
        "divergence": diverged["message"] if diverged else ("a logged reward or KL is not finite" if not_finite else None),
    }


def domain_difference(entry: dict[str, Any] | None, reference: dict[str, Any] | None) -> dict[str, Any] | None:
    """Paired difference of two domain-metric entries (``{"value", "stderr", "report": {"rows"}}``) on
    the examples both were scored on; None when either has no per-example rows."""
    from training.evaluate.paired import cell_f1, compare_rows

    rows = [((e or {}).get("report") or {}).get("rows") for e in (entry, reference)]
    return None if None in rows else compare_rows(rows[0], rows[1], cell_f1)


def _paired(entry: dict[str, Any] | None) -> str:
    if entry is None or entry["diff"] is None:
        return "n/a"
    text = f"{entry['diff']:+.3f}" + ("" if entry["stderr"] is None else f" ± {entry['stderr']:.3f}")
    return f"**{text}**" if entry["significant"] else text


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _domain(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "not run"
    se = entry.get("stderr")
    return f"{entry['value']:.3f}" + ("" if se is None else f" ± {se:.3f}")


def render_markdown(result: dict[str, Any]) -> str:
    """ablation.md: the command, the variants' settings and the table of figures."""
    k = result["config"]["last_k"]
    metric = result["domain_metric_label"]
    lines = [f"# PPO ablation: {result['name']}", "", f"Made by: `{result['command']}`", "",
             f"Base PPO config `{result['config']['base_config']}` with, for every variant: "
             f"`{result['config']['ppo']}`; seed {result['seed']} for all. One run per variant under "
             f"`{result['runs_dir']}`.", "",
             f"| variant | change | steps | mean reward, last {k} | mean KL, last {k} | final KL coef | "
             f"{metric} | {metric} − full (paired) | reward variance, last {k} | diverged |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    if result.get("start") is not None:
        lines.append(f"| start model (before PPO) | | 0 | | | | {_domain(result['start'])} | "
                     f"{_paired(result.get('start_vs_full'))} | | |")
    for name, row in result["variants"].items():
        s = row["summary"]
        lines.append(f"| {name} | {VARIANTS[name][0]} | {s['steps']} | {_fmt(s['final_reward'])} | {_fmt(s['final_kl'])} | "
                     f"{_fmt(s['final_kl_coef'], 4)} | {_domain(row.get('domain'))} | {_paired(row.get('domain_vs_full'))} | "
                     f"{_fmt(s['reward_variance'], 4)} | "
                     f"{'yes' if s['diverged'] else 'no'} |")
    lines += ["", "Reward is the raw score (reward model and task terms, weighted, before scaling and the KL "
              "penalty), so it compares across variants; KL is nats per reply (sum over its tokens). "
              f"Variance is the sample variance of the per-step mean reward over the last {k} steps. "
              "Diverged: the trainer stopped the run on a NaN/inf or too large loss, gradient or reward, "
              "or a logged figure was not finite. The paired difference from full is taken on the examples both "
              "checkpoints were scored on (paired bootstrap standard error); bold when it exceeds 2 standard "
              "errors, n/a without per-example rows.", ""]
    for name, row in result["variants"].items():
        if row["summary"]["divergence"]:
            lines.append(f"- {name}: {row['summary']['divergence']}")
    lines += ["", "![reward and KL per step](ablation.png)", ""]
    return "\n".join(lines)


def plot_curves(runs: dict[str, Path], path: Path) -> Path:
    """Raw reward and KL per PPO step, one line per variant, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (reward_ax, kl_ax) = plt.subplots(1, 2, figsize=(12, 4))
    markers = "osD^v<>"  # variants that coincide stay visible
    for index, (name, metrics_file) in enumerate(runs.items()):
        records = [r for r in step_records(metrics_file)
                   if r["reward"] is not None and r["kl"] is not None]
        steps = [r["step"] for r in records]
        style = {"marker": markers[index % len(markers)], "markersize": 9 - index, "label": name, "alpha": 0.85}
        reward_ax.plot(steps, [r["reward"] for r in records], **style)
        kl_ax.plot(steps, [r["kl"] for r in records], **style)
    for ax, title in ((reward_ax, "reward (raw score)"), (kl_ax, "KL (nats per reply)")):
        ax.set_title(title)
        ax.set_xlabel("PPO step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
