"""The ad-judgement reward: F1 of the policy ids in a reply's JSON judgement against the ad's labels.

One definition for PPO's task reward (:mod:`training.ppo.task_rewards`) and ``icegrt rank --by
scorer`` (:mod:`training.rank.scorers`). The reply is read with
:func:`~tasks.ad_compliance.parser.parse_judgement` (whatever output format the parser reads); an
unparsable reply, or one cut off before its JSON ends, scores 0. The score is
:func:`~tasks.ad_compliance.scorer.example_f1`: 1.0 when both the labels and the prediction are
empty, so a compliant ad judged compliant earns the full reward.

Example: labels {health_claims, misleading_pricing}; a judgement naming health_claims and
prohibited_products has 1 true positive, 1 false positive, 1 false negative: P = R = 1/2, reward 0.5.
"""

from __future__ import annotations

from tasks.ad_compliance.data import LabelledAd
from tasks.ad_compliance.parser import ParseFailure, parse_judgement
from tasks.ad_compliance.scorer import example_f1


def judgement_reward(text: str, gold: LabelledAd, finished: bool) -> float:
    """F1 in [0, 1] of the reply's policy ids against ``gold.labels``; `finished` False marks a cut-off reply."""
    judgement = parse_judgement(text, gold.ad, finish_reason="stop" if finished else "length")
    if isinstance(judgement, ParseFailure):
        return 0.0
    return example_f1(gold.labels, [v.policy_id for v in judgement.violations])
