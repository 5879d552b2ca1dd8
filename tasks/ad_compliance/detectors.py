"""Deterministic rule detectors: the public entry point over :mod:`.rules`.

Every finding carries exact spans of the submitted text (see
:class:`~tasks.ad_compliance.datatypes.Evidence`); overlapping spans of one policy are merged.

Public API: :func:`detect`, :func:`detected_policy_ids`, :func:`rule_policy_ids`,
:func:`explain_rule_finding`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .datatypes import AD_FIELDS, Ad, Evidence, Violation
from .policies import get_policy, select_policies
from .rules import FINDERS


def _dedupe(ad: Ad, evidence: Iterable[Evidence]) -> list[Evidence]:
    """Sort spans by field then position, merging overlapping spans of a field into one."""
    order = {f: i for i, f in enumerate(AD_FIELDS)}
    kept: list[Evidence] = []
    for ev in sorted(evidence, key=lambda e: (order[e.field], e.start, -e.end)):
        last = kept[-1] if kept else None
        if last is not None and last.field == ev.field and ev.start < last.end:
            if ev.end > last.end:
                kept[-1] = Evidence.at(ad, ev.field, last.start, ev.end)
            continue
        kept.append(ev)
    return kept


_WHY: dict[str, str] = {
    "health_claims": "claims to cure or replace treatment for a medical condition",
    "guaranteed_returns": "promises certain or risk-free financial returns",
    "misleading_pricing": "overstates a free offer or hides its conditions",
    "false_urgency": "pressures the reader with urgency or scarcity",
    "weight_loss_claims": "promises specific or effortless weight loss",
    "prohibited_products": "promotes a prohibited product",
    "alcohol_minors": "pairs alcohol with people under the drinking age",
    "personal_attributes": "asserts or asks about the reader's personal attributes",
    "gimmicky_formatting": "uses gimmicky capitals, punctuation or symbols",
    "unverifiable_superlatives": "makes a superlative claim without a cited source",
    "fake_endorsements": "claims an endorsement that is likely invented",
    "clickbait": "withholds information to bait a click",
}
assert set(FINDERS) == set(_WHY)


def rule_policy_ids() -> tuple[str, ...]:
    """Ids of the policies that have rule detectors, in catalogue order."""
    return tuple(p.id for p in select_policies() if p.id in FINDERS)


def explain_rule_finding(policy_id: str, evidence: Sequence[Evidence]) -> str:
    """The deterministic explanation text of a rule finding."""
    quoted = ", ".join(f'"{e.text}"' for e in evidence[:3])
    more = f" (+{len(evidence) - 3} more)" if len(evidence) > 3 else ""
    return f"The ad {_WHY[policy_id]}: {quoted}{more}."


def detect(ad: Ad, policies: Iterable[str] | None = None) -> list[Violation]:
    """Run the rule detectors on ``ad``.

    Args:
        ad: the ad to check.
        policies: policy ids to check (default: all). Unknown ids raise
            :class:`~tasks.ad_compliance.policies.UnknownPolicyError`; policies without a rule
            detector are accepted and simply produce nothing here.

    Returns:
        One :class:`Violation` (``source="rule"``) per policy that fired, in catalogue order, with
        deduplicated evidence sorted by field and position.
    """
    violations = []
    for policy in select_policies(policies):
        finder = FINDERS.get(policy.id)
        evidence = _dedupe(ad, finder(ad)) if finder else []
        if evidence:
            violations.append(Violation(
                policy_id=policy.id, policy=policy.name, severity=policy.severity,
                evidence=evidence, explanation=explain_rule_finding(policy.id, evidence),
                source="rule"))
    return violations


def detected_policy_ids(ad: Ad, policies: Iterable[str] | None = None) -> list[str]:
    """Just the ids that :func:`detect` reports (handy for scoring)."""
    return [v.policy_id for v in detect(ad, policies)]


assert all(get_policy(pid).detector for pid in FINDERS), "catalogue detector flag out of sync"
assert all(p.id in FINDERS for p in select_policies() if p.detector)

