"""``icegrt eval report``: base, SFT and PPO side by side in results/NAME/ (report.md, PNGs,
report.json with every input, command.txt).

Evaluation JSONs are given (``--general-json label=path``, ``--domain-json label=path``) or made
here: ``--run-domain`` runs ``icegrt eval domain`` in-process and ``--run-general`` runs
``icegrt eval general`` for each checkpoint that has no JSON, writing them into results/NAME/ too.
With ``--run-domain`` and a reward model, the first comparison's checkpoint (ppo) is also judged
against the second (sft) on multi-turn chat: the pairwise win rate. Evaluations run here are
cached (:mod:`training.evaluate.cache`: same model files, examples and settings -> the same JSON),
so the base model is evaluated once for all reports; ``--no-eval-cache`` runs them afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from common.errors import UserError

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_COMPARISONS = (("ppo", "sft"), ("ppo", "base"), ("sft", "base"))


def _pair(text: str) -> tuple[str, str]:
    label, sep, value = text.partition("=")
    if not sep or not _LABEL.match(label) or not value:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH (label of letters, digits, . _ -), got {text!r}")
    return label, value


def _comparison(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(":")
    if not sep or not a or not b:
        raise argparse.ArgumentTypeError(f"expected A:B (two checkpoint labels), got {text!r}")
    return a, b


REPORT_DOMAIN_FIELDS = ("reward_model", "limit", "ads_limit", "table_limit", "chat_limit", "concurrency", "enforce_eager")
"""The :class:`training.evaluate.suite.DomainPlan` settings ``--run-domain`` takes as flags (the
engine's two also apply to ``--run-general``)."""


def add_report_parser(sub) -> None:
    from common.config import add_settings_arguments
    from training.evaluate.suite import DomainPlan

    p = sub.add_parser("report", help="Report comparing checkpoints (base, SFT, PPO): Markdown, PNGs, JSON in results/NAME/")
    p.add_argument("--name", required=True, help="Report name: written to <results-dir>/<name>/")
    p.add_argument("--checkpoint", type=_pair, action="append", required=True, metavar="LABEL=PATH",
                   help="A checkpoint (model name or directory) under a label, e.g. base=SmolLM2-135M-Instruct; repeat, in order")
    p.add_argument("--run", type=Path, action="append", default=[], help="A training run directory (runs/sft_cpu ...); repeat")
    p.add_argument("--general-json", type=_pair, action="append", default=[], metavar="LABEL=PATH",
                   help="`icegrt eval general --output` JSON of a checkpoint; repeat")
    p.add_argument("--domain-json", type=_pair, action="append", default=[], metavar="LABEL=PATH",
                   help="`icegrt eval domain --output` JSON of a checkpoint; repeat")
    p.add_argument("--compare", type=_comparison, action="append", default=None, metavar="A:B",
                   help="Comparisons stated in the report (default: ppo:sft, ppo:base, sft:base, those whose labels exist)")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="Where the report's directory goes")
    p.add_argument("--run-domain", action="store_true", help="Run `icegrt eval domain` for checkpoints without --domain-json")
    p.add_argument("--run-general", action="store_true", help="Run `icegrt eval general` for checkpoints without --general-json")
    p.add_argument("--general-limit", type=int, default=None, help="With --run-general: passed to `icegrt eval general --limit`")
    p.add_argument("--no-eval-cache", dest="eval_cache", action="store_false",
                   help="Run every evaluation afresh (default: reuse a cached one of the same model files and settings)")
    domain = p.add_argument_group("with --run-domain", "Settings of `icegrt eval domain` (see its --help)")
    add_settings_arguments(domain, DomainPlan, REPORT_DOMAIN_FIELDS)
    p.set_defaults(handler=run_report_command)


