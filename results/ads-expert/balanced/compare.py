"""report.md for results/ads-expert/balanced/: the same SFT recipe (configs/sft_cpu.yaml) on ads whose
length no longer tells their label, against the shipped adapter trained on the ads that leaked it.
Per set, each model's verdict-token AUC and its correlation with the ad's length, and the paired
change (bias as a mean log-odds shift with its paired SE, AUC by a paired bootstrap). The hand-written
ads are the same for both; the dev ads are today's generator's, probed with both models.

Usage: python compare.py SHIPPED_DEV NEW_DEV SHIPPED_HANDWRITTEN NEW_HANDWRITTEN [OLD_LABEL NEW_LABEL TITLE] > report.md
(the labels and title default to this directory's comparison; ../no-twins/ passes its own, and "-" for
both dev files where the generator changed between the two runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tasks.ad_compliance.compact import render_ad
from tasks.ad_compliance.data import generate_dataset, load_handwritten
from training.data.ad_compliance import AD_SEED
from training.evaluate.ads_probe import ad_digest, auc, compare


def rows_of(path: str) -> list[dict]:
    return json.loads(Path(path).read_text())["rows"]


def correlation(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return cov / (sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y)) ** 0.5


def main(shipped_dev: str, new_dev: str, shipped_hw: str, new_hw: str, old_label: str = "shipped (leaky data)",
         new_label: str = "balanced data",
         title: str = "SFT on length-balanced ads against the shipped adapter (issue 15)") -> None:
    records = {r.id: r for r in [*generate_dataset(seed=AD_SEED), *load_handwritten()]}
    length = {i: len(render_ad(r.ad)) for i, r in records.items()}
    subtle = {r.id for r in load_handwritten() if r.subtle}
    sets = {} if shipped_dev == "-" else {"generated_dev": (rows_of(shipped_dev), rows_of(new_dev))}
    sets |= {
        "handwritten_plain": ([r for r in rows_of(shipped_hw) if r["id"] not in subtle],
                              [r for r in rows_of(new_hw) if r["id"] not in subtle]),
        "handwritten_subtle": ([r for r in rows_of(shipped_hw) if r["id"] in subtle],
                               [r for r in rows_of(new_hw) if r["id"] in subtle]),
    }
    stale = {r["id"] for old, new in sets.values() for r in [*old, *new] if ad_digest(records[r["id"]].ad) != r["ad_digest"]}
    if stale:  # the lengths below come from today's ads: a probe of other ads under the same ids would mislead
        sys.exit(f"{len(stale)} probed ads differ from today's generator (e.g. {sorted(stale)[0]}): "
                 "rerun at the commit that made the probes")
    print(f"# {title}\n")
    print("| set | ads (violating) | model | AUC | corr(P(violation), length) | mean P(violation) violating / compliant |")
    print("|---|---|---|---:|---:|---:|")
    changes = {}
    for name, (old, new) in sets.items():
        for label, rows in ((old_label, old), (new_label, new)):
            pos = [r["p_violation"] for r in rows if r["violating"]]
            neg = [r["p_violation"] for r in rows if not r["violating"]]
            corr = correlation([r["p_violation"] for r in rows], [length[r["id"]] for r in rows])
            print(f"| {name} | {len(rows)} ({len(pos)}) | {label} | {auc(pos, neg):.3f} | {corr:.2f} | "
                  f"{sum(pos) / len(pos):.3f} / {sum(neg) / len(neg):.3f} |")
        changes[name] = compare(new, old)
    print(f"\n{new_label} minus {old_label}, paired per ad:\n")
    print("| set | log-odds shift (all ads) | AUC change (paired bootstrap SE) |")
    print("|---|---:|---:|")
    for name, c in changes.items():
        bias, delta = c["bias"]["all"], c["auc"]
        mark = "**" if delta.get("significant") else ""
        print(f"| {name} | {bias['diff']:+.3f} ± {bias['stderr']:.3f} | {mark}{delta['diff']:+.3f} ± {delta['stderr']:.3f}{mark} |")


if __name__ == "__main__":
    main(*sys.argv[1:8])
