"""Stored feedback -> reward-model preference pairs (what ``icegrt data export-preferences`` writes).

One JSON object per line, in one of two formats (both read by `training.data.preference`):

- ``icegrt`` (the default): ``{"prompt": [messages before the reply], "chosen": str,
  "rejected": str, "source": str, "chosen_id": str, "rejected_id": str}``;
- ``trl``: TRL's conversational preference format, the same record with each reply as a list of
  one assistant message: ``"chosen": [{"role": "assistant", "content": str}]`` (likewise
  ``rejected``), loadable with ``datasets.load_dataset("json", data_files=...)`` for TRL's trainers.

The prompt is the conversation as stored before the reply (system message included), not the
trimmed prompt the model saw.

Rules, applied to feedback oldest first:

1. A ranking of k replies gives k(k-1)/2 pairs: each reply is chosen over every reply ranked
   below it. Replies deleted since (with their conversation) drop out: k' left give k'(k'-1)/2.
2. Ratings: a message's latest rating counts (a later rating replaces an earlier one). Rated
   replies are grouped by prompt (the same messages before them, role for role and character
   for character); in a group with P replies rated +1 and N rated -1, each +1 is chosen over
   each -1: P*N pairs.
3. Unpaired ratings (in a group with only +1 or only -1) give no pair: a preference needs two
   replies. They are counted in the report (``unpaired_ratings``) and not written.
4. Feedback on a ``completion_id`` gives no pair (the server keeps no completion texts); it is
   counted (``completion_feedback``). Comments give no pairs.
5. A pair whose two replies have the same text is dropped (``ties``); a pair identical to one
   already written (same prompt, chosen and rejected text) is written once (``duplicates``;
   rankings are read before ratings, so a ranking's pair wins).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

from common.jsonl import write_jsonl_atomically
from server.store import FeedbackRecord, RankedMessage, Store
from server.tenancy import ANONYMOUS, Principal


FORMATS = ("icegrt", "trl")
"""The file formats of an export (see the module docstring)."""


@dataclass
class ExportReport:
    pairs: int = 0
    ranking_pairs: int = 0
    rating_pairs: int = 0
    unpaired_ratings: int = 0
    completion_feedback: int = 0
    missing_messages: int = 0
    ties: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _prompt_key(prompt: Sequence[dict[str, str]]) -> str:
    return json.dumps([[m["role"], m["content"]] for m in prompt], ensure_ascii=False)


def _pair(chosen: RankedMessage, rejected: RankedMessage, source: str) -> dict:
    return {"prompt": list(chosen.prompt), "chosen": chosen.message.content, "rejected": rejected.message.content,
            "source": source, "chosen_id": chosen.message.id, "rejected_id": rejected.message.id}


def _ranking_pairs(feedback: list[FeedbackRecord], messages: dict[str, RankedMessage],
                   report: ExportReport) -> Iterator[dict]:
    for fb in feedback:
        if not fb.ranking:
            continue
        present = [messages[i] for i in fb.ranking if i in messages]
        report.missing_messages += len(fb.ranking) - len(present)
        for better, worse in combinations(present, 2):  # combinations keep the ranking's order
            if _prompt_key(better.prompt) == _prompt_key(worse.prompt):  # checked on submission; re-checked
                yield _pair(better, worse, f"ranking:{fb.id}")


def _rating_pairs(feedback: list[FeedbackRecord], messages: dict[str, RankedMessage],
                  report: ExportReport) -> Iterator[dict]:
    latest: dict[str, tuple[int, str]] = {}
    for fb in feedback:
        if fb.rating is not None:
            latest[fb.message_id] = (fb.rating, fb.id)
    groups: dict[str, tuple[list, list]] = {}
    for message_id, (rating, feedback_id) in latest.items():
        if message_id not in messages:
            report.missing_messages += 1
            continue
        message = messages[message_id]
        good, bad = groups.setdefault(_prompt_key(message.prompt), ([], []))
        (good if rating > 0 else bad).append((message, feedback_id))
    for good, bad in groups.values():
        if not good or not bad:
            report.unpaired_ratings += len(good) + len(bad)
            continue
        for (chosen, chosen_fb), (rejected, rejected_fb) in ((g, b) for g in good for b in bad):
            yield _pair(chosen, rejected, f"rating:{chosen_fb},{rejected_fb}")


def preference_pairs(store: Store, owner: str | None = None) -> tuple[list[dict], ExportReport]:
    """The pairs the stored feedback gives (only `owner`'s feedback and replies when given), in a stable
    order, and what was skipped."""
    principal = ANONYMOUS if owner is None else Principal(owner)
    report = ExportReport()
    feedback = []
    for fb in store.list_feedback(principal=principal):
        if fb.completion_id is not None:
            report.completion_feedback += 1
        else:
            feedback.append(fb)
    ids = {fb.message_id for fb in feedback} | {i for fb in feedback for i in fb.ranking or ()}
    messages = store.ranked_messages(ids, principal=principal)
    pairs, seen = [], set()
    for kind, generated in (("ranking", _ranking_pairs(feedback, messages, report)),
                            ("rating", _rating_pairs(feedback, messages, report))):
        for pair in generated:
            key = json.dumps([pair["prompt"], pair["chosen"], pair["rejected"]], ensure_ascii=False)
            if pair["chosen"] == pair["rejected"]:
                report.ties += 1
            elif key in seen:
                report.duplicates += 1
            else:
                seen.add(key)
                pairs.append(pair)
                setattr(report, f"{kind}_pairs", getattr(report, f"{kind}_pairs") + 1)
    report.pairs = len(pairs)
    return pairs, report


def in_format(pair: dict, file_format: str) -> dict:
    """An exported pair as a record of `file_format` (one of FORMATS)."""
    if file_format == "icegrt":
        return pair
    if file_format == "trl":
        return {**pair, "chosen": [{"role": "assistant", "content": pair["chosen"]}],
                "rejected": [{"role": "assistant", "content": pair["rejected"]}]}
    raise ValueError(f"unknown export format {file_format!r}; choose one of {', '.join(FORMATS)}")


def export_preferences(store: Store, output: Path, owner: str | None = None,
                       file_format: str = "icegrt") -> ExportReport:
    """Write the pairs (of `owner` only, when given) to `output` as JSONL in `file_format`, atomically (a
    reader never sees half a file)."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown export format {file_format!r}; choose one of {', '.join(FORMATS)}")
    pairs, report = preference_pairs(store, owner)
    write_jsonl_atomically((in_format(pair, file_format) for pair in pairs), output)
    return report