def _read_json(label: str, path: str, flag: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{flag} {label}={path}: cannot read it as JSON ({exc})") from None


def _load_run(path: Path) -> dict:
    from training.evaluate.report import load_run

    try:
        return load_run(path)
    except ValueError as exc:
        raise UserError(f"--run {path}: {exc}") from None


def check_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """Every input read and checked before anything is run or written; a UserError says what to fix."""
    from common.models import ModelNotFoundError, resolve_model

    if not _LABEL.match(args.name):
        raise UserError(f"--name {args.name!r}: use letters, digits, . _ -")
    checkpoints = dict(args.checkpoint)
    if len(checkpoints) != len(args.checkpoint):
        raise UserError("each --checkpoint label must be given once")
    for flag, pairs in (("--general-json", args.general_json), ("--domain-json", args.domain_json)):
        unknown = [label for label, _ in pairs if label not in checkpoints]
        if unknown:
            raise UserError(f"{flag} for unknown checkpoint label(s) {unknown}; labels are {list(checkpoints)}")
    comparisons = args.compare or [c for c in DEFAULT_COMPARISONS if c[0] in checkpoints and c[1] in checkpoints]
    for a, b in comparisons:
        if a not in checkpoints or b not in checkpoints:
            raise UserError(f"--compare {a}:{b}: both must be checkpoint labels ({list(checkpoints)})")
    paths = {}
    to_run = args.run_domain and any(label not in dict(args.domain_json) for label in checkpoints)
    to_run_general = args.run_general and any(label not in dict(args.general_json) for label in checkpoints)
    if to_run or to_run_general:
        for label, spec in checkpoints.items():
            try:
                paths[label] = str(resolve_model(spec))
            except ModelNotFoundError as exc:
                raise UserError(f"--checkpoint {label}: {exc}") from None
    return {
        "checkpoints": checkpoints,
        "comparisons": comparisons,
        "general": {label: _read_json(label, path, "--general-json") for label, path in args.general_json},
        "domain": {label: _read_json(label, path, "--domain-json") for label, path in args.domain_json},
        "runs": [_load_run(path) for path in args.run],
    }


def domain_plans(args: argparse.Namespace, inputs: dict[str, Any]) -> list[tuple[str, Any, dict[str, Path]]]:
    """(label, plan, checked paths) of each domain evaluation to run; a UserError before any work."""
    from training.evaluate.domain_command import plan_from_args

    if not args.run_domain:
        return []
    first = inputs["comparisons"][0] if inputs["comparisons"] else None
    reward_model = getattr(args, "reward_model", None)
    plans = []
    for label, spec in inputs["checkpoints"].items():
        if label in inputs["domain"]:
            continue
        versus = inputs["checkpoints"][first[1]] if first and label == first[0] and reward_model else None
        plan = plan_from_args(args, model=spec, versus=versus,
                              tasks=("ads", "table", "chat") if reward_model else ("ads", "table"))
        plans.append((label, plan, plan.check()))
    return plans


def _cache_dir(args: argparse.Namespace) -> Path | None:
    from common.paths import eval_cache_dir

    return eval_cache_dir() if getattr(args, "eval_cache", True) else None


def _evaluate(kind: str, models: dict[str, Path], settings: dict[str, Any], evaluate: Any, cache: Path | None) -> dict:
    from training.evaluate.cache import cached_evaluation

    if cache is None:
        return evaluate()
    report, hit = cached_evaluation(kind, models, settings, evaluate, cache)
    if hit:
        print(f"{kind} evaluation of {models['model']}: reused from the cache {cache}", file=sys.stderr)
    return report


def _run_domain(plans: list[tuple[str, Any, dict[str, Path]]], inputs: dict[str, Any], out: Path,
                cache: Path | None = None) -> None:
    from training.evaluate.domain_command import plan_command
    from training.evaluate.suite import evaluate_domain

    for label, plan, paths in plans:
        target = out / f"domain_{label}.json"
        settings = plan.model_dump(mode="json", exclude={"model", "versus", "reward_model", "concurrency", "enforce_eager"})
        report = _evaluate("domain", paths, settings, lambda plan=plan, paths=paths: asyncio.run(evaluate_domain(plan, paths)), cache)
        report.update(model=plan.model, versus=plan.versus, reward_model=plan.reward_model)  # as named in this report
        if "versus" in report.get("chat", {}):
            report["chat"]["versus"]["model"] = plan.versus
        report["command"] = plan_command(plan, target)
        target.write_text(json.dumps(report, indent=2) + "\n")
        inputs["domain"][label] = report


def _run_general(args: argparse.Namespace, inputs: dict[str, Any], out: Path) -> None:
    from common.models import resolve_model

    for label, spec in inputs["checkpoints"].items():
        if label in inputs["general"]:
            continue
        target = out / f"general_{label}.json"
        command = [sys.executable, "-m", "cli.main", "eval", "general", "--model", spec, "--output", str(target)]
        if args.general_limit is not None:
            command += ["--limit", str(args.general_limit)]
        if getattr(args, "enforce_eager", False):
            command.append("--enforce-eager")

        def evaluate(command: list[str] = command, target: Path = target) -> dict:
            subprocess.run(command, check=True)
            return json.loads(target.read_text())

        report = _evaluate("general", {"model": resolve_model(spec)}, {"limit": args.general_limit, "tasks": "all"},
                           evaluate, _cache_dir(args))
        target.write_text(json.dumps({**report, "model": spec}, indent=2) + "\n")
        inputs["general"][label] = json.loads(target.read_text())


def run_report_command(args: argparse.Namespace) -> int:
    """Exit 0 with results/NAME/ written; a UserError for bad inputs (nothing run, nothing written)."""
    from training.evaluate.domain_command import command_line
    from training.evaluate.report import build_report
    from training.evaluate.report_markdown import render_markdown
    from training.evaluate.report_plots import plot_domain, plot_general, plot_training

    inputs = check_inputs(args)
    plans = domain_plans(args, inputs)
    if plans and getattr(args, "reward_model", None) is None:
        print("note: no --reward-model, so the multi-turn chat evaluation is not run", file=sys.stderr)
    out = args.results_dir / args.name
    out.mkdir(parents=True, exist_ok=True)
    _run_domain(plans, inputs, out, _cache_dir(args))
    if args.run_general:
        _run_general(args, inputs, out)
    command = command_line(args)
    general = {label: inputs["general"].get(label) for label in inputs["checkpoints"]}
    domain = {label: inputs["domain"].get(label) for label in inputs["checkpoints"]}
    report = build_report(args.name, command, inputs["checkpoints"], general, domain, inputs["runs"], inputs["comparisons"])
    figures = {}
    for key, plot, data in (("general", plot_general, report), ("domain", plot_domain, report),
                            ("training", plot_training, inputs["runs"])):
        if plot(data, out / f"{key}.png") is not None:
            figures[key] = f"{key}.png"
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(render_markdown(report, figures))
    (out / "command.txt").write_text(command + "\n")
    print(f"wrote {out}/report.md, report.json, command.txt and {len(figures)} figure(s)")
    return 0
