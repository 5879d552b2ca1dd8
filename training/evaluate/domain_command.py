"""``icegrt eval domain``: flags, checks before work, and the JSON report (:mod:`training.evaluate.suite`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight (vLLM batches them)")
    parser.add_argument("--enforce-eager", action="store_true", help="Skip torch.compile (faster start)")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_domain_arguments(parser: argparse.ArgumentParser) -> None:
    from training.evaluate.chat import CHAT_SETS
    from training.evaluate.suite import DOMAIN_TASKS

    parser.add_argument("--model", required=True, help="Prepared model name or checkpoint dir")
    parser.add_argument("--reward-model", default=None, help="ICE-Reward checkpoint that scores the chat replies")
    parser.add_argument("--versus", default=None,
                        help="Second model: its chat replies to the same conversations, and the win rate of --model over it")
    parser.add_argument("--tasks", type=_names, default=DOMAIN_TASKS,
                        help=f"Comma-separated subset of {','.join(DOMAIN_TASKS)} (default: all)")
    parser.add_argument("--limit", type=int, default=None,
                        help="First N examples of every set (ads test, ads hand-written, E2E test, each chat set)")
    parser.add_argument("--ads-limit", type=int, default=None, help="First N ads of each ad set (overrides --limit)")
    parser.add_argument("--table-limit", type=int, default=None, help="First N E2E test examples (overrides --limit)")
    parser.add_argument("--chat-limit", type=int, default=None, help="First N conversations of each chat set (overrides --limit)")
    parser.add_argument("--chat-sets", type=_names, default=CHAT_SETS,
                        help=f"Comma-separated chat sets: {','.join(CHAT_SETS)} (default: all)")
    parser.add_argument("--chat-max-tokens", type=int, default=192, help="Token budget of each chat reply")
    parser.add_argument("--reward-max-seq-len", type=int, default=1024,
                        help="Tokens the reward model sees (conversation cut from the left, the reply kept)")
    parser.add_argument("--no-suggest", dest="suggest", action="store_false", help="Skip suggested ad revisions")
    parser.add_argument("--seed", type=int, default=0, help="Sampling seed (decoding is greedy)")
    add_engine_arguments(parser)
    parser.add_argument("--output", type=Path, required=True, help="Where to write the JSON report")


def plan_from_args(args: argparse.Namespace) -> Any:
    from training.evaluate.suite import DomainPlan

    def limit(specific: int | None) -> int | None:
        return specific if specific is not None else args.limit

    return DomainPlan(model=args.model, reward_model=args.reward_model, versus=args.versus, tasks=args.tasks,
                      ads_limit=limit(args.ads_limit), table_limit=limit(args.table_limit),
                      chat_limit=limit(args.chat_limit), chat_sets=args.chat_sets,
                      chat_max_tokens=args.chat_max_tokens, reward_max_seq_len=args.reward_max_seq_len,
                      suggest=args.suggest, concurrency=args.concurrency, enforce_eager=args.enforce_eager,
                      seed=args.seed)


def plan_command(plan: Any, output: Path) -> str:
    """The ``icegrt eval domain`` command that runs `plan` on its own."""
    argv = ["icegrt", "eval", "domain", "--model", plan.model, "--tasks", ",".join(plan.tasks)]
    for flag, value in (("--reward-model", plan.reward_model), ("--versus", plan.versus),
                        ("--ads-limit", plan.ads_limit), ("--table-limit", plan.table_limit),
                        ("--chat-limit", plan.chat_limit)):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--concurrency", str(plan.concurrency)] + (["--enforce-eager"] if plan.enforce_eager else [])
    return shlex.join([*argv, "--output", str(output)])


def command_line(args: argparse.Namespace) -> str:
    """The command that made a report, as a user would type it."""
    return shlex.join(["icegrt", *getattr(args, "argv", sys.argv[1:])])


def run_domain_command(args: argparse.Namespace) -> int:
    """Exit 0 with the report written; 2 for bad flags (nothing written, no engine started)."""
    from training.evaluate.suite import evaluate_domain

    logging.basicConfig(level=logging.WARNING)
    plan = plan_from_args(args)
    try:
        paths = plan.check()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
