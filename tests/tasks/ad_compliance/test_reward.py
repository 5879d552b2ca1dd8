"""The ad rewards on hand-worked replies: the judgement's grounded policy F1 and the compact reply's revision."""

from __future__ import annotations

import json
from difflib import SequenceMatcher

import pytest

from tasks.ad_compliance.data import GoldFinding, LabelledAd
from tasks.ad_compliance.datatypes import Ad, Revision
from tasks.ad_compliance.reward import (
    compact_reward,
    compact_reward_parts,
    findings_reward,
    judgement_reward,
    revision_reward,
    verdict_reward,
)

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


def test_a_finding_whose_quote_is_not_in_the_ad_counts_as_not_made():
    invented = json.dumps({"violations": [{"policy_id": "health_claims", "quote": "Cures arthritis"},
                                          {"policy_id": "misleading_pricing", "quote": "Free for life"}]})
    assert judgement_reward(invented, AD, True) == pytest.approx(2 / 3)  # as if only health_claims were named


TEA = LabelledAd(
    id="hand-3", split="train", labels=["health_claims"],
    ad=Ad(headline="Leaf & Co. Herbal Tea", body="Cures arthritis in 3 days! Only $9 a box.", call_to_action="Shop now"),
    findings=[GoldFinding(policy_id="health_claims", quote="Cures arthritis in 3 days!", fix="A calming evening blend.")],
    revision=Revision(headline="Leaf & Co. Herbal Tea", body="A calming evening blend. Only $9 a box.",
                      call_to_action="Shop now"))


def _compact(quote: str, fix: str, policy: str = "health_claims") -> str:
    return json.dumps({"violations": [{"policy_id": policy, "quote": quote, "fix": fix}]})


def test_revision_reward_by_hand():
    copy = "Leaf & Co. Herbal Tea\nCures arthritis in 3 days! Only $9 a box.\nShop now"
    revised = "Leaf & Co. Herbal Tea\nA calming evening blend. Only $9 a box.\nShop now"
    kept = SequenceMatcher(None, copy, revised).ratio()
    assert revision_reward(_compact("Cures arthritis in 3 days!", "A calming evening blend."), TEA, True) \
        == pytest.approx(0.5 + 0.5 * kept)
    # Deleting the claim passes too (everything else is kept).
    assert revision_reward(_compact("Cures arthritis in 3 days!", ""), TEA, True) > 0.5
    # The rules still flag the revision ("cures arthritis" stays): 0.
    assert revision_reward(_compact("in 3 days!", "soon!"), TEA, True) == 0.0
    # The claim is gone and the rules pass, but so is the offer (the price went with it): 0.
    assert revision_reward(_compact("Cures arthritis in 3 days! Only $9 a box.", "Tasty."), TEA, True) == 0.0
    # No fix to apply (a quote not in the ad), unreadable or cut-off replies: 0.
    assert revision_reward(_compact("Heals everything", "Tasty"), TEA, True) == 0.0
    assert revision_reward("{", TEA, False) == 0.0


def test_revision_reward_applies_only_where_a_revision_is_due():
    clean = LabelledAd(id="hand-4", ad=Ad(body="Fresh bread daily."), labels=[], split="train")
    assert revision_reward(_compact("bread", "cake"), clean, True) is None
    unfixable = TEA.model_copy(update={"revision": None})
    assert revision_reward(_compact("Cures arthritis in 3 days!", ""), unfixable, True) is None
    # compact_reward: a right verdict earns 0.75 plus a quarter of the mean of judgement and revision
    # where a revision is due, of the judgement alone elsewhere
    reply = _compact("Cures arthritis in 3 days!", "A calming evening blend.")
    assert compact_reward(reply, TEA, True) == pytest.approx(
        0.75 + 0.25 * (judgement_reward(reply, TEA, True) + revision_reward(reply, TEA, True)) / 2)
    assert compact_reward(json.dumps({"violations": []}), clean, True) == 1.0
    assert compact_reward(_compact("bread", "cake"), clean, True) == 0.0  # a false flag
    # a floor of 1 pays the verdict alone: a right flag earns what a right "no violation" does
    wrong_policy = _compact("Cures arthritis in 3 days!", "", policy="misleading_pricing")
    assert compact_reward(wrong_policy, TEA, True, verdict_floor=1.0) == 1.0 > compact_reward(wrong_policy, TEA, True)
    assert compact_reward(json.dumps({"violations": []}), TEA, True, verdict_floor=1.0) == 0.0


def test_the_verdict_pays_for_flagging_a_violating_ad_under_the_wrong_policy():
    clean = LabelledAd(id="hand-5", ad=Ad(body="Fresh bread daily."), labels=[], split="train")
    wrong_policy = _compact("Cures arthritis in 3 days!", "", policy="misleading_pricing")
    assert verdict_reward(wrong_policy, TEA, True) == 1.0 and judgement_reward(wrong_policy, TEA, True) == 0.0
    assert verdict_reward(json.dumps({"violations": []}), TEA, True) == 0.0  # a miss
    assert verdict_reward(json.dumps({"violations": []}), clean, True) == 1.0
    assert verdict_reward(_compact("bread", "cake"), clean, True) == 0.0  # a false flag
    assert verdict_reward(_compact("Heals everything", ""), TEA, True) == 0.0  # an ungrounded quote flags nothing
    assert verdict_reward("{", TEA, False) == 0.0
    # on the violating ad, the wrong policy earns at least 0.75 (verdict 1, judgement 0; its fix deletes the
    # claim, so its revision scores too) where "no violation" earns nothing
    parts = compact_reward_parts(wrong_policy, TEA, True)
    assert parts["verdict"] == 1.0 and parts["judgement"] == 0.0
    assert compact_reward(wrong_policy, TEA, True) == pytest.approx(0.75 + 0.25 * (0.0 + parts["revision"]) / 2)
    assert compact_reward(json.dumps({"violations": []}), TEA, True) == 0.0


def test_findings_reward_scores_how_an_ad_is_flagged_and_abstains_on_whether():
    clean = LabelledAd(id="hand-6", ad=Ad(body="Fresh bread daily."), labels=[], split="train")
    no_violation = json.dumps({"violations": []})
    # flagging nothing abstains, on a violating ad (a miss) as on a compliant one (right)
    assert findings_reward(no_violation, TEA, True) is None and findings_reward(no_violation, clean, True) is None
    # the right policy, a grounded quote and a fix that passes: the mean of judgement F1 (1) and revision
    right = _compact("Cures arthritis in 3 days!", "A calming evening blend.")
    assert findings_reward(right, TEA, True) == pytest.approx((1.0 + revision_reward(right, TEA, True)) / 2)
    # the wrong policy: F1 0, its deleting fix still passes the re-check
    wrong_policy = _compact("Cures arthritis in 3 days!", "", policy="misleading_pricing")
    assert findings_reward(wrong_policy, TEA, True) == pytest.approx(revision_reward(wrong_policy, TEA, True) / 2)
    # a quote the ad lacks: F1 0, no revision: 0 (it flagged, so it is scored, not abstaining)
    assert findings_reward(_compact("Heals everything", "Tasty"), TEA, True) == 0.0
    # a false flag on a compliant ad (no revision due): F1 0
    assert findings_reward(_compact("bread", "cake"), clean, True) == 0.0
    # an unknown policy id is dropped by the parser, but the reply flagged: 0; unreadable or cut off: 0
    assert findings_reward(_compact("Cures arthritis in 3 days!", "", policy="no_such_policy"), TEA, True) == 0.0
    assert findings_reward("{", TEA, False) == 0.0
