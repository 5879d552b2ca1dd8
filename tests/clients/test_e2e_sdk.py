"""End to end: the SDK and ``icegrt ads check`` against the real server (vLLM on the tiny model).

No mocks. An endpoint family that is not merged yet answers 404 "no such route", and its tests
skip saying so. The tiny model has random weights: these tests check the contract and the
invariants the server guarantees (rule findings, evidence offsets, re-checked revisions), not
the quality of its judgement.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from icegrt_client import AsyncIceGrtClient, AuthenticationError, BadRequestError, IceGrtClient, NotFoundError
from icegrt_client.commands import run_check
from tests.clients.helpers import endpoint, needs_openai
from tests.clients.test_commands import parse, read_jsonl, write_lines

pytestmark = pytest.mark.e2e
CURE_AD = {"headline": "Miracle drops", "body": "Our herbal drops cure diabetes in 30 days.",
           "call_to_action": "Buy now"}
TIMEOUT = 300  # generations on a CPU; the point is the contract, not the speed


@pytest.fixture
def client(sdk_server):
    with IceGrtClient(sdk_server.base_url, sdk_server.api_key, timeout=TIMEOUT) as client:
        yield client


def test_policies(client):
    with endpoint("GET /v1/ads/policies"):
        policies = client.ads.policies()
    assert "health_claims" in {p.id for p in policies}


@pytest.mark.parametrize("suggest", [False, True])
def test_check_finds_the_rule_violation_with_exact_evidence(client, suggest):
    with endpoint("POST /v1/ads/compliance"):
        result = client.ads.check(CURE_AD, suggest=suggest, market="US")
    assert result.object == "ad.compliance" and result.model == "tiny"
    assert result.compliant is False
    assert "health_claims" in {v.policy_id for v in result.violations}
    for violation in result.violations:
        for ev in violation.evidence:
            assert CURE_AD[ev.field][ev.start:ev.end] == ev.text
    assert (result.suggested_revision is None) == (result.revision_compliant is None)
    if not suggest:
        assert result.suggested_revision is None


def test_check_rejects_bad_input_naming_the_field(client):
    with endpoint("POST /v1/ads/compliance"), pytest.raises(BadRequestError) as caught:
        client.ads.check({"headline": "no body"})
    assert caught.value.param == "ad.body" and caught.value.status == 400
    with pytest.raises(BadRequestError) as caught:
        client.ads.check(CURE_AD, policies=["no_such_policy"])
    assert caught.value.param == "policies"


def test_text_to_table(client):
    with endpoint("POST /v1/text-to-table"):
        table = client.tables.extract("Blue Spice is a cheap pub in the city centre.", columns=["name", "area"],
                                      format="markdown")
    assert table.object == "text_to_table"
    assert all(len(row) == len(table.columns) for row in table.rows)
    assert isinstance(table.markdown, str) and isinstance(table.complete, bool)


def test_conversation_round_trip_and_feedback(client):
    with endpoint("POST /v1/conversations"):
        conversation = client.conversations.create(system="Be brief.")
    reply = client.conversations.send(conversation.id, "Say hello", max_tokens=8, temperature=0)
    assert reply.conversation_id == conversation.id and reply.finish_reason in ("stop", "length")
    stream = client.conversations.send(conversation.id, "Again", stream=True, max_tokens=8, temperature=0)
    text = "".join(stream)
    assert stream.reply is not None and stream.reply.content == text
    history = client.conversations.get(conversation.id)
    assert [m.content for m in history.messages if m.role == "user"] == ["Say hello", "Again"]
    with endpoint("POST /v1/feedback"):
        assert client.feedback.submit(conversation_id=conversation.id, message_id=reply.id, rating=1).id
    client.conversations.delete(conversation.id)
    with pytest.raises(NotFoundError):
        client.conversations.get(conversation.id)


@needs_openai
def test_chat_through_the_openai_handle(client):
    reply = client.openai.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}],
                                                  max_tokens=4)
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_wrong_key_is_an_authentication_error(sdk_server):
    with IceGrtClient(sdk_server.base_url, "wrong-key") as client, pytest.raises(AuthenticationError):
        client.ads.policies()  # auth runs before routing, so this holds before the route is merged too


def test_async_client(sdk_server):
    async def go():
        async with AsyncIceGrtClient(sdk_server.base_url, sdk_server.api_key, timeout=TIMEOUT) as client:
            return await asyncio.gather(*(client.ads.check(CURE_AD, suggest=False) for _ in range(2)))

    with endpoint("POST /v1/ads/compliance"):
        results = asyncio.run(go())
    assert all(not r.compliant for r in results)


def test_ads_check_cli(sdk_server, client, tmp_path):
    with endpoint("GET /v1/ads/policies"):
        client.ads.policies()
    lines = [json.dumps(CURE_AD), json.dumps({"id": "empty", "ad": {"body": ""}}), "not json",
             json.dumps({"id": "clean", "ad": {"body": "Fresh coffee beans, roasted weekly."}})]
    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", lines)), "-o", str(out), "--no-suggest",
                 "--base-url", sdk_server.base_url, "--api-key", sdk_server.api_key, "--concurrency", "2",
                 "--timeout", str(TIMEOUT))
    assert run_check(args) == 0
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [1, "empty", 3, "clean"]
    assert records[0]["result"]["compliant"] is False
    assert records[1]["error"]["param"] == "ad.body" and records[2]["error"]["type"] == "invalid_input"
    assert "result" in records[3]
