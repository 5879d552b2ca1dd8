"""``icegrt rank --by scorer|human|feedback``: rankings -> reward-model preference pairs (JSONL).

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


def rank_command(args: argparse.Namespace) -> int:
    from training.rank.feedback import feedback_pairs
    from training.rank.human import rank_interactively
    from training.rank.pairs import read_samples, write_pairs

    if not args.output.parent.is_dir():
        raise UserError(f"directory {args.output.parent} does not exist")
    if args.by == "feedback":
        pairs, report = feedback_pairs(args.input)
        write_pairs(pairs, args.output)
        summary = {"output": str(args.output), "pairs": len(pairs), **report}
    elif args.by == "scorer":
        pairs, report = rank_by_scorer(read_samples(args.input))
        write_pairs(pairs, args.output)
        summary = {"output": str(args.output), **report}
    else:
        records = read_samples(args.input)
        progress = args.progress or args.output.with_name(args.output.name + ".progress.jsonl")
        summary = rank_interactively(records, args.output, progress)
    print(json.dumps(summary))
    return 0
