"""``icegrt eval ads|ads-report|table|domain|report``: domain metrics of a model, and the report comparing checkpoints."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from pathlib import Path

from training.evaluate.ads_command import add_ads_parsers
from training.evaluate.domain_command import add_domain_arguments, add_engine_arguments, run_domain_command
from training.evaluate.general.command import add_general_parser
from training.evaluate.report_command import add_report_parser


def add_eval_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="Evaluate a model on the domain tasks")
    sub = parser.add_subparsers(dest="eval_command", required=True)
    add_ads_parsers(sub, add_engine_arguments)
    table = sub.add_parser("table", help="Text to table: cell-level F1 on E2E")
    table.add_argument("--split", default="test", choices=["test", "dev"])
    table.set_defaults(handler=_eval_table)
    table.add_argument("--model", default="SmolLM2-135M-Instruct", help="Prepared model name or checkpoint dir")
    table.add_argument("--limit", type=int, default=None, help="Evaluate only the first N examples")
    add_engine_arguments(table)
    table.add_argument("--output", type=Path, default=None, help="Also write the report as JSON here")
    domain = sub.add_parser("domain", help="All domain metrics (ads, table, multi-turn chat scored by a reward model) in one JSON")
    add_domain_arguments(domain)
    domain.set_defaults(handler=run_domain_command)
    add_report_parser(sub)
    add_general_parser(sub)


def _engine_plan(args: argparse.Namespace):
    """The flags given, as a :class:`training.evaluate.suite.DomainPlan` (its engine settings and defaults)."""
    from training.evaluate.domain_command import plan_from_args

    return plan_from_args(args)


async def _with_engine(args: argparse.Namespace, run):
    from common.models import resolve_model
    from training.evaluate.suite import with_engine

    return await with_engine(resolve_model(args.model), _engine_plan(args).enforce_eager, run)


def _report(args: argparse.Namespace, task: str, result: dict, started: float) -> int:
    report = {"task": task, "model": args.model, "limit": args.limit, "wall_s": round(time.monotonic() - started, 1),
              **result}
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    return 0


def _eval_table(args: argparse.Namespace) -> int:
    from training.evaluate.domain import evaluate_tables

    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    concurrency = _engine_plan(args).concurrency
    result = asyncio.run(_with_engine(args, lambda e: evaluate_tables(e, args.split, args.limit, concurrency)))
    return _report(args, f"table/{args.split}", result, started)
