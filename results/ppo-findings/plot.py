"""probes.png: each PPO checkpoint's change against the start model, paired over the same dev ads
(the ``against`` field of its ``icegrt eval ads-probe --against`` JSON): the shift of the log-odds of
flagging on violating and compliant ads (left) and the AUC change (right), each +- 2 paired SE.

    .venv/bin/python results/ppo-findings/plot.py
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
RUNS = [  # (label, probe file)
    ("no ad reward, step 10", "probe_noadreward_step10.json"),
    ("findings, ads only, step 10", "probe_adsonly_step10.json"),
    ("findings, ads only, seed 1, step 10", "probe_adsonly_seed1_step10.json"),
    ("findings, ads + tables, step 10", "probe_findings_step10.json"),
    ("verdict, step 5", "probe_verdict_step5.json"),
    ("verdict, step 10", "probe_verdict_step10.json"),
]


def main() -> None:
    runs = [(label, json.loads((HERE / name).read_text())["against"]) for label, name in RUNS if (HERE / name).exists()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.6 * len(runs) + 1.5), sharey=True)
    rows = range(len(runs))
    for offset, kind, colour in ((-0.15, "violating", "tab:red"), (0.15, "compliant", "tab:blue")):
        left.errorbar([r["bias"][kind]["diff"] for _, r in runs], [y + offset for y in rows],
                      xerr=[2 * r["bias"][kind]["stderr"] for _, r in runs], fmt="o", color=colour, label=f"{kind} ads")
    right.errorbar([r["auc"]["diff"] for _, r in runs], list(rows), xerr=[2 * r["auc"]["stderr"] for _, r in runs],
                   fmt="o", color="black")
    for axis in (left, right):
        axis.axvline(0, color="grey", lw=0.8)
    left.set_yticks(list(rows), [label for label, _ in runs])
    left.set_xlabel("log-odds of flagging, PPO - start (nats)")
    right.set_xlabel("AUC, PPO - start (start 0.701)")
    left.legend(loc="lower left")
    fig.suptitle("PPO moves every ad's verdict by the same amount and not the ranking (200 dev ads, +- 2 paired SE)")
    fig.tight_layout()
    fig.savefig(HERE / "probes.png", dpi=110)


if __name__ == "__main__":
    main()
