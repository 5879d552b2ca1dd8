"""The policy catalogue: shape, lookup and errors."""

import pytest

from tasks.ad_compliance.policies import (POLICIES, UnknownPolicyError, get_policy, policy_ids,
                                          select_policies)

REQUIRED = {"health_claims", "guaranteed_returns", "misleading_pricing", "false_urgency",
            "weight_loss_claims", "prohibited_products", "alcohol_minors", "personal_attributes",
            "shocking_content", "gimmicky_formatting", "unverifiable_superlatives",
            "fake_endorsements", "clickbait"}


def test_catalogue_covers_required_policies():
    assert len(POLICIES) >= 12
    assert REQUIRED <= set(policy_ids())
    assert len(set(policy_ids())) == len(POLICIES)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.id)
def test_policy_fields(policy):
    assert policy.severity in ("low", "medium", "high", "critical")
    assert 2 <= len(policy.violating_examples) <= 3
    assert 2 <= len(policy.compliant_examples) <= 3
    assert policy.name and len(policy.description) > 40
    assert get_policy(policy.id) is policy


def test_unknown_policy_error_is_keyerror_with_helpful_message():
    with pytest.raises(KeyError) as info:
        get_policy("no_such_policy")
    assert isinstance(info.value, UnknownPolicyError)
    message = str(info.value)
    assert "no_such_policy" in message and "health_claims" in message
    assert info.value.policy_id == "no_such_policy"


def test_select_policies_keeps_catalogue_order_and_validates():
    assert select_policies(["clickbait", "health_claims"]) == (
        get_policy("health_claims"), get_policy("clickbait"))
    assert select_policies(None) == POLICIES
    with pytest.raises(UnknownPolicyError):
        select_policies(["health_claims", "bogus"])
    with pytest.raises(ValueError):
        select_policies([])
