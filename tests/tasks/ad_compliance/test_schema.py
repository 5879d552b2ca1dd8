"""Output schemas are bounded everywhere, and the token budgets follow from the bounds."""

import pytest

from tasks.ad_compliance.datatypes import Ad
from tasks.ad_compliance.policies import policy_ids
from tasks.ad_compliance.schema import (JudgementLimits, judgement_json_schema,
                                        judgement_max_tokens, max_tokens_for_schema,
                                        revision_body_limit, revision_json_schema,
                                        revision_max_tokens)


def walk(schema, path="$"):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{key}")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")


SCHEMAS = {"judgement": judgement_json_schema(), "revision": revision_json_schema(),
           "revision_small": revision_json_schema(Ad(body="Short ad."))}


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_array_and_string_is_bounded(name):
    nodes = list(walk(SCHEMAS[name]))
    assert nodes
    for path, node in nodes:
        if node.get("type") == "array":
            assert isinstance(node.get("maxItems"), int), path
        if node.get("type") == "string":
            assert "enum" in node or isinstance(node.get("maxLength"), int), path
        if node.get("type") == "object":
            assert node["additionalProperties"] is False, path
            assert node["required"] == list(node["properties"]), path


def test_judgement_schema_shape_and_enum():
    schema = judgement_json_schema()
    assert list(schema["properties"]) == ["violations", "analysis"]
    violations = schema["properties"]["violations"]
    assert violations["maxItems"] == 6
    item = violations["items"]["properties"]
    assert list(item) == ["policy_id", "quote", "explanation"]
    assert item["policy_id"]["enum"] == list(policy_ids())
    assert item["explanation"]["maxLength"] <= 300
    subset = judgement_json_schema(["clickbait", "health_claims"])
    assert subset["properties"]["violations"]["items"]["properties"]["policy_id"]["enum"] == [
        "health_claims", "clickbait"]


def test_revision_schema_shape():
    schema = revision_json_schema()
    assert list(schema["properties"]) == ["headline", "body", "call_to_action", "changes"]
    assert schema["properties"]["body"]["minLength"] == 1
    change = schema["properties"]["changes"]["items"]["properties"]
    assert list(change) == ["before", "after", "reason"]


def test_revision_body_limit_buckets():
    assert revision_body_limit(Ad(body="x" * 100)) == 300      # 125 + 50 = 175 -> 300
    assert revision_body_limit(Ad(body="x" * 440)) == 600      # 550 + 50 = 600 -> 600
    assert revision_body_limit(Ad(body="x" * 441)) == 1200     # 552 + 50 = 602 -> 1200
    assert revision_body_limit(Ad(body="x" * 5000)) == 5000    # capped at the ad limit
    assert revision_body_limit(None) == 5000


def test_max_tokens_hand_worked():
    # {"a": <string of 30>}: content 30 chars -> 10 tokens; structure: braces 2 + quotes 2
    # + key "a" with quotes, colon and space (1 + 4) = 9 chars -> 5 tokens; plus 16 overhead.
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 30}}}
    assert max_tokens_for_schema(schema) == 10 + 5 + 16
    # an array of up to 3 such strings: content 90 -> 30; structure 2 + 3*2 + 2*2 = 12 -> 6.
    array = {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 30}}
    assert max_tokens_for_schema(array) == 30 + 6 + 16


def test_unbounded_schema_is_rejected():
    with pytest.raises(ValueError, match="maxLength"):
        max_tokens_for_schema({"type": "string"})
    with pytest.raises(ValueError, match="maxItems"):
        max_tokens_for_schema({"type": "array", "items": {"type": "string", "maxLength": 3}})


def test_budgets_grow_with_bounds_and_stay_modest():
    small = judgement_max_tokens(limits=JudgementLimits(max_violations=1))
    assert small < judgement_max_tokens() < 1500
    assert revision_max_tokens(Ad(body="Short ad.")) < revision_max_tokens(Ad(body="x" * 3000))
    assert revision_max_tokens() < 3500
