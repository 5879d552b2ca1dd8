"""Parse the model's raw text into typed results. Never raises on bad model output.

``parse_judgement`` returns a :class:`ModelJudgement` or a :class:`ParseFailure`;
``parse_revision`` returns a :class:`~tasks.ad_compliance.datatypes.Revision` or a
:class:`ParseFailure`. A failure is a value, not an exception, because junk output is an expected
outcome (a generation cut off by ``max_tokens``, or a tiny random-weight model) that the caller
handles by falling back to the rule findings.

Leniency: text around the JSON object (prose, code fences) is skipped; missing optional fields
default to ""; items that are not objects and unknown policy ids are dropped and noted in
``ModelJudgement.dropped``. Several findings for one policy are merged into one.

Quotes: each finding's quote is located in the ad to give evidence spans, trying (1) an exact
match, (2) a case-insensitive match, (3) the quote's words in order separated by any non-word
characters (absorbs curly vs straight quotes and spacing). A quote that is not found leaves the
finding with EMPTY evidence rather than dropping it: the judgement is about the whole ad and the
quote is for highlighting; dropping would make recall depend on how faithfully a small model
copies text. A missing quote is a signal to evaluation, not a reason to discard the finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from .datatypes import Ad, Change, Evidence, Revision
from .policies import select_policies

FailureKind = Literal["empty", "truncated", "invalid_json", "wrong_shape"]

_MAX_TEXT = 2000  # cap on any string kept from unconstrained output
_MAX_DECODE_ATTEMPTS = 20
_QUOTE_CHARS = "\"'“”‘’`«» "


class ParseFailure(BaseModel):
    """The model output could not be used."""

    kind: FailureKind
    message: str
    finish_reason: str | None = None
    raw_excerpt: str = Field(default="", description="The first 200 characters of the output.")


class ModelFinding(BaseModel):
    """One policy the model says the ad breaks."""

    policy_id: str
    quote: str
    explanation: str
    evidence: list[Evidence] = Field(default_factory=list)
    fix: str | None = Field(default=None, description="Compact format: what replaces the quote in a revision.")


class ModelJudgement(BaseModel):
    """The model's judgement, one finding per policy, known policy ids only."""

    violations: list[ModelFinding]
    analysis: str
    dropped: list[str] = Field(default_factory=list, description="Notes on discarded items.")


def _failure(kind: FailureKind, message: str, text: str, finish_reason: str | None) -> ParseFailure:
    return ParseFailure(kind=kind, message=message, finish_reason=finish_reason,
                        raw_excerpt=text[:200])


def _load_object(text: str, key: str, finish_reason: str | None) -> dict[str, Any] | ParseFailure:
    """The first JSON object in ``text`` that has ``key`` (prose and code fences are skipped).

    Requiring the key keeps an inner item of a cut-off answer (``{"violations": [{...}, {...``)
    from being mistaken for the answer.
    """
    if not text or not text.strip():
        return _failure("empty", "the model returned no text", text or "", finish_reason)
    decoder = json.JSONDecoder()
    found_other = False
    pos = text.find("{")
    for _ in range(_MAX_DECODE_ATTEMPTS):
        if pos < 0:
            break
        try:
            value, _end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            value = None
        if isinstance(value, dict):
            if key in value:
                return value
            found_other = True
        pos = text.find("{", pos + 1)
    if finish_reason == "length":
        return _failure("truncated", "the output was cut off by max_tokens before the JSON "
                        "object was complete", text, finish_reason)
    if found_other:
        return _failure("wrong_shape", f'no JSON object with a "{key}" field in the output', text,
                        finish_reason)
    return _failure("invalid_json", "no complete JSON object found in the output", text,
                    finish_reason)


def _str(value: Any) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


