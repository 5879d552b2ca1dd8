"""Span edits on an ad's copy, the tidying they need, and the ``changes`` list by diff.

Both revision paths end here: the model's fixes (:mod:`.compact`) and the deterministic rewrite of
flagged spans (:mod:`.rewrite`) are lists of :class:`Edit` on the original ad, applied at once;
the response's ``changes`` are then computed by diffing the original and the revision
(:func:`diff_changes`) rather than generated, so they always describe what really changed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from .datatypes import Ad, AdField, Change, Revision, Violation

_COPY_FIELDS: tuple[AdField, ...] = ("headline", "body", "call_to_action")


@dataclass(frozen=True)
class Edit:
    """Replace ``[start, end)`` of one copy field with ``text``."""

    field: AdField
    start: int
    end: int
    text: str


def tidy(text: str) -> str:
    """Clean what deleting or replacing a span leaves: doubled spaces, a space before
    punctuation, orphaned or doubled punctuation, a lower-case sentence start."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?=[.!?])", "", text)
    text = re.sub(r"([.!?])[,;:]+", r"\1", text)
    text = re.sub(r"([,;:.])\1+", r"\1", text)
    text = re.sub(r"([.!?])[.!?]+", r"\1", text)
    text = re.sub(r"^[,;:.!?\-–—\s]+", "", text)
    text = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text.strip()


def apply_edits(ad: Ad, edits: Sequence[Edit]) -> Revision | None:
    """The revision with every edit applied to the original copy (overlapping edits: the first
    wins, edited fields tidied); None when the result is not a valid ad (e.g. an empty body)."""
    texts = {f: ad.text_of(f) for f in _COPY_FIELDS}
    taken: dict[str, list[tuple[int, int]]] = {f: [] for f in _COPY_FIELDS}
    kept: list[Edit] = []
    for e in edits:
        if e.field not in texts:
            raise ValueError(f"a revision cannot edit {e.field}")
        if any(e.start < end and start < e.end for start, end in taken[e.field]):
            continue
        taken[e.field].append((e.start, e.end))
        kept.append(e)
    for e in sorted(kept, key=lambda e: e.start, reverse=True):
        texts[e.field] = texts[e.field][: e.start] + e.text + texts[e.field][e.end :]
    edited = {e.field for e in kept}  # untouched fields stay exactly as submitted
    texts = {f: tidy(t) if f in edited else t for f, t in texts.items()}
    revision = Revision(headline=texts["headline"] or None, body=texts["body"],
                        call_to_action=texts["call_to_action"] or None)
    try:
        revision.to_ad(ad)
    except ValidationError:
        return None
    return revision


def _reason(before: str, field: AdField, original: Ad, violations: Sequence[Violation]) -> str:
    """Which violations the changed text showed (by overlapping evidence), as the change's reason."""
    text = original.text_of(field)
    names = [v.policy for v in violations
             if any(ev.field == field and ev.text and (ev.text in before or before in ev.text)
                    for ev in v.evidence) and before]
    if not names and before:
        at = text.find(before)
        names = [v.policy for v in violations
                 if any(ev.field == field and at < ev.end and ev.start < at + len(before) for ev in v.evidence)]
    if names:
        return "Fixes: " + ", ".join(dict.fromkeys(names)) + "."
    return "Rewritten so the ad complies with the policies."


def diff_changes(original: Ad, revision: Revision, violations: Sequence[Violation] = ()) -> list[Change]:
    """The word-level differences between ``original``'s copy and ``revision``, one change per
    contiguous run of differing words, each with the policies whose evidence it touched."""
    changes: list[Change] = []
    for field in _COPY_FIELDS:
        old, new = original.text_of(field), getattr(revision, field) or ""
        a, b = old.split(), new.split()
        matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            before, after = " ".join(a[i1:i2]), " ".join(b[j1:j2])
            changes.append(Change(before=before, after=after, reason=_reason(before, field, original, violations)))
    return changes
