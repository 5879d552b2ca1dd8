"""Can a linear verdict head on the model's hidden states add recall beyond the rules? (issue 15)

The generated verdict of every SFT checkpoint so far sits at or below chance on the hand-written ads
(results/ads-expert/calibrated/, balanced/). This tests the alternative the linear-probe analysis
pointed to, on the length-balanced generator: a logistic regression on hidden states (middle layer
averaged over the compact prompt; last layer at the verdict position) fit on generated train ads,
combined with the rules the way the endpoint would (an ad is flagged when a rule fires OR the head's
P(violation) passes a threshold). The threshold is set on generated dev ads, never on hand-written
ones: the lowest one whose combined false-positive rate stays within `FPR_BUDGET` of the rules'.

Three heads per feature: one fit on all train ads; one fit only on the train ads the rules pass (the
only ads where the head can change the verdict); one fit on all train ads plus the gold revision of each
violating one as a compliant twin (the two differ only in the violating spans). Figures per set: AUC of the head, and the combined
system's recall and FPR minus the rules', paired per ad (mean difference and its standard error).

Usage (from the repository root; scikit-learn comes with the `harness-check` extra; about 0.3 s per
ad on 2 threads, features cached under runs/verdict_head/):
    python results/ads-expert/verdict-head/verdict_head.py MODEL N_TRAIN THREADS OUT.json [PROBE.json]
writes OUT.json, OUT.md (the table) and OUT.png (the sweep); PROBE.json, an `icegrt eval ads-probe --split
handwritten` result, adds the head's AUC minus the generated verdict's on the same hand-written ads.
"""
import hashlib
import json
import math
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from transformers import AutoModelForCausalLM, AutoTokenizer

from common.models import resolve_model
from tasks.ad_compliance.compact import compact_messages, render_ad
from tasks.ad_compliance.data import generate_dataset, load_handwritten
from tasks.ad_compliance.detectors import detect
from tasks.ad_compliance.generator.details import DETAILS_BY_POOL
from training.data.ad_compliance import AD_SEED
from training.evaluate.ads_probe import auc, decision_tokens

FPR_BUDGET = 0.05
CACHE = Path("runs/verdict_head")


def hidden_features(model, tok, recs) -> dict[str, np.ndarray]:
    """Per ad: the middle layer averaged over the prompt, and the last layer at the verdict position."""
    opening, _, _ = decision_tokens(tok)
    mid = model.config.num_hidden_layers // 2
    rows = {"mid_mean": [], "last_verdict": []}
    start = time.time()
    for i, r in enumerate(recs):
        text = tok.apply_chat_template(compact_messages(r.ad), tokenize=False, add_generation_prompt=True)
        ids = tok.encode(text, add_special_tokens=False) + opening
        with torch.no_grad():  # the bare transformer: the 49k-wide lm_head is most of a forward's cost
            states = model.model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        rows["mid_mean"].append(states[mid][0].mean(0).numpy())
        rows["last_verdict"].append(states[-1][0, -1].numpy())
        if (i + 1) % 200 == 0:
            print(f"  {i + 1}/{len(recs)} ads, {time.time() - start:.0f}s", flush=True)
    return {k: np.stack(v) for k, v in rows.items()}


def cached_features(spec: str, name: str, recs) -> dict[str, np.ndarray]:
    """Features of `recs`, cached under a digest of the ads (a changed generator is not read from the cache)."""
    digest = hashlib.sha256("\n".join(render_ad(r.ad) for r in recs).encode("utf-8")).hexdigest()[:12]
    path = CACHE / f"{spec.replace('/', '_')}_{name}_{len(recs)}_{digest}.npz"
    if path.exists():
        return dict(np.load(path))
    model_path = resolve_model(spec)
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    print(f"{spec}: features of {len(recs)} {name} ads", flush=True)
    feats = hidden_features(model, tok, recs)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **feats)
    return feats


def paired(diffs: np.ndarray) -> dict[str, float]:
    """Mean of per-ad differences and its standard error (sample SD / sqrt(n))."""
    n = len(diffs)
    sd = float(np.std(diffs, ddof=1)) if n > 1 else 0.0
    return {"mean": round(float(diffs.mean()), 3), "se": round(sd / math.sqrt(n), 3), "n": n}


