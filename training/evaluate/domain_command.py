"""``icegrt eval domain``: flags, checks before work, and the JSON report (:mod:`training.evaluate.suite`).

The flags are the fields of :class:`training.evaluate.suite.DomainPlan`, declared there once
(:func:`common.config.add_settings_arguments`), plus ``--output``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

ENGINE_FIELDS = ("concurrency", "enforce_eager")
"""The plan's settings of the evaluation engine, which every command that starts one takes."""


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    from common.config import add_settings_arguments
    from training.evaluate.suite import DomainPlan

    add_settings_arguments(parser, DomainPlan, ENGINE_FIELDS)


def plan_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The plan's fields the user gave as flags (the others keep the plan's defaults)."""
    from training.evaluate.suite import DomainPlan

    return {k: v for k, v in vars(args).items() if k in DomainPlan.model_fields}


def add_domain_arguments(parser: argparse.ArgumentParser) -> None:
    from common.config import add_settings_arguments
    from training.evaluate.suite import DomainPlan

    add_settings_arguments(parser, DomainPlan)
    parser.add_argument("--output", type=Path, required=True, help="Where to write the JSON report")


def plan_from_args(args: argparse.Namespace, **fixed: Any) -> Any:
    """The plan of the flags given (and `fixed` on top); a UserError names a bad flag."""
    from pydantic import ValidationError

    from common.config import describe_validation_error
    from common.errors import UserError
    from training.evaluate.suite import DomainPlan

    try:
        return DomainPlan(**{**plan_settings(args), **fixed})
    except ValidationError as exc:
        raise UserError(f"invalid flags:\n{describe_validation_error(exc)}") from None


def plan_command(plan: Any, output: Path) -> str:
    """The ``icegrt eval domain`` command that runs `plan` on its own: every setting that is not the default."""
    argv = ["icegrt", "eval", "domain"]
    for name, field in type(plan).model_fields.items():
        value = getattr(plan, name)
        if name != "model" and value == field.get_default():
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            argv += [flag, ",".join(value) if isinstance(value, tuple) else str(value)]
    return shlex.join([*argv, "--output", str(output)])


def command_line(args: argparse.Namespace) -> str:
    """The command that made a report, as a user would type it."""
    return shlex.join(["icegrt", *getattr(args, "argv", sys.argv[1:])])


def run_domain_command(args: argparse.Namespace) -> int:
    """Exit 0 with the report written; a UserError for bad flags (nothing written, no engine started)."""
    from training.evaluate.suite import evaluate_domain

    logging.basicConfig(level=logging.WARNING)
    plan = plan_from_args(args)
    paths = plan.check()
    report = asyncio.run(evaluate_domain(plan, paths))
    report["command"] = command_line(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(_headline(report), indent=2))
    return 0


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures worth printing (the file holds everything, transcripts included)."""
    out: dict[str, Any] = {"model": report["model"]}
    for split, ads in report.get("ads", {}).items():
        out[f"ads_{split}_micro_f1"] = ads["detection"]["micro"]["f1"]
    if "table" in report:
        out["table_cell_f1"] = report["table"]["test"]["cell_f1"]
    chat = report.get("chat", {})
    if "reward" in chat:
        out["chat_reward"] = {k: chat["reward"][k] for k in ("mean", "stderr", "n")}
    if "versus" in chat:
        out["chat_win_rate"] = chat["versus"]["win_rate"]
    return out
