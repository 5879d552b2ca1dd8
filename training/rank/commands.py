"""``icegrt rank --by scorer|human|feedback``: rankings -> reward-model preference pairs (JSONL).

``--split-by-task DIR`` (scorer) also writes each task's pairs to ``DIR/pairs_<task>.jsonl``, a
pair's task being its prompt's, so that `icegrt train reward` reports held-out accuracy per task;
they are written before ``--output``, so an existing output means the split is complete too.

Exit codes: 0 done (for ``human``, also after quitting: progress is kept), 2 bad input found
before any work.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common.errors import UserError


def add_rank_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "rank", help="Rank sampled replies (task scorer, a person, or server feedback) into preference pairs",
        description="Rank the k replies of each prompt of an `icegrt sample` file by the task's scorer (--by scorer) or "
                    "by a person in the terminal (--by human), or convert `icegrt data export-preferences` output "
                    "(--by feedback); write every pair a ranking implies (k(k-1)/2 for a strict order; ties give no "
                    "pair) as JSONL for `icegrt train reward` (pairs: [FILE]).",
    )
    parser.add_argument("--by", required=True, choices=["scorer", "human", "feedback"], help="Who ranks")
    parser.add_argument("--input", type=Path, required=True,
                        help="`icegrt sample` output (scorer, human) or `icegrt data export-preferences` output (feedback)")
    parser.add_argument("--output", type=Path, required=True, help="Pairs JSONL to write (replaced atomically)")
    parser.add_argument("--progress", type=Path, default=None,
                        help="human: progress file (default: <output>.progress.jsonl); rerun to continue")
    parser.add_argument("--split-by-task", type=Path, default=None, metavar="DIR",
                        help="scorer: also write DIR/pairs_<task>.jsonl, each task's pairs (a task without pairs gets "
                             "none, an old one is removed), before --output; `icegrt train reward` then reports held-out "
                             "accuracy per task")
    parser.set_defaults(handler=rank_command)


def rank_by_scorer(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Pairs from each record's task scorer; records without a scorer are counted, not ranked."""
    from tqdm import tqdm

    from training.rank.pairs import RankInputError, pair_count, ranking_pairs, tiers_from_scores
    from training.rank.scorers import SCORERS, score_record

    scorable = [r for r in records if r.get("task") in SCORERS]
    if not scorable:
        raise RankInputError(f"no record has a task with a scorer ({', '.join(sorted(SCORERS))}); "
                             "sample prompts of those sources, or rank --by human")
    pairs: list[dict[str, Any]] = []
    report = {"prompts": len(records), "no_scorer": len(records) - len(scorable), "pairs": 0, "ties": 0,
              "all_tied": 0, "mean_score": {}}
    totals: dict[str, list[float]] = {}
    for record in tqdm(scorable, desc="rank", unit="prompt"):
        scores = score_record(record)
        totals.setdefault(record["task"], []).extend(scores.values())
        tiers = tiers_from_scores(scores)
        more, same_text = ranking_pairs(record, tiers, "rank:scorer", {i: {"score": s} for i, s in scores.items()})
        report["ties"] += pair_count([[i] for i in scores]) - pair_count(tiers) + same_text
        report["all_tied"] += len(tiers) == 1
        pairs += more
    report["pairs"] = len(pairs)
    report["mean_score"] = {task: round(sum(v) / len(v), 4) for task, v in totals.items()}
    return pairs, report


def split_by_task(pairs: list[dict[str, Any]], records: list[dict[str, Any]], directory: Path) -> dict[str, int]:
    """Each scored task's pairs into `directory`/pairs_<task>.jsonl; returns the pairs per task."""
    from training.rank.pairs import write_pairs
    from training.rank.scorers import SCORERS

    task_of = {r["prompt_id"]: r.get("task") for r in records}
    by_task: dict[str, list[dict[str, Any]]] = {t: [] for t in dict.fromkeys(task_of.values()) if t in SCORERS}
    for pair in pairs:
        by_task[task_of[pair["prompt_id"]]].append(pair)
    for task, task_pairs in by_task.items():
        target = directory / f"pairs_{task}.jsonl"
        if task_pairs:
            write_pairs(task_pairs, target)
        else:  # every reply tied: no file, so no stale pairs from an earlier ranking either
            target.unlink(missing_ok=True)
    return {task: len(task_pairs) for task, task_pairs in by_task.items()}


def rank_command(args: argparse.Namespace) -> int:
    from training.rank.feedback import feedback_pairs
    from training.rank.human import rank_interactively
    from training.rank.pairs import read_samples, write_pairs

    if not args.output.parent.is_dir():
        raise UserError(f"directory {args.output.parent} does not exist")
    if args.split_by_task is not None and args.by != "scorer":
        raise UserError("--split-by-task needs --by scorer")
    if args.split_by_task is not None and not args.split_by_task.is_dir():
        raise UserError(f"--split-by-task: directory {args.split_by_task} does not exist")
    if args.by == "feedback":
        pairs, report = feedback_pairs(args.input)
        write_pairs(pairs, args.output)
        summary = {"output": str(args.output), "pairs": len(pairs), **report}
    elif args.by == "scorer":
        records = read_samples(args.input)
        pairs, report = rank_by_scorer(records)
        if args.split_by_task is not None:
            report["pairs_by_task"] = split_by_task(pairs, records, args.split_by_task)
        write_pairs(pairs, args.output)
        summary = {"output": str(args.output), **report}
    else:
        records = read_samples(args.input)
        progress = args.progress or args.output.with_name(args.output.name + ".progress.jsonl")
        summary = rank_interactively(records, args.output, progress)
    print(json.dumps(summary))
    return 0
