"""The ad expert's report: evaluations of several models side by side, per set, paired per ad.

Input: ``icegrt eval ads`` JSONs (``{"model", "mode", "task_format", "rows", "summary"}``), each
with a label. Output: markdown tables (ad level, policy level, revisions, latency), the paired
differences of the first evaluation against each other one (per-ad correctness of the ad-level
verdict and per-ad policy F1, paired standard errors), and a figure of ad-level F1 per set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.ad_compliance.scorer import example_f1
from training.evaluate.ads import SUBSETS
from training.evaluate.report_plots import headless_pyplot, grouped_bars
from training.evaluate.stats import paired_difference


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _diff(d: dict[str, Any]) -> str:
    if d["diff"] is None:
        return "–"
    text = f"{d['diff']:+.3f} ± {_fmt(d['stderr'])}"
    return f"**{text}**" if d["significant"] else text


def _paired(first: dict, other: dict, subset: str) -> dict[str, dict[str, Any]]:
    mine = {r["id"]: r for r in first["rows"] if r["subset"] == subset}
    theirs = {r["id"]: r for r in other["rows"] if r["subset"] == subset}
    ids = [i for i in mine if i in theirs]

    def correct(r: dict) -> float:
        return float(bool(r["gold"]) == bool(r["predicted"]))

    return {"ad_correct": paired_difference([correct(mine[i]) for i in ids], [correct(theirs[i]) for i in ids]),
            "policy_f1": paired_difference([example_f1(mine[i]["gold"], mine[i]["predicted"]) for i in ids],
                                           [example_f1(theirs[i]["gold"], theirs[i]["predicted"]) for i in ids])}


def render(evals: dict[str, dict[str, Any]]) -> str:
    """Markdown of the evaluations (first = the model under test)."""
    labels = list(evals)
    lines = ["| system | model | mode (task format) | ads | checks/s | command |", "|---|---|---|---|---|---|"]
    for label, data in evals.items():
        lines.append(f"| {label} | {data.get('model', '?')} | {data.get('mode', '?')} ({data.get('task_format', '?')}) "
                     f"| {len(data['rows'])} | {_fmt(data.get('checks_per_s'), 2)} | `{data.get('command', '')}` |")
    lines += ["", "| set | system | n (pos/neg) | precision | recall | F1 | FPR | micro F1 | macro F1 "
             "| recall − rules (paired) | FPR − rules (paired) |", "|" + "---|" * 11]
    for subset in SUBSETS:
        for label in labels:
            s = evals[label]["summary"].get(subset)
            if s is None:
                continue
            a = s["ad_level"]
            lines.append(f"| {subset} | {label} | {s['n']} ({s['positives']}/{s['negatives']}) | {_fmt(a['precision'])} "
                         f"| {_fmt(a['recall'])} | {_fmt(a['f1'])} | {_fmt(a['fpr'])} | {_fmt(s['policy']['micro_f1'])} "
                         f"| {_fmt(s['policy']['macro_f1'])} | {_diff(s['recall_vs_rules'])} | {_diff(s['fpr_vs_rules'])} |")
        s = evals[labels[0]]["summary"].get(subset)
        if s is not None:
            r, p = s["rules_ad_level"], s["rules_policy"]
            lines.append(f"| {subset} | rules alone | {s['n']} | {_fmt(r['precision'])} | {_fmt(r['recall'])} "
                         f"| {_fmt(r['f1'])} | {_fmt(r['fpr'])} | {_fmt(p['micro_f1'])} | {_fmt(p['macro_f1'])} | | |")
    lines += ["", "Revisions, over the revisable ads each system flagged (model-written: the rule rewrite not counted):",
              "", "| set | system | n | model-written pass rate | of those, keep product | any pass rate "
              "| rule fallback rate | p50 s per check |", "|" + "---|" * 8]
    for subset in SUBSETS:
        for label in labels:
            s = evals[label]["summary"].get(subset)
            if s is None:
                continue
            v = s["revisions"]
            lines.append(f"| {subset} | {label} | {v['n']} | {_fmt(v['model_pass_rate'])} "
                         f"| {_fmt(v['model_keeps_product_rate'])} | {_fmt(v['any_pass_rate'])} "
                         f"| {_fmt(v['rules_fallback_rate'])} | {_fmt(s['seconds_p50'], 2)} |")
    if len(labels) > 1:
        lines += ["", f"Paired per ad, {labels[0]} minus each other system (mean difference ± paired standard "
                  "error; bold beyond 2 SE):", "", "| set | versus | ad verdict correct | policy F1 per ad |",
                  "|---|---|---|---|"]
        for subset in SUBSETS:
            for label in labels[1:]:
                if subset in evals[labels[0]]["summary"] and subset in evals[label]["summary"]:
                    d = _paired(evals[labels[0]], evals[label], subset)
                    lines.append(f"| {subset} | {label} | {_diff(d['ad_correct'])} | {_diff(d['policy_f1'])} |")
    return "\n".join(lines) + "\n"


def plot(evals: dict[str, dict[str, Any]], path: Path) -> None:
    """Ad-level F1 per set, one bar per system, the rules alone beside them."""
    plt = headless_pyplot()
    series: dict[str, dict[str, tuple[float, float | None]]] = {}
    first = next(iter(evals.values()))["summary"]
    series["rules alone"] = {s: (first[s]["rules_ad_level"]["f1"], None) for s in first}
    for label, data in evals.items():
        series[label] = {s: (v["ad_level"]["f1"], None) for s, v in data["summary"].items()}
    figure, axes = plt.subplots(figsize=(8, 4))
    grouped_bars(axes, [s for s in SUBSETS if s in first], series, "ad-level F1")
    axes.set_ylim(0, 1)
    axes.set_title("Ad-level F1 (an ad is positive when it breaks any policy)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
