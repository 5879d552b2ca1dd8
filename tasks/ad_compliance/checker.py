"""Merge rule findings with the model's judgement, re-check revisions, orchestrate the flow.

Pure logic: the caller owns I/O. The server (and evaluation) pass an async ``generate`` callable
to :func:`check_ad`; everything else here is synchronous and deterministic.

Modes (:func:`resolve_mode`): ``rules`` (detectors only, no model call), ``hybrid`` (rules plus
the model's judgement) and ``auto`` (hybrid only for a checkpoint trained on the task, i.e. in
the compact format; rules for any other model, which flags nearly everything).

Guarantees:
- The model can ADD violations but can never clear a rule violation (:func:`merge`).
- A suggested revision is re-checked (rules, and the model unless disabled) and is never
  reported compliant while it still violates, or when its model re-check failed
  (:func:`verdict_for_revision` with ``require_model=True``).
- When the model's revision is missing or fails its re-check, a deterministic rewrite of the
  flagged spans (:mod:`.rewrite`) is re-checked the same way and returned instead; only a
  prohibited product or a landing-page violation gets no revision (``revision_note`` says why).
- ``changes`` are computed by diffing the original and the revision (:mod:`.editing`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ValidationError

from .datatypes import SEVERITY_RANK, Ad, ComplianceVerdict, Revision, Violation
from .compact import compact_json_schema, compact_max_tokens, compact_messages, revision_from_fixes
from .detectors import detect
from .editing import diff_changes
from .parser import ModelJudgement, ParseFailure, parse_judgement, parse_revision
from .policies import get_policy, policy_ids, select_policies
from .prompt import Message, judgement_messages, revision_messages
from .rewrite import rule_revision
from .schema import (JsonSchema, judgement_json_schema, judgement_max_tokens,
                     revision_json_schema, revision_max_tokens)

ModelResult = ModelJudgement | ParseFailure | None
Mode = Literal["auto", "rules", "hybrid"]
TaskFormat = Literal["catalogue", "compact"]
"""How the model is prompted: the policy catalogue in the prompt, or the compact format of a
checkpoint trained on the task (:mod:`.compact`)."""
Generate = Callable[[list[Message], JsonSchema, int], Awaitable[tuple[str, str | None]]]
"""``await generate(messages, json_schema, max_tokens) -> (text, finish_reason)``."""

_CATALOGUE_ORDER = {pid: i for i, pid in enumerate(policy_ids())}


def _sort_key(v: Violation) -> tuple[int, int]:
    return (-SEVERITY_RANK[v.severity], _CATALOGUE_ORDER[v.policy_id])


def summarize(violations: Sequence[Violation]) -> str:
    """A deterministic one-sentence summary of a set of violations."""
    if not violations:
        return "Compliant: no policy violations found."
    names = ", ".join(f"{v.policy} [{v.severity}]" for v in sorted(violations, key=_sort_key))
    plural = "s" if len(violations) != 1 else ""
    return f"Not compliant: {len(violations)} policy violation{plural} ({names})."


def merge(ad: Ad, rule_violations: Sequence[Violation], model_result: ModelResult,
          policies: Iterable[str] | None = None) -> ComplianceVerdict:
    """Combine rule findings and the model's judgement into the verdict for ``ad``.

    Violations are deduplicated by policy id (evidence merged, rule explanation first); a policy
    found by a rule keeps ``source="rule"``. Model findings for policies outside ``policies`` are
    ignored. ``compliant`` is True exactly when no violation remains. The analysis starts with a
    deterministic summary; the model's analysis follows when it parsed, otherwise a note says the
    verdict rests on the rule checks alone.
    """
    allowed = {p.id for p in select_policies(policies)}
    merged: dict[str, Violation] = {}
    for v in rule_violations:
        if v.policy_id in merged:
            prior = merged[v.policy_id]
            prior.evidence.extend(e for e in v.evidence if e not in prior.evidence)
        else:
            merged[v.policy_id] = v.model_copy(deep=True)
    if isinstance(model_result, ModelJudgement):
        for f in model_result.violations:
            if f.policy_id not in allowed:
                continue
            if f.policy_id in merged:
                prior = merged[f.policy_id]
                prior.evidence.extend(e for e in f.evidence if e not in prior.evidence)
                if f.explanation and f.explanation not in prior.explanation:
                    prior.explanation = f"{prior.explanation} Model: {f.explanation}"
            else:
                policy = get_policy(f.policy_id)
                merged[f.policy_id] = Violation(
                    policy_id=policy.id, policy=policy.name, severity=policy.severity,
                    evidence=list(f.evidence), source="model",
                    explanation=f.explanation or "The model judged that the ad breaks this policy.")
    violations = sorted(merged.values(), key=_sort_key)
    analysis = summarize(violations)
    model_error = None
    if isinstance(model_result, ModelJudgement):
        if model_result.analysis.strip():
            analysis = f"{analysis} Reviewer notes: {model_result.analysis.strip()}"
    elif isinstance(model_result, ParseFailure):
        model_error = f"{model_result.kind}: {model_result.message}"
        analysis = (f"{analysis} The model review was unusable ({model_result.message}); "
                    "this verdict rests on the rule checks only.")
    else:
        analysis = f"{analysis} (Rule checks only; no model review.)"
    return ComplianceVerdict(compliant=not violations, violations=violations, analysis=analysis,
                             model_checked=isinstance(model_result, ModelJudgement),
                             model_error=model_error)


def verdict_for_revision(original: Ad, revision: Revision, model_result: ModelResult = None,
                         policies: Iterable[str] | None = None, *,
                         require_model: bool = False) -> ComplianceVerdict:
    """Re-check a suggested revision of ``original``.

    The revised ad (rewritten copy plus the original landing page text) gets the rule checks,
    merged with ``model_result`` (a judgement of the REVISED ad, or None). With
    ``require_model=True`` a revision whose model re-check is missing or failed is reported as not
    compliant: an unverified rewrite is never presented as compliant. A revision that is not a
    valid ad (blank body, over-long fields) is not compliant.
    """
    try:
        revised = revision.to_ad(original)
    except ValidationError as exc:
        return ComplianceVerdict(
            compliant=False, violations=[], model_checked=False,
            analysis=f"The suggested revision is not a valid ad: {exc.errors()[0]['msg']}.",
            model_error=None)
    verdict = merge(revised, detect(revised, policies), model_result, policies)
    if require_model and verdict.compliant and not verdict.model_checked:
        verdict = verdict.model_copy(update={
            "compliant": False,
            "analysis": "No rule violations found, but the model re-check of the revision was "
                        "unavailable, so the revision is not marked compliant."})
    return verdict


class ModelCall(BaseModel):
    """One call made to ``generate`` (kept for logging and for training data)."""

    purpose: Literal["judgement", "revision", "recheck"]
    max_tokens: int
    text: str
    finish_reason: str | None
    parsed: bool


class ComplianceOutcome(BaseModel):
    """Everything the ``/v1/ads/compliance`` response needs, plus the raw model calls."""

    verdict: ComplianceVerdict
    mode: Literal["rules", "hybrid"] = "hybrid"
    verdict_source: Literal["rules", "model+rules"] = "rules"
    suggested_revision: Revision | None = None
    revision_source: Literal["model", "rules"] | None = None
    revision_verdict: ComplianceVerdict | None = None
    revision_compliant: bool | None = None
    revision_error: str | None = None
    revision_note: str | None = None
    model_revision_compliant: bool | None = None
    """Whether the model's own revision passed its re-check (None: the model wrote none)."""
    model_policies: list[str] | None = None
    """The policies the model's own judgement named (None: no usable model judgement)."""
    calls: list[ModelCall] = []


