"""The interactive terminal ranker (``icegrt rank --by human``).

For each prompt it shows the conversation and the k replies, numbered, and asks for an order,
best first: ``2 1 3 4``; ``=`` joins tied replies (``2=1 3 4``: 2 and 1 equal, both better than
3). Every reply must appear exactly once; anything else is explained and asked again. ``s``
skips the prompt, ``q`` quits.

Progress is a JSONL file beside the output (``<output>.progress.jsonl`` unless given): one line
per answered prompt, ``{"prompt_id", "ranking"}`` or ``{"prompt_id", "skipped": true}``,
flushed and fsynced before the next prompt is shown, and the pairs file is rewritten from it
at once. Quitting (``q``, Ctrl-C, Ctrl-D) therefore loses nothing acknowledged, and running the
same command again continues with the first prompt not yet answered.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from training.rank.pairs import Ranking, RankInputError, ranking_pairs, write_pairs

SOURCE = "rank:human"


def parse_order(answer: str, k: int) -> Ranking | str:
    """The tiers of 1-based reply numbers in `answer`, or a message saying what is wrong."""
    tiers: list[list[int]] = []
    for token in answer.split():
        try:
            tiers.append([int(part) for part in token.split("=")])
        except ValueError:
            return f"{token!r} is not a reply number; write numbers 1-{k} separated by spaces, '=' for ties"
    numbers = [n for tier in tiers for n in tier]
    if sorted(numbers) != list(range(1, k + 1)):
        missing = sorted(set(range(1, k + 1)) - set(numbers))
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        out_of_range = sorted({n for n in numbers if not 1 <= n <= k})
        problems = [f"missing {missing}" if missing else "", f"repeated {repeated}" if repeated else "",
                    f"not between 1 and {k}: {out_of_range}" if out_of_range else ""]
        return f"give every reply 1-{k} exactly once ({'; '.join(p for p in problems if p)})"
    return [[str(n) for n in tier] for tier in tiers]


def _show(record: dict[str, Any], position: int, total: int, out: TextIO) -> None:
    out.write(f"\n=== prompt {position}/{total}: {record['prompt_id']} ===\n")
    for message in record["prompt"]:
        out.write(f"[{message['role']}]\n{textwrap.indent(message['content'], '  ')}\n")
    for number, response in enumerate(record["responses"], start=1):
        cut = "" if response.get("finish_reason") != "length" else "  (cut off at the token limit)"
        out.write(f"\n--- reply {number}{cut} ---\n{textwrap.indent(response['text'], '  ')}\n")


def read_progress(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except ValueError:
                raise RankInputError(f"{path}:{number}: the progress file is damaged (not JSON)") from None
    return entries


def pairs_from_progress(records: dict[str, dict[str, Any]], progress: list[dict[str, Any]]) -> tuple[list[dict], int]:
    pairs, ties = [], 0
    for entry in progress:
        if entry.get("ranking"):
            more, tied = ranking_pairs(records[entry["prompt_id"]], entry["ranking"], SOURCE)
            pairs += more
            ties += tied
    return pairs, ties


def rank_interactively(records: list[dict[str, Any]], output: Path, progress_path: Path,
                       ask: Callable[[str], str] = input, out: TextIO | None = None) -> dict[str, Any]:
    """Ask for the ranking of every prompt not yet answered; returns a summary."""
    import sys

    out = out or sys.stdout
    by_id = {r["prompt_id"]: r for r in records}
    progress = read_progress(progress_path)
    unknown = [e["prompt_id"] for e in progress if e.get("prompt_id") not in by_id]
    if unknown:
        raise RankInputError(f"{progress_path} ranks prompts that are not in the sample file (e.g. {unknown[0]!r}); "
                             "give the sample file it was made from, or another --progress file")
    done = {e["prompt_id"] for e in progress}
    todo = [r for r in records if r["prompt_id"] not in done]
    quit_early = False
    with open(progress_path, "a", encoding="utf-8") as log:
        for record in todo:
            _show(record, len(done) + 1, len(records), out)
            k = len(record["responses"])
            while True:
                try:
                    answer = ask(f"order best first (e.g. {' '.join(str(n) for n in range(1, k + 1))}; '=' ties), s skip, q quit: ").strip()
                except (EOFError, KeyboardInterrupt):
                    answer = "q"
                if answer.lower() in {"q", "s"}:
                    break
                parsed = parse_order(answer, k)
                if isinstance(parsed, str):
                    out.write(f"  {parsed}\n")
                    continue
                break
            if answer.lower() == "q":
                quit_early = True
                break
            ids = [r["response_id"] for r in record["responses"]]
            entry = ({"prompt_id": record["prompt_id"], "skipped": True} if answer.lower() == "s" else
                     {"prompt_id": record["prompt_id"], "ranking": [[ids[int(n) - 1] for n in tier] for tier in parsed]})
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")
            log.flush()
            os.fsync(log.fileno())
            progress.append(entry)
            done.add(record["prompt_id"])
            write_pairs(pairs_from_progress(by_id, progress)[0], output)
    pairs, ties = pairs_from_progress(by_id, progress)
    write_pairs(pairs, output)
    ranked = sum(1 for e in progress if e.get("ranking"))
    return {"output": str(output), "progress": str(progress_path), "prompts": len(records), "ranked": ranked,
            "skipped": len(progress) - ranked, "remaining": len(records) - len(progress), "pairs": len(pairs),
            "ties": ties, "quit": quit_early}
