"""Would a calibrated model verdict make the hybrid ad check better than the rules alone? (issue 15)

The endpoint's hybrid verdict flags an ad when the rules or the model's greedy answer name a violation.
The shipped model holds every ad near even odds at its verdict token (results/ppo-findings/), so its
greedy "flag" adds recall and false positives alike (results/ads-expert/report.md: FPR +0.17 on the
hand-written plain ads). A calibrated verdict reads the model's probability of opening a finding
(`icegrt eval ads-probe`'s p_violation) and flags only above a threshold chosen on the generated dev ads.
This sweeps that threshold and, at the one dev picks (the lowest whose hybrid adds at most
`EXTRA_FPR` false-positive rate over the rules on dev), compares hybrid and rules per ad on every set.

It also reads how much of p_violation is the ad's length: the generator adds each violation as an extra
sentence, so on generated ads a longer ad is more often a violating one.

Usage: python calibrated_verdict.py DEV_PROBE TEST_PROBE HANDWRITTEN_PROBE EVAL_TRAINED_JSON > report.md
(writes sweep.png beside this file)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tasks.ad_compliance.compact import render_ad  # noqa: E402
from tasks.ad_compliance.data import generate_dataset, load_handwritten  # noqa: E402
from tasks.ad_compliance.detectors import detected_policy_ids  # noqa: E402
from training.data.ad_compliance import AD_SEED  # noqa: E402
from training.evaluate.ads_probe import auc  # noqa: E402
from training.evaluate.stats import paired_difference  # noqa: E402

HERE = Path(__file__).parent
EXTRA_FPR = 0.05
SETS = ("generated_test", "handwritten_plain", "handwritten_subtle")


def ads_of(probe_path: str) -> list[dict]:
    return json.loads(Path(probe_path).read_text())["rows"]


def rates(ads: list[dict], flag) -> dict[str, float]:
    pos, neg = [a for a in ads if a["violating"]], [a for a in ads if not a["violating"]]
    tp, fp = sum(flag(a) for a in pos), sum(flag(a) for a in neg)
    recall, fpr = tp / len(pos), fp / len(neg)
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"recall": recall, "fpr": fpr, "precision": precision, "f1": f1}


def correlation(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return cov / (sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y)) ** 0.5


def pick_threshold(dev: list[dict]) -> float:
    """The lowest p_violation threshold whose hybrid adds at most EXTRA_FPR false-positive rate on dev."""
    rules_fpr = rates(dev, lambda a: a["rules"])["fpr"]
    for t in sorted({a["p_violation"] for a in dev}):
        if rates(dev, lambda a: a["rules"] or a["p_violation"] > t)["fpr"] <= rules_fpr + EXTRA_FPR:
            return t
    return 1.0


def paired(ads: list[dict], flag, kind: bool) -> str:
    chosen = [a for a in ads if a["violating"] == kind]
    d = paired_difference([float(bool(flag(a))) for a in chosen], [float(bool(a["rules"])) for a in chosen])
    text = f"{d['diff']:+.3f} ± {d['stderr']:.3f}" if d["stderr"] is not None else f"{d['diff']:+.3f}"
    return f"**{text}**" if d["significant"] else text


def main(dev_probe: str, test_probe: str, handwritten_probe: str, eval_trained: str) -> None:
    records = {r.id: r for r in [*generate_dataset(seed=AD_SEED), *load_handwritten()]}
    dev = ads_of(dev_probe)
    for a in dev:
        a["rules"] = bool(detected_policy_ids(records[a["id"]].ad))
    endpoint = {r["id"]: r for r in json.loads(Path(eval_trained).read_text())["rows"]}
    sets: dict[str, list[dict]] = {name: [] for name in SETS}
    for a in ads_of(test_probe) + ads_of(handwritten_probe):
        row = endpoint[a["id"]]
        sets[row["subset"]].append({**a, "rules": bool(row["rules"]), "greedy_hybrid": bool(row["predicted"])})
    for a in [*dev, *(a for ads in sets.values() for a in ads)]:
        a["length"] = len(render_ad(records[a["id"]].ad))
    t = pick_threshold(dev)

    def calibrated(a):
        return a["rules"] or a["p_violation"] > t

    print("# A calibrated model verdict beside the rules (issue 15), the shipped ICE-GRT-SmolLM2-135M\n")
    print(f"Threshold {t:.4f} on p_violation: the lowest whose hybrid (rules, or the model above it) adds at most "
          f"{EXTRA_FPR} false-positive rate over the rules on the 200 generated dev ads. Paired per ad against the "
          "rules alone (± paired SE; bold beyond 2 SE). 'greedy hybrid' is the endpoint today "
          "(results/ads-expert/eval_trained.json).\n")
    print("How well p_violation ranks violating above compliant ads on each set (AUC; 0.5 is chance), beside "
          "the AUC of the rendered ad's length in characters alone, and the correlation of the two:\n")
    print("| set | AUC of p_violation | AUC of length alone | corr(p_violation, length) |")
    print("|---|---:|---:|---:|")
    train = [r for r in generate_dataset(seed=AD_SEED) if r.split == "train"]
    train_auc = auc([len(render_ad(r.ad)) for r in train if r.labels], [len(render_ad(r.ad)) for r in train if not r.labels])
    print(f"| generated_train (what SFT saw) | | {train_auc:.3f} | |")
    for name, ads in [("generated_dev", dev), *sets.items()]:
        model_auc = auc([a["p_violation"] for a in ads if a["violating"]], [a["p_violation"] for a in ads if not a["violating"]])
        length_auc = auc([a["length"] for a in ads if a["violating"]], [a["length"] for a in ads if not a["violating"]])
        print(f"| {name} | {model_auc:.3f} | {length_auc:.3f} | {correlation([a['p_violation'] for a in ads], [a['length'] for a in ads]):.2f} |")
    print()
    print("| set | n (pos/neg) | system | recall | FPR | precision | F1 | recall − rules | FPR − rules |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, ads in [("generated_dev (threshold set here)", dev), *sets.items()]:
        pos = sum(a["violating"] for a in ads)
        systems = [("rules alone", lambda a: a["rules"]), ("calibrated hybrid", calibrated)]
        if "greedy_hybrid" in ads[0]:
            systems.append(("greedy hybrid", lambda a: a["greedy_hybrid"]))
        for label, flag in systems:
            r = rates(ads, flag)
            diffs = "| |" if label == "rules alone" else f"| {paired(ads, flag, True)} | {paired(ads, flag, False)} |"
            print(f"| {name} | {len(ads)} ({pos}/{len(ads) - pos}) | {label} | {r['recall']:.3f} | {r['fpr']:.3f} | "
                  f"{r['precision']:.3f} | {r['f1']:.3f} {diffs}")

    fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharey=True)
    for ax, (name, ads) in zip(axes, [("generated_dev", dev), *sets.items()]):
        sweep = [rates(ads, lambda a, u=u: a["rules"] or a["p_violation"] > u) for u in [i / 100 for i in range(101)]]
        ax.plot([s["fpr"] for s in sweep], [s["recall"] for s in sweep], label="rules or p > threshold")
        rules = rates(ads, lambda a: a["rules"])
        ax.plot(rules["fpr"], rules["recall"], "ks", label="rules alone")
        chosen = rates(ads, calibrated)
        ax.plot(chosen["fpr"], chosen["recall"], "ro", label=f"threshold {t:.2f} (from dev)")
        if "greedy_hybrid" in ads[0]:
            greedy = rates(ads, lambda a: a["greedy_hybrid"])
            ax.plot(greedy["fpr"], greedy["recall"], "g^", label="greedy hybrid (endpoint)")
        ax.set_title(name)
        ax.set_xlabel("false-positive rate")
    axes[0].set_ylabel("recall (ad level)")
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "sweep.png", dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:5])