def resolve_mode(mode: Mode, task_format: TaskFormat) -> Literal["rules", "hybrid"]:
    """``auto`` trusts the model only when it was trained on the task (the compact format)."""
    if mode == "auto":
        return "hybrid" if task_format == "compact" else "rules"
    return mode


async def judge(ad: Ad, generate: Generate, policies: Iterable[str] | None = None,
                purpose: Literal["judgement", "recheck"] = "judgement",
                task_format: TaskFormat = "catalogue") -> tuple[ModelResult, ModelCall]:
    """Ask the model to judge ``ad``; returns the parsed result and the call record."""
    ids = [p.id for p in select_policies(policies)]
    if task_format == "compact":
        messages, schema, max_tokens = compact_messages(ad, ids), compact_json_schema(ids), compact_max_tokens(ids)
    else:
        messages, schema, max_tokens = judgement_messages(ad, ids), judgement_json_schema(ids), judgement_max_tokens(ids)
    text, finish = await generate(messages, schema, max_tokens)
    result = parse_judgement(text, ad, finish_reason=finish, policies=ids)
    return result, ModelCall(purpose=purpose, max_tokens=max_tokens, text=text,
                             finish_reason=finish, parsed=isinstance(result, ModelJudgement))


async def _catalogue_revision(ad: Ad, verdict: ComplianceVerdict, generate: Generate, ids: list[str],
                              outcome: ComplianceOutcome) -> Revision | None:
    """The untrained model's revision: a separate rewrite call in the catalogue format."""
    max_tokens = revision_max_tokens(ad)
    text, finish = await generate(revision_messages(ad, verdict.violations, ids),
                                  revision_json_schema(ad), max_tokens)
    revision = parse_revision(text, ad, finish_reason=finish)
    outcome.calls.append(ModelCall(purpose="revision", max_tokens=max_tokens, text=text,
                                   finish_reason=finish, parsed=isinstance(revision, Revision)))
    if isinstance(revision, ParseFailure):
        outcome.revision_error = f"{revision.kind}: {revision.message}"
        return None
    return revision


