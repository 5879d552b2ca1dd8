"""The ad-judgement reward (F1 of the judgement's policy ids) on hand-worked replies."""

from __future__ import annotations

import json

import pytest

from tasks.ad_compliance.data import LabelledAd
from tasks.ad_compliance.datatypes import Ad
from tasks.ad_compliance.reward import judgement_reward

AD = LabelledAd(id="hand-1", ad=Ad(body="Cures arthritis in 3 days! Only $9, was $900."),
                labels=["health_claims", "misleading_pricing"], split="train")


def _reply(*policies: str) -> str:
    return json.dumps({"violations": [{"policy_id": p, "quote": "Cures arthritis", "explanation": "x"} for p in policies],
                       "analysis": "a"})


def test_f1_of_the_policy_ids_by_hand():
    assert judgement_reward(_reply("health_claims", "misleading_pricing"), AD, True) == 1.0
    # health_claims right, prohibited_products wrong, misleading_pricing missed: tp 1, fp 1, fn 1 -> F1 0.5
    assert judgement_reward(_reply("health_claims", "prohibited_products"), AD, True) == pytest.approx(0.5)
    # one of two found, nothing wrong: P 1, R 1/2 -> F1 2/3
    assert judgement_reward(_reply("health_claims"), AD, True) == pytest.approx(2 / 3)
    assert judgement_reward(_reply(), AD, True) == 0.0


def test_compliant_ads_unreadable_and_cut_off_replies():
    clean = LabelledAd(id="hand-2", ad=Ad(body="Fresh bread daily."), labels=[], split="train")
    assert judgement_reward(_reply(), clean, True) == 1.0  # nothing to find, nothing claimed
    assert judgement_reward("not json at all", AD, True) == 0.0
    assert judgement_reward(_reply("health_claims", "misleading_pricing")[:-5], AD, False) == 0.0
