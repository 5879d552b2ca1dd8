"""report.md from the dict of :func:`training.evaluate.report.build_report`: tables of numbers with
standard errors and plain statements of which differences exceed 2 standard errors (paired ones,
on per-example differences, marked *paired, n = ...*; significant readings in bold)."""

from __future__ import annotations

from typing import Any

from training.evaluate.report import DOMAIN_METRICS, SIGNIFICANCE


def _fmt(value: tuple[float, float | None] | None) -> str:
    if value is None:
        return "not run"
    mean, stderr = value
    return f"{mean:.3f}" if stderr is None else f"{mean:.3f} ± {stderr:.3f}"


def _signed(row: dict[str, Any]) -> str:
    text = f"{row['diff']:+.3f}" + ("" if row["stderr"] is None else f" ± {row['stderr']:.3f}")
    if row.get("method", "unpaired") == "unpaired":
        return text
    ci = "" if row.get("ci_low") is None else f", 95% CI [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    return f"{text} (paired, n = {row['n']}{ci})"


def _marked(reading: str) -> str:
    return f"**{reading}**" if reading in ("higher", "lower") else reading


def _label(kind: str, metric: str) -> str:
    return DOMAIN_METRICS[metric][0] if kind == "domain" else ("General average" if metric == "average" else metric)


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _side_by_side(report: dict[str, Any], kind: str, figure: str) -> list[str]:
    labels = list(report["checkpoints"])
    data = report[kind]
    missing = [label for label in labels if not data.get(label)]
    title = "General benchmarks" if kind == "general" else "Domain metrics"
    lines = [f"## {title}", ""]
    if len(missing) == len(labels):
        how = "`icegrt eval general`" if kind == "general" else "`icegrt eval domain`"
        return lines + [f"{title} were not run for any checkpoint (give a {how} JSON per checkpoint, or run them "
                        "from this command).", ""]
    keys = list(dict.fromkeys(k for label in labels for k in (data.get(label) or {})))
    rows = [[_label(kind, key), *(_fmt((data.get(label) or {}).get(key)) if data.get(label) else "not run"
                                  for label in labels)] for key in keys]
    lines += _table(rows, ["metric", *labels])
    if missing:
        lines += ["", f"Not run for: {', '.join(missing)}."]
    return lines + ["", f"![{title}]({figure})", ""]


def _comparison(report: dict[str, Any], compared: dict[str, Any]) -> list[str]:
    a, b = compared["a"], compared["b"]
    lines = [f"## {a} against {b}", ""]
    if not compared["rows"] and compared["win_rate"] is None:
        return lines + [f"No metric was measured for both {a} and {b}.", ""]
    rows = [[_label(r["kind"], r["metric"]), _fmt(tuple(r[b])), _fmt(tuple(r[a])), _signed(r), _marked(r["reading"])]
            for r in compared["rows"]]
    if rows:
        lines += _table(rows, ["metric", b, a, f"{a} − {b}", "reading"])
        lines += ["", f"Reading: **higher**/**lower** when |difference| > {SIGNIFICANCE:g} × its stderr; otherwise "
                  "*within 2 stderr*. A *paired* difference is taken on the n examples both checkpoints were scored "
                  "on (per-example rows of the two evaluations): its stderr is that of the per-example differences, "
                  "or of a paired bootstrap for F1 and pass rates, and its CI a paired bootstrap percentile interval. "
                  "A difference not marked paired comes from evaluations without per-example rows: the two "
                  "checkpoints' stderrs are added in quadrature, which overstates the noise.", ""]
    for kind, what in (("domain", "domain metrics"), ("general", "general benchmarks")):
        rows_of = [r for r in compared["rows"] if r["kind"] == kind]
        if not rows_of:
            lines.append(f"- {what}: not measured for both.")
            continue
        phrases = {"higher": f"{a} higher than {b}", "lower": f"{a} lower than {b}",
                   "within 2 stderr": f"{a} within 2 stderr of {b}", "no stderr": "no stderr to judge by"}
        for reading, phrase in phrases.items():
            names = [_label(kind, r["metric"]) for r in rows_of if r["reading"] == reading]
            if names:
                lines.append(f"- {what}, {phrase}: {'; '.join(names)}.")
    win = compared["win_rate"]
    if win is not None and win.get("win_rate") is not None:
        se = "" if win["stderr"] is None else f" ± {win['stderr']:.3f}"
        beyond = win["stderr"] is not None and abs(win["win_rate"] - 0.5) > SIGNIFICANCE * win["stderr"]
        lines.append(f"- Multi-turn chat, judged pairwise by the reward model: {a} wins {win['win_rate']:.3f}{se} "
                     f"of {win['n']} conversations against {b} ({win['wins']} wins, {win['ties']} ties, "
                     f"{win['losses']} losses; {'beyond' if beyond else 'within'} 2 stderr of 0.5).")
    else:
        lines.append(f"- Multi-turn chat win rate of {a} over {b}: not run (the {a} domain JSON has no --versus {b}).")
    return lines + [""]


def _training(report: dict[str, Any], figure: str | None) -> list[str]:
    runs = report["inputs"]["runs"]
    lines = ["## Training curves", ""]
    stages = {run["stage"]: run for run in runs}
    for stage in ("sft", "reward", "ppo"):
        run = stages.get(stage)
        if run is None:
            lines.append(f"- {stage}: no run given.")
            continue
        steps = [r for r in run["records"] if "step" in r]
        last = max((r["step"] for r in steps), default=0)
        lines.append(f"- {stage}: `{run['path']}`, {len(steps)} records up to step {last}.")
    return lines + ([""] + ([f"![Training curves]({figure})", ""] if figure else []))


def render_markdown(report: dict[str, Any], figures: dict[str, str]) -> str:
    """The whole report.md; `figures` maps general/domain/training to PNG file names."""
    lines = [f"# Evaluation report: {report['name']}", "", f"Made by: `{report['command']}`", "",
             "| checkpoint | path |", "|---|---|",
             *(f"| {label} | `{path}` |" for label, path in report["checkpoints"].items()), "",
             "Every figure is the value ± its standard error. Missing parts say *not run*.", ""]
    lines += _side_by_side(report, "general", figures.get("general", ""))
    lines += _side_by_side(report, "domain", figures.get("domain", ""))
    for compared in report["comparisons"]:
        lines += _comparison(report, compared)
    lines += _training(report, figures.get("training"))
    return "\n".join(lines).rstrip() + "\n"
