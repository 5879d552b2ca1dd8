"""The ad-compliance rewards: a judgement's grounded policy F1 and verdict, and a compact reply's revision.

One definition for PPO's task rewards (:mod:`training.ppo.task_rewards`) and ``icegrt rank --by
scorer`` (:mod:`training.rank.scorers`). Replies are read with
:func:`~tasks.ad_compliance.parser.parse_judgement` (whatever output format the parser reads); an
unparsable reply, or one cut off before its JSON ends, scores 0.

:func:`judgement_reward` is :func:`~tasks.ad_compliance.scorer.example_f1` over the policies whose
quote is found in the ad (a finding that quotes text the ad does not contain counts as not made):
1.0 when both the labels and the prediction are empty, so a compliant ad judged compliant earns the
full reward. Example: labels {health_claims, misleading_pricing}; a judgement naming health_claims
and prohibited_products, both quoting the ad, has 1 true positive, 1 false positive, 1 false
negative: P = R = 1/2, reward 0.5.

:func:`verdict_reward` scores the ad-level verdict alone: 1 when the reply flags the ad (any
grounded finding) exactly when it breaks a policy. Without it, a reply that flags a violating ad
under the wrong policy earns no more from its judgement than "no violation" does (0), so a model
whose findings are often wrong learns to answer "no violation" to everything: PPO did exactly that
(results/ppo-domain/interim-step30).

:func:`compact_reward` gates on the verdict: a wrong verdict earns 0, a right one
:data:`VERDICT_FLOOR` plus the rest for the quality of the findings and fixes (the mean of the
judgement and, where due, revision scores). So a compliant ad judged compliant (quality 1) and a
violating ad flagged (quality mostly low for a 135M model) earn nearly the same, and the verdict is
what PPO learns first. With the plain mean of the three parts, "no violation" earned 1.0 on compliant
ads and a flag on a violating one 0.43 on average (SFT's samples), and PPO again learned to flag
nothing within 10 steps (results/ppo-domain/README.md).

:func:`revision_reward` scores the revision a compact reply's fixes describe
(:func:`~tasks.ad_compliance.compact.revision_from_fixes`) of an ad that breaks a policy: 0 unless
it passes the rules' re-check, no longer contains the text the gold findings flag (the stand-in for
the model's re-check, which would cost a second generation per rollout), and keeps the product and
the offer; then 0.5 plus half the share of the original copy it keeps (so a minimal edit earns up
to 1).

:func:`findings_reward` leaves the verdict alone: a reply that names no violation abstains (None),
and one that flags the ad earns the quality of its findings and fixes (the mean of the judgement and,
where due, revision scores; on a compliant ad that is 0). With replies to one ad centred on the mean
of those that score (:func:`training.ppo.math.center_by_prompt`), the flagging replies' centred
scores sum to zero, so the token where they chose to flag gets no net push from the reward: PPO is
paid for *how* an ad is flagged (which policy, an exact quote, a fix that passes), not *whether*.
Every PPO run paid on the verdict moved the model's flag bias instead of its discrimination
(results/ppo-domain-group/README.md); this reward moves it too, less (results/ppo-findings/README.md).
"""

from __future__ import annotations

from difflib import SequenceMatcher

from tasks.ad_compliance.checker import verdict_for_revision
from tasks.ad_compliance.compact import revision_from_fixes
from tasks.ad_compliance.data import LabelledAd
from tasks.ad_compliance.datatypes import Ad, Revision
from tasks.ad_compliance.parser import ModelJudgement, ParseFailure, parse_judgement
from tasks.ad_compliance.scorer import example_f1, keeps_product_and_offer


def _judgement(text: str, gold: LabelledAd, finished: bool) -> ModelJudgement | None:
    judgement = parse_judgement(text, gold.ad, finish_reason="stop" if finished else "length")
    return None if isinstance(judgement, ParseFailure) else judgement


def judgement_reward(text: str, gold: LabelledAd, finished: bool) -> float:
    """F1 in [0, 1] of the reply's grounded policy ids against ``gold.labels``; `finished` False marks a cut-off reply."""
    return _judgement_score(_judgement(text, gold, finished), gold)


def _judgement_score(judgement: ModelJudgement | None, gold: LabelledAd) -> float:
    if judgement is None:
        return 0.0
    return example_f1(gold.labels, [v.policy_id for v in judgement.violations if v.evidence])