def evaluate(p: np.ndarray, threshold: float, y: np.ndarray, rules: np.ndarray) -> dict:
    """The combined system (rules OR head) against rules alone on one set."""
    combined = rules | (p >= threshold)
    pos, neg = y, ~y
    tp, fp = int((combined & pos).sum()), int((combined & neg).sum())
    precision = tp / max(1, int(combined.sum()))
    recall = tp / max(1, int(pos.sum()))
    return {
        "n": int(len(y)), "positives": int(pos.sum()),
        "head_auc": round(auc(list(p[pos]), list(p[neg])) or float("nan"), 3),
        "rules_recall": round(float(rules[pos].mean()), 3), "rules_fpr": round(float(rules[neg].mean()), 3),
        "recall": round(recall, 3), "fpr": round(fp / max(1, int(neg.sum())), 3),
        "f1": round(2 * precision * recall / max(1e-9, precision + recall), 3),
        "recall_minus_rules": paired((combined[pos].astype(float) - rules[pos].astype(float))),
        "fpr_minus_rules": paired((combined[neg].astype(float) - rules[neg].astype(float))),
    }


def main() -> None:
    spec, n_train = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(int(sys.argv[3]))
    records = generate_dataset(seed=AD_SEED)
    sets = {"train": [r for r in records if r.split == "train"][:n_train],
            "dev": [r for r in records if r.split == "dev"],
            "generated_test": [r for r in records if r.split == "test"]}
    hand = load_handwritten()
    sets["handwritten_plain"] = [r for r in hand if not r.subtle]
    sets["handwritten_subtle"] = [r for r in hand if r.subtle]
    feats = {name: cached_features(spec, name, recs) for name, recs in sets.items()}
    # compliant twins: each violating train ad with its gold revision (every quote replaced by its fix)
    twins = [SimpleNamespace(ad=r.revision.to_ad(r.ad)) for r in sets["train"] if r.labels and r.revision]
    twin_feats = cached_features(spec, "train_revisions", twins)
    labels = {name: np.array([bool(r.labels) for r in recs]) for name, recs in sets.items()}
    rules = {name: np.array([bool(detect(r.ad)) for r in recs]) for name, recs in sets.items()}

    versus = {}
    if len(sys.argv) > 5:  # an `icegrt eval ads-probe --split handwritten` JSON: the generated verdict's P(violation)
        probe = json.loads(Path(sys.argv[5]).read_text())
        versus = {row["id"]: row["p_violation"] for row in probe["rows"]}
    result = {"model": spec, "n_train": n_train, "fpr_budget": FPR_BUDGET, "heads": {},
              "versus_probe": sys.argv[5] if versus else None}
    for feature in feats["train"]:
        for fit_on in ("all", "rule_negative", "with_twins"):
            x, y = feats["train"][feature], labels["train"]
            if fit_on == "rule_negative":
                x, y = x[~rules["train"]], y[~rules["train"]]
            elif fit_on == "with_twins":
                x, y = np.concatenate([x, twin_feats[feature]]), np.concatenate([y, np.zeros(len(twins), bool)])
            head = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=8, max_iter=3000)).fit(x, y)
            probs = {name: head.predict_proba(f[feature])[:, 1] for name, f in feats.items()}
            dev_neg = ~labels["dev"]
            allowed = rules["dev"][dev_neg].mean() + FPR_BUDGET
            threshold = min((t for t in np.unique(probs["dev"])
                             if (rules["dev"] | (probs["dev"] >= t))[dev_neg].mean() <= allowed), default=1.0)
            key = f"{feature}/{fit_on}"
            result["heads"][key] = {"threshold": round(float(threshold), 4), "sets": {
                name: evaluate(probs[name], threshold, labels[name], rules[name]) for name in sets if name != "train"},
                "sweep": {name: sweep(probs[name], labels[name], rules[name]) for name in sets if name != "train"}}
            result["heads"][key]["p_by_details"] = p_by_details(probs["generated_test"], sets["generated_test"],
                                                                labels["generated_test"])
            if versus:
                result["heads"][key]["auc_minus_generated_verdict"] = {
                    name: auc_difference(probs[name], versus, sets[name], labels[name])
                    for name in ("handwritten_plain", "handwritten_subtle")}
            print(key, json.dumps(result["heads"][key]["sets"]), flush=True)
    out = Path(sys.argv[4])
    out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, out.with_suffix(".png"))
    out.with_suffix(".md").write_text(report(result))


def auc_difference(p: np.ndarray, versus: dict[str, float], recs, y: np.ndarray, reps: int = 2000) -> dict:
    """AUC of the head minus AUC of the generated verdict on the same ads, with a paired bootstrap SE
    (the ads resampled together for both scores)."""
    q = np.array([versus[r.id] for r in recs])
    rng = np.random.default_rng(0)

    def diff(idx: np.ndarray) -> float:
        yy = y[idx]
        return auc(list(p[idx][yy]), list(p[idx][~yy])) - auc(list(q[idx][yy]), list(q[idx][~yy]))

    boots = [diff(idx) for idx in (rng.integers(0, len(y), len(y)) for _ in range(reps))
             if 0 < y[idx].sum() < len(idx)]
    return {"head_auc": round(auc(list(p[y]), list(p[~y])), 3), "generated_auc": round(auc(list(q[y]), list(q[~y])), 3),
            "difference": round(diff(np.arange(len(y))), 3), "se": round(float(np.std(boots, ddof=1)), 3)}