def locate_quote(ad: Ad, quote: str) -> Evidence | None:
    """The first span of ``ad`` matching ``quote`` (exact, case-insensitive, then word-flexible).

    Surrounding quotation marks, spaces and trailing ellipses are ignored; quotes shorter than 3
    characters are not located (they would match almost anywhere).
    """
    q = quote.strip(_QUOTE_CHARS).removesuffix("...").removesuffix("…").strip(_QUOTE_CHARS)
    if len(q) < 3:
        return None
    fields = ad.fields()
    for field, text in fields:
        if (i := text.find(q)) >= 0:
            return Evidence.at(ad, field, i, i + len(q))
    patterns = [re.compile(re.escape(q), re.IGNORECASE)]
    words = re.findall(r"\w+", q)
    if words:
        patterns.append(re.compile(r"\W+".join(map(re.escape, words)), re.IGNORECASE))
    for pattern in patterns:
        for field, text in fields:
            if m := pattern.search(text):
                return Evidence.at(ad, field, m.start(), m.end())
    return None


def parse_judgement(text: str, ad: Ad, *, finish_reason: str | None = None,
                    policies: Iterable[str] | None = None) -> ModelJudgement | ParseFailure:
    """Parse a compliance judgement (see :func:`~tasks.ad_compliance.schema.judgement_json_schema`).

    Args:
        text: the model's raw output.
        ad: the ad that was judged (quotes are located in it).
        finish_reason: the engine's finish reason; "length" marks a cut-off output as truncated.
        policies: the policy ids that were checked (default all); other ids are dropped.
    """
    obj = _load_object(text, "violations", finish_reason)
    if isinstance(obj, ParseFailure):
        return obj
    items = obj["violations"]
    if not isinstance(items, list):
        return _failure("wrong_shape", 'the JSON object has no "violations" list', text,
                        finish_reason)
    allowed = {p.id for p in select_policies(policies)}
    by_policy: dict[str, ModelFinding] = {}
    dropped: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            dropped.append(f"violations[{i}] is not an object")
            continue
        pid = item.get("policy_id")
        if not isinstance(pid, str) or pid not in allowed:
            dropped.append(f"violations[{i}] has unknown or unchecked policy_id {pid!r}")
            continue
        quote = _str(item.get("quote"))
        ev = locate_quote(ad, quote)
        if pid in by_policy:
            prior = by_policy[pid]
            if ev is not None and ev not in prior.evidence:
                prior.evidence.append(ev)
            continue
        fix = item.get("fix")
        by_policy[pid] = ModelFinding(policy_id=pid, quote=quote,
                                      explanation=_str(item.get("explanation")),
                                      evidence=[ev] if ev is not None else [],
                                      fix=_str(fix) if isinstance(fix, str) else None)
    return ModelJudgement(violations=list(by_policy.values()), analysis=_str(obj.get("analysis")),
                          dropped=dropped)


def parse_revision(text: str, ad: Ad | None = None, *,
                   finish_reason: str | None = None) -> Revision | ParseFailure:
    """Parse a suggested revision (see :func:`~tasks.ad_compliance.schema.revision_json_schema`).

    When ``ad`` is given, the revision must also form a valid :class:`Ad` with it (non-blank body,
    field lengths within the API limits); otherwise a ``wrong_shape`` failure is returned.
    """
    obj = _load_object(text, "body", finish_reason)
    if isinstance(obj, ParseFailure):
        return obj
    body = obj["body"]
    if not isinstance(body, str) or not body.strip():
        return _failure("wrong_shape", 'the revision has no non-empty "body" string', text,
                        finish_reason)
    raw_changes = obj.get("changes")
    changes = [Change(before=_str(c.get("before")), after=_str(c.get("after")),
                      reason=_str(c.get("reason")))
               for c in (raw_changes if isinstance(raw_changes, list) else [])
               if isinstance(c, dict)]
    revision = Revision(headline=_str(obj.get("headline")) or None, body=body,
                        call_to_action=_str(obj.get("call_to_action")) or None, changes=changes)
    if ad is not None:
        try:
            revision.to_ad(ad)
        except ValidationError as exc:
            return _failure("wrong_shape", f"the revision is not a valid ad: {exc.errors()[0]['msg']}",
                            text, finish_reason)
    return revision