async def _recheck(ad: Ad, revision: Revision, generate: Generate | None, ids: list[str],
                   task_format: TaskFormat, outcome: ComplianceOutcome) -> ComplianceVerdict:
    """Re-check ``revision`` by the rules, and by the model when ``generate`` is given."""
    recheck: ModelResult = None
    if generate is not None:
        recheck, call = await judge(revision.to_ad(ad), generate, ids, purpose="recheck", task_format=task_format)
        outcome.calls.append(call)
    return verdict_for_revision(ad, revision, recheck, ids, require_model=generate is not None)


def _accept(outcome: ComplianceOutcome, ad: Ad, revision: Revision, verdict: ComplianceVerdict,
            source: Literal["model", "rules"]) -> None:
    outcome.suggested_revision = revision.model_copy(
        update={"changes": diff_changes(ad, revision, outcome.verdict.violations)})
    outcome.revision_source = source
    outcome.revision_verdict = verdict
    outcome.revision_compliant = verdict.compliant


async def check_ad(ad: Ad, generate: Generate, policies: Iterable[str] | None = None, *,
                   suggest: bool = True, mode: Mode = "hybrid", task_format: TaskFormat = "catalogue",
                   recheck_with_model: bool = True) -> ComplianceOutcome:
    """The full flow: the verdict (rules, plus the model's judgement in hybrid mode), then (if not
    compliant and ``suggest``) the model's revision, re-checked, or else the rule rewrite.

    Args:
        ad: the submitted ad.
        generate: ``await generate(messages, json_schema, max_tokens) -> (text, finish_reason)``.
            Exceptions it raises (engine errors) propagate to the caller unchanged.
        policies: policy ids to check (default all); unknown ids raise ``UnknownPolicyError``
            before any model call.
        suggest: suggest a revision when the ad is not compliant.
        mode: ``auto``, ``rules`` or ``hybrid`` (see :func:`resolve_mode`).
        task_format: how the model is prompted; ``compact`` for a checkpoint trained on the task.
        recheck_with_model: in hybrid mode, judge revisions with the model too (one more call);
            when False, revisions are re-checked by rules only.
    """
    ids = [p.id for p in select_policies(policies)]
    resolved = resolve_mode(mode, task_format)
    model_result: ModelResult = None
    calls = []
    if resolved == "hybrid":
        model_result, call = await judge(ad, generate, ids, task_format=task_format)
        calls.append(call)
    verdict = merge(ad, detect(ad, ids), model_result, ids)
    outcome = ComplianceOutcome(verdict=verdict, mode=resolved, calls=calls,
                                verdict_source="model+rules" if verdict.model_checked else "rules")
    if isinstance(model_result, ModelJudgement):
        outcome.model_policies = [f.policy_id for f in model_result.violations]
    if verdict.compliant or not suggest:
        return outcome
    model_generate = generate if resolved == "hybrid" and recheck_with_model else None
    if resolved == "hybrid":
        if task_format == "compact":
            revision = revision_from_fixes(ad, model_result) if isinstance(model_result, ModelJudgement) else None
        else:
            revision = await _catalogue_revision(ad, verdict, generate, ids, outcome)
        if revision is not None:
            checked = await _recheck(ad, revision, model_generate, ids, task_format, outcome)
            outcome.model_revision_compliant = checked.compliant
            _accept(outcome, ad, revision, checked, "model")
            if checked.compliant:
                return outcome
    fallback = rule_revision(ad, verdict.violations, ids)
    if fallback.revision is None:
        outcome.revision_note = fallback.reason
        return outcome
    checked = await _recheck(ad, fallback.revision, model_generate, ids, task_format, outcome)
    if checked.compliant or outcome.suggested_revision is None:
        _accept(outcome, ad, fallback.revision, checked, "rules")
    return outcome
