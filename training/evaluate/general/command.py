"""``icegrt eval general``: the 12 general benchmarks, scored as lm-evaluation-harness does.

Everything a user can get wrong (task names, ``--limit``, the data files, the model) is
checked before the engine starts, so a typo costs a second rather than an engine start.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

from training.evaluate.general.backend import BACKENDS


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_general_parser(sub) -> None:
    from training.evaluate.general.tasks import TASKS

    parser = sub.add_parser(
        "general", help="General benchmarks (ARC, PIQA, BoolQ, ..., GSM8K): accuracy with standard errors",
        description="Score a model on the general benchmarks of shared/data/benchmarks with lm-evaluation-harness "
                    f"prompt formats. Tasks: {', '.join(TASKS)}.")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="Prepared model name or checkpoint dir")
    parser.add_argument("--tasks", default=None, help="Comma-separated task names (default: all 12)")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="Score only the first N examples of each task (file order)")
    parser.add_argument("--backend", choices=BACKENDS, default="vllm",
                        help="vllm: batched prompt log probabilities (fast); hf: transformers forward passes")
    parser.add_argument("--batch-tokens", type=positive_int, default=4096,
                        help="hf backend: padded tokens per forward pass (bounds memory)")
    parser.add_argument("--enforce-eager", action="store_true", help="vllm backend: skip torch.compile (faster start)")
    parser.add_argument("--output", type=Path, default=None, help="Also write the report as JSON here")
    parser.add_argument("--samples", type=Path, default=None,
                        help="Also write one JSON line per example (log-likelihoods or generation) here")
    parser.set_defaults(handler=run_general)


def run_general(args: argparse.Namespace) -> int:
    from common.models import resolve_model
    from common.shared_data import SharedDataError
    from training.evaluate.general.backend import build_backend
    from training.evaluate.general.evaluate import average, evaluate
    from training.evaluate.general.tasks import check_files, load_docs, select_tasks

    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    try:
        tasks = select_tasks(args.tasks)
        check_files(tasks)
        docs = {task.name: load_docs(task, args.limit) for task in tasks}
        model_path = resolve_model(args.model)
    except (ValueError, SharedDataError) as exc:  # ModelNotFoundError and TaskFormatError are ValueErrors
        print(f"icegrt eval general: error: {exc}", file=sys.stderr)
        return 2
    backend = build_backend(args.backend, model_path, enforce_eager=args.enforce_eager, batch_tokens=args.batch_tokens)
    try:
        samples: list[dict] | None = [] if args.samples else None
        scores = evaluate(tasks, docs, backend, samples)
    finally:
        backend.close()
    report = {
        "model": args.model,
        "backend": args.backend,
        "limit": args.limit,
        "tasks": scores,
        "average": average(scores),
        "command": shlex.join(["icegrt", *sys.argv[1:]]),
        "wall_s": round(time.monotonic() - started, 1),
    }
    headline = {**report, "tasks": {name: {k: v for k, v in task.items() if k != "rows"} for name, task in scores.items()}}
    print(json.dumps(headline, indent=2))  # the per-example rows go to --output only
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    if args.samples:
        args.samples.parent.mkdir(parents=True, exist_ok=True)
        args.samples.write_text("".join(json.dumps(record) + "\n" for record in samples))
    return 0
