"""Rankings and the preference pairs they imply, in the reward trainer's pair format.

A ranking is a list of tiers, best first; each tier holds the ids of replies judged equal. Every
reply is preferred to every reply of every lower tier: a strict order of k replies gives
k(k-1)/2 pairs, and tied replies give no pair between them. Two replies with the same text
give no pair either (the reward model could not tell them apart); they are counted as ties.

One JSON object per line, what :func:`training.data.preference.read_pairs_jsonl` reads (the
reward config's ``pairs: [path/to/pairs.jsonl]``), with the ids of both replies as extras::

    {"prompt": [messages], "chosen": str, "rejected": str, "source": "rank:scorer",
     "prompt_id": str, "chosen_id": str, "rejected_id": str, ...}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from common.errors import UserError
from common.jsonl import write_jsonl_atomically

Ranking = list[list[str]]


class RankInputError(UserError):
    """A sample or feedback file that cannot be ranked (named by file and line)."""


def tiers_from_scores(scores: dict[str, float]) -> Ranking:
    """Replies grouped by equal score, best first; within a tier in id order (deterministic)."""
    by_score: dict[float, list[str]] = {}
    for response_id, score in scores.items():
        by_score.setdefault(score, []).append(response_id)
    return [sorted(by_score[score]) for score in sorted(by_score, reverse=True)]


def ranking_pairs(record: dict[str, Any], ranking: Ranking, source: str,
                  extras: dict[str, dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The pairs `ranking` implies for a sample record, and how many same-text pairs were dropped.

    `extras` maps a response id to fields added to its pairs (``chosen_<key>`` / ``rejected_<key>``).
    """
    texts = {r["response_id"]: r["text"] for r in record["responses"]}
    pairs, ties = [], 0
    for upper, tier in enumerate(ranking):
        for lower in ranking[upper + 1 :]:
            for better in tier:
                for worse in lower:
                    if texts[better] == texts[worse]:
                        ties += 1
                        continue
                    pair = {"prompt": record["prompt"], "chosen": texts[better], "rejected": texts[worse],
                            "source": source, "prompt_id": record["prompt_id"], "chosen_id": better,
                            "rejected_id": worse}
                    for key, value in (extras or {}).get(better, {}).items():
                        pair[f"chosen_{key}"] = value
                    for key, value in (extras or {}).get(worse, {}).items():
                        pair[f"rejected_{key}"] = value
                    pairs.append(pair)
    return pairs, ties


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Records written by `icegrt sample`, checked for what ranking needs."""
    if not path.is_file():
        raise RankInputError(f"sample file {path} does not exist")
    records, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
            prompt_id, prompt, responses = record["prompt_id"], record["prompt"], record["responses"]
            ids = [r["response_id"] for r in responses]
            if not all(isinstance(r["text"], str) for r in responses):
                raise TypeError("a response text is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            raise RankInputError(f"{where}: not a record of `icegrt sample` ({exc})") from None
        if not isinstance(prompt, list) or not prompt or len(ids) < 2 or len(set(ids)) != len(ids):
            raise RankInputError(f"{where}: needs a non-empty prompt and at least 2 responses with distinct ids")
        if prompt_id in seen:
            raise RankInputError(f"{where}: prompt_id {prompt_id!r} appears twice")
        seen.add(prompt_id)
        records.append(record)
    if not records:
        raise RankInputError(f"sample file {path} has no records")
    return records


def write_pairs(pairs: Iterable[dict[str, Any]], output: Path) -> None:
    """Write the pairs file atomically (a reader never sees half a file)."""
    write_jsonl_atomically(pairs, output)


def pair_count(ranking: Sequence[Sequence[str]]) -> int:
    """Pairs a ranking implies before same-text ties are dropped."""
    sizes = [len(t) for t in ranking]
    return sum(a * b for i, a in enumerate(sizes) for b in sizes[i + 1 :])
