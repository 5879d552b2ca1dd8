"""A deterministic revision built from the violations' evidence, for when the model's revision is
missing or fails its re-check (or the model was never trained on the task).

Each flagged span is rewritten by a fixed rule: gimmicky formatting is normalised in place
(capitals lowered, repeated punctuation and symbols collapsed, spaced-out letters joined); a
flagged call to action becomes "Learn more"; a flagged phrase is cut from the headline (the whole
headline when the phrase is most of it); in the body the sentence holding the span is dropped.
The result is checked by the rules again and rewritten again, up to :data:`MAX_ROUNDS` times, the
later rounds dropping gimmicky sentences too. A violation found by the rules therefore always
ends in a revision the rules pass, except where no rewording can help (:class:`RewriteResult`'s
``reason``): a prohibited product, or a violation on the landing page, which a revision does not
change. Findings without evidence (a model quote not found in the ad) cannot be rewritten here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .datatypes import Ad, Revision, Violation
from .detectors import detect
from .editing import Edit, apply_edits, tidy
from .rules import ACRONYMS

MAX_ROUNDS = 6
NEUTRAL_CTA = "Learn more"
NEUTRAL_BODY = "Learn more about this offer."
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)")
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?")


@dataclass(frozen=True)
class RewriteResult:
    """The rule-built revision, or None with the reason no rewording can make the ad comply."""

    revision: Revision | None
    reason: str | None = None


def normalise_formatting(text: str) -> str:
    """``text`` without gimmicky formatting: words in capitals lowered (acronyms kept), runs of
    ``!``/``?`` cut to one, repeated symbols and emoji dropped, spaced letters joined,
    currency symbols inside words spelled out."""
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"([$*#@%&~^+=€£•✓✔❗])\1{2,}", "", text)
    text = re.sub(r"\b(?:[A-Za-z] ){3,}[A-Za-z]\b", lambda m: m.group().replace(" ", "").lower(), text)
    text = re.sub(r"(?<![\w$€£])[$](?=[A-Za-z]{2,})", "s", text)
    text = re.sub(r"(?<=[A-Za-z])[$€£](?=[A-Za-z])", "s", text)
    text = _EMOJI.sub("", text)
    return re.sub(r"\b[A-Z]{2,}\b", lambda m: m.group() if m.group() in ACRONYMS else m.group().lower(), text)


def _sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence(s) of ``text`` that hold ``[start, end)``."""
    begin = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= start:
            begin = m.end()
        elif m.start() >= end - 1 or m.end() >= end:
            return begin, m.end()
    return begin, len(text)


def _edits(ad: Ad, violations: Sequence[Violation], drastic: bool) -> list[Edit]:
    edits = []
    for v in violations:
        for ev in v.evidence:
            text = ad.text_of(ev.field)
            if v.policy_id == "gimmicky_formatting" and not drastic:
                edits.append(Edit(ev.field, ev.start, ev.end, normalise_formatting(ev.text)))
            elif ev.field == "call_to_action":
                edits.append(Edit(ev.field, 0, len(text), NEUTRAL_CTA))
            elif ev.field == "headline":
                rest = (text[: ev.start] + text[ev.end :]).split()
                whole = drastic or 5 * (ev.end - ev.start) >= 2 * len(text.strip()) or len(rest) < 3
                edits.append(Edit(ev.field, 0, len(text), "") if whole else Edit(ev.field, ev.start, ev.end, ""))
            else:
                start, end = _sentence_span(text, ev.start, ev.end)
                edits.append(Edit(ev.field, start, end, " "))
    return edits


def _one_round(ad: Ad, violations: Sequence[Violation], drastic: bool) -> Revision:
    edits = _edits(ad, violations, drastic)
    revision = apply_edits(ad, edits)
    if revision is None:  # every body sentence was flagged: nothing of the body can stay
        revision = apply_edits(ad.model_copy(update={"body": NEUTRAL_BODY}),
                               [e for e in edits if e.field != "body"])
        assert revision is not None  # the neutral body is valid whatever the other fields become
    return revision


def rule_revision(ad: Ad, violations: Sequence[Violation], policies: Iterable[str] | None = None) -> RewriteResult:
    """A revision of ``ad`` that removes every located violation (see the module doc)."""
    if any(v.policy_id == "prohibited_products" for v in violations):
        return RewriteResult(None, "the product itself is prohibited: no rewording makes this ad compliant")
    if any(ev.field == "landing_page_text" for v in violations for ev in v.evidence):
        return RewriteResult(None, "the landing page breaks a policy, and a revision of the ad copy cannot change it")
    ids = list(policies) if policies is not None else None
    current, flagged, revision = ad, [v for v in violations if v.evidence], None
    for round_no in range(MAX_ROUNDS):
        if not flagged:
            break
        revision = _one_round(current, flagged, drastic=round_no > 0)
        current = revision.to_ad(ad)
        flagged = [v for v in detect(current, ids) if v.evidence]
        if any(v.policy_id == "prohibited_products" for v in flagged):
            return RewriteResult(None, "the product itself is prohibited: no rewording makes this ad compliant")
    if revision is None:
        return RewriteResult(None, "no violation with a located quote to rewrite")
    return RewriteResult(revision)