def p_by_details(p: np.ndarray, recs, y: np.ndarray) -> dict[str, list[list[float]]]:
    """Mean P(violation) per number of neutral details (generator/details.py) in the ad's body, per class:
    a head that learned "ordinary sentences mean compliant" scores ads with fewer of them higher."""
    patterns = [re.compile(re.escape(t).replace(r"\{name\}", ".+?").replace(r"\{item\}", ".+?"))
                for pool in DETAILS_BY_POOL.values() for t in pool]
    counts = np.array([sum(bool(pat.search(r.ad.body)) for pat in patterns) for r in recs])
    return {cls: [[int(c), round(float(p[mask & (counts == c)].mean()), 3), int((mask & (counts == c)).sum())]
                  for c in np.unique(counts[mask])]
            for cls, mask in (("violating", y), ("compliant", ~y))}


def sweep(p: np.ndarray, y: np.ndarray, rules: np.ndarray) -> list[list[float]]:
    """[threshold, recall, FPR] of rules OR head over a grid of thresholds."""
    rows = []
    for t in np.linspace(0, 1, 101):
        combined = rules | (p >= t)
        rows.append([round(float(t), 2), round(float(combined[y].mean()), 3), round(float(combined[~y].mean()), 3)])
    return rows


def plot(result: dict, path: Path) -> None:
    """Recall against FPR of rules OR head as the threshold moves, per set; the rules alone and the
    dev-calibrated threshold marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads = [k for k in result["heads"] if k.endswith("/all")]
    names = list(result["heads"][heads[0]]["sets"])
    fig, axes = plt.subplots(1, len(heads), figsize=(5.5 * len(heads), 4.8), squeeze=False)
    for ax, key in zip(axes[0], heads):
        for name in names:
            grid = np.array(result["heads"][key]["sweep"][name])
            line, = ax.plot(grid[:, 2], grid[:, 1], label=name)
            at = result["heads"][key]["sets"][name]
            ax.plot([at["fpr"]], [at["recall"]], "o", color=line.get_color())
            ax.plot([at["rules_fpr"]], [at["rules_recall"]], "x", color=line.get_color(), markersize=9)
        ax.set(title=f"rules OR head ({key.split('/')[0]})", xlabel="false-positive rate", ylabel="recall",
               xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8, title="x rules alone, o dev-set threshold", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(result: dict) -> str:
    lines = [f"Verdict head on {result['model']} hidden states, fit on {result['n_train']} generated train ads; "
             f"threshold: the lowest whose rules-OR-head FPR on generated dev is within {result['fpr_budget']} of "
             "the rules'. Differences are paired per ad (mean ± SE).", "",
             "| head (features / fit on) | set | n (pos) | head AUC | rules recall / FPR | recall / FPR | F1 "
             "| recall − rules | FPR − rules |", "|---|---|---|---|---|---|---|---|---|"]
    for key, head in result["heads"].items():
        for name, s in head["sets"].items():
            r, f = s["recall_minus_rules"], s["fpr_minus_rules"]
            lines.append(f"| {key} (t {head['threshold']}) | {name} | {s['n']} ({s['positives']}) | {s['head_auc']} | "
                         f"{s['rules_recall']} / {s['rules_fpr']} | {s['recall']} / {s['fpr']} | {s['f1']} | "
                         f"{r['mean']:+.3f} ± {r['se']:.3f} | {f['mean']:+.3f} ± {f['se']:.3f} |")
    lines += ["", "Mean P(violation) by the number of neutral details in a generated test ad (count: mean P, ads):", ""]
    for key, head in result["heads"].items():
        cells = "; ".join(f"{cls} " + ", ".join(f"{c}: {m} ({n})" for c, m, n in rows)
                          for cls, rows in head["p_by_details"].items())
        lines.append(f"- {key}: {cells}")
    if result["versus_probe"]:
        lines += ["", f"Head AUC minus the generated verdict's (P(violation) at the verdict token, {result['versus_probe']}),"
                  " paired bootstrap SE:", "", "| head | set | head AUC | generated AUC | difference |", "|---|---|---|---|---|"]
        for key, head in result["heads"].items():
            for name, d in head["auc_minus_generated_verdict"].items():
                lines.append(f"| {key} | {name} | {d['head_auc']} | {d['generated_auc']} | "
                             f"{d['difference']:+.3f} ± {d['se']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
