"""Typed parsing of the domain answers, and tolerance of fields the server adds later."""

from __future__ import annotations

import pytest

from icegrt_client import ComplianceResult, IceGrtClient, IceGrtError, Reply, TableResult
from tests.clients.helpers import AD, BASE_URL, COMPLIANCE, POLICIES, Script, compliance, ok


def test_compliance_result_parses_the_contract_exactly():
    result = IceGrtClient(BASE_URL, transport=Script(ok(COMPLIANCE)).transport()).ads.check(AD)
    assert isinstance(result, ComplianceResult)
    assert (result.id, result.object, result.created, result.model) == (
        "adchk-1", "ad.compliance", 1764200000, "SmolLM2-135M-Instruct")
    assert result.compliant is False and result.revision_compliant is True
    [violation] = result.violations
    assert (violation.policy_id, violation.severity) == ("health_claims", "high")
    [ev] = violation.evidence
    assert AD["body"][ev.start:ev.end] == ev.text == "cure diabetes"
    assert ev.field is None  # not in the contract; optional
    revision = result.suggested_revision
    assert revision.body.startswith("Our drops") and revision.changes[0].reason == "no cure claims"
    assert result.usage.total_tokens == 1020
    assert result.model_dump(mode="json", exclude_unset=True) == COMPLIANCE  # nothing lost, nothing invented


def test_extra_fields_are_kept_not_rejected():
    body = compliance(model_checked=True, future_field={"x": 1})
    body["violations"][0]["evidence"][0]["field"] = "body"
    body["violations"][0]["source"] = "rule"
    result = ComplianceResult.model_validate(body)
    assert result.violations[0].evidence[0].field == "body"
    assert result.violations[0].source == "rule"
    assert result.model_checked is True
    assert result.future_field == {"x": 1}


def test_compliant_ad_without_revision_or_usage():
    result = ComplianceResult.model_validate(compliance(compliant=True, violations=[], suggested_revision=None,
                                                        revision_compliant=None, usage=None))
    assert result.suggested_revision is None and result.usage is None


def test_a_response_that_breaks_the_contract_is_an_sdk_error():
    broken = compliance()
    broken["violations"][0]["severity"] = "catastrophic"
    with pytest.raises(IceGrtError) as caught:
        IceGrtClient(BASE_URL, transport=Script(ok(broken)).transport()).ads.check(AD)
    assert caught.value.type == "invalid_response" and "severity" in caught.value.message


def test_policy_catalogue():
    [policy] = IceGrtClient(BASE_URL, transport=Script(ok(POLICIES)).transport()).ads.policies()
    assert policy.id == "health_claims" and policy.severity == "high" and policy.detector is True
    assert policy.violating_examples == ["Cures diabetes.", "Reverses ageing."]


def test_table_result():
    table = TableResult.model_validate({
        "id": "t2t-1", "object": "text_to_table", "created": 1, "model": "m", "columns": ["name", "area"],
        "rows": [["Blue Spice", "city centre"]], "markdown": "| name | area |", "csv": "name,area\n",
        "complete": True, "warnings": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
    assert table.rows[0][1] == "city centre" and table.csv.startswith("name") and table.complete


def test_reply():
    reply = Reply.model_validate({"id": "msg-2", "object": "conversation.message", "conversation_id": "conv-1",
                                  "created": 1, "model": "m", "role": "assistant", "content": "Hi!",
                                  "finish_reason": "stop", "usage": {"total_tokens": 5}})
    assert (reply.id, reply.conversation_id, reply.content, reply.finish_reason) == ("msg-2", "conv-1", "Hi!", "stop")