def _copy(ad: Ad | Revision) -> str:
    return "\n".join(filter(None, (ad.headline, ad.body, ad.call_to_action)))


def flagged_text_remains(gold: LabelledAd, revised: Ad) -> bool:
    """Whether the revised copy still holds a gold finding's quote (case-insensitive), unless the
    gold revision keeps that text too (a fix may reuse part of what it replaces)."""
    text = _copy(revised).lower()
    allowed = _copy(gold.revision).lower() if gold.revision is not None else ""
    return any(f.quote.lower() in text and f.quote.lower() not in allowed for f in gold.findings if f.quote)


def revision_reward(text: str, gold: LabelledAd, finished: bool) -> float | None:
    """The revision's score in [0, 1] (module docstring); None for a compliant ad or one no
    rewording can fix (gold revision None, e.g. a prohibited product)."""
    if not _revision_due(gold):
        return None
    return _revision_score(_judgement(text, gold, finished), gold)


def verdict_reward(text: str, gold: LabelledAd, finished: bool) -> float:
    """1.0 when the reply's verdict (any grounded finding) matches whether ``gold`` breaks a policy, else 0.0."""
    return _verdict_score(_judgement(text, gold, finished), gold)


def _verdict_score(judgement: ModelJudgement | None, gold: LabelledAd) -> float:
    if judgement is None:
        return 0.0
    flagged = any(v.evidence for v in judgement.violations)
    return 1.0 if flagged == bool(gold.labels) else 0.0


def _revision_due(gold: LabelledAd) -> bool:
    return bool(gold.labels) and gold.revision is not None


def _revision_score(judgement: ModelJudgement | None, gold: LabelledAd) -> float:
    revision = None if judgement is None else revision_from_fixes(gold.ad, judgement)
    if revision is None:
        return 0.0
    verdict = verdict_for_revision(gold.ad, revision)
    if not verdict.compliant:
        return 0.0
    revised = revision.to_ad(gold.ad)
    if flagged_text_remains(gold, revised) or not keeps_product_and_offer(gold.ad, revision).keeps:
        return 0.0
    return 0.5 + 0.5 * SequenceMatcher(None, _copy(gold.ad), _copy(revised)).ratio()


def compact_reward_parts(text: str, gold: LabelledAd, finished: bool) -> dict[str, float | None]:
    """The parts of a compact reply's reward: ``verdict``, ``judgement`` and ``revision`` (None where
    no revision is due), from one parse of the reply."""
    judgement = _judgement(text, gold, finished)
    return {"verdict": _verdict_score(judgement, gold), "judgement": _judgement_score(judgement, gold),
            "revision": _revision_score(judgement, gold) if _revision_due(gold) else None}


def _quality(judgement: ModelJudgement | None, gold: LabelledAd) -> float:
    """The mean of a reply's judgement score and, where a revision is due, its revision's score."""
    parts = [_judgement_score(judgement, gold)]
    if _revision_due(gold):
        parts.append(_revision_score(judgement, gold))
    return sum(parts) / len(parts)


VERDICT_FLOOR = 0.75
"""What a right verdict earns at the least (module docstring)."""


def compact_reward(text: str, gold: LabelledAd, finished: bool, verdict_floor: float = VERDICT_FLOOR) -> float:
    """A compact reply's reward: 0 for a wrong verdict; for a right one, `verdict_floor` plus the rest
    times the mean of its judgement's and (where due) its revision's scores.

    Only flags can fall short of full quality ("no violation" on a compliant ad has quality 1), so
    below a floor of 1 a miss costs a violating ad less than a false flag costs a compliant one, and
    PPO is paid to flag less. A floor of 1 scores the verdict alone: both errors cost the same."""
    judgement = _judgement(text, gold, finished)
    return _verdict_score(judgement, gold) * (verdict_floor + (1 - verdict_floor) * _quality(judgement, gold))


def findings_reward(text: str, gold: LabelledAd, finished: bool) -> float | None:
    """The quality of a flagging reply's findings and fixes in [0, 1]; None (abstain) for a reply
    that names no violation (module docstring); one whose every item the parser dropped (an unknown
    policy, say) flagged all the same and scores 0, as does an unparsable or cut-off reply."""
    judgement = _judgement(text, gold, finished)
    if judgement is not None and not judgement.violations and not judgement.dropped:
        return None
    return _quality(judgement, gold)
