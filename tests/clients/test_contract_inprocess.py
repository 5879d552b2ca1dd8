"""The SDK against the real app (routes, validation, error envelope) on the fake engine.

This checks the client/server contract on every run without vLLM; the end-to-end twin is
test_e2e_sdk.py. Endpoint families that are not merged yet skip.
"""

from __future__ import annotations

import json

import httpx
import pytest

from icegrt_client import BadRequestError, IceGrtClient, NotFoundError
from tests.clients.helpers import endpoint
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

BAD_AD = {"headline": "BEST COFFEE EVER!!!", "body": "Guaranteed returns of 20% a month. Act now!"}
NO_FINDINGS = json.dumps({"violations": [], "analysis": "Checked."}, separators=(",", ":"))


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(max_model_len=8192)  # the ad prompt carries the whole policy catalogue


class ViaTestClient(httpx.BaseTransport):
    """Forwards the SDK's httpx requests to Starlette's TestClient (built on httpx2, so its own
    transport cannot be handed to an httpx client). Responses, streams included, are buffered."""

    def __init__(self, app) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.app.request(request.method, str(request.url), content=request.read(),
                                  headers=dict(request.headers))
        return httpx.Response(answer.status_code, headers=answer.headers.multi_items(), content=answer.content)


@pytest.fixture
def client(engine):
    with make_client(engine) as app:
        wait_ready(app)
        yield IceGrtClient("http://testserver", transport=ViaTestClient(app), max_retries=0)


def test_policies(client):
    policies = client.ads.policies()
    assert len(policies) >= 12 and len({p.id for p in policies}) == len(policies)
    assert all(p.violating_examples and p.compliant_examples for p in policies)


def test_check_parses_the_servers_answer(client, engine):
    revision = {"headline": "Great coffee", "body": "Learn how our savings plan works.", "call_to_action": None,
                "changes": [{"before": "Guaranteed returns", "after": "Learn how", "reason": "no guarantees"}]}
    engine.queued_replies = [NO_FINDINGS, json.dumps(revision, separators=(",", ":")), NO_FINDINGS]
    result = client.ads.check(BAD_AD, market="US", mode="hybrid")
    assert result.mode == "hybrid" and result.revision_source == "model"
    assert result.object == "ad.compliance" and result.compliant is False
    assert "guaranteed_returns" in {v.policy_id for v in result.violations}
    for violation in result.violations:
        for ev in violation.evidence:
            assert BAD_AD[ev.field][ev.start:ev.end] == ev.text
    assert result.suggested_revision.body == revision["body"] and result.revision_compliant is True
    assert result.usage.completion_tokens > 0


def test_check_errors_name_the_field(client, engine):
    with pytest.raises(BadRequestError) as caught:
        client.ads.check({"body": ""})
    assert caught.value.param == "ad.body"
    with pytest.raises(BadRequestError) as caught:
        client.ads.check(BAD_AD, policies=["no_such_policy"])
    assert caught.value.param == "policies" and "health_claims" in caught.value.message
    with pytest.raises(NotFoundError) as caught:
        client.ads.check(BAD_AD, model="other")
    assert caught.value.param == "model"
    assert engine.calls == []


def test_text_to_table(client, engine):
    engine.queued_replies = ['{"columns":["name","area"],"rows":[["Blue Spice","city centre"]]}']
    table = client.tables.extract("Blue Spice is in the city centre.", columns=["name", "area"], format="csv")
    assert table.columns == ["name", "area"] and table.rows == [["Blue Spice", "city centre"]]
    assert table.csv.splitlines()[0] == "name,area" and table.complete is True


def test_conversation_round_trip_with_feedback(client, engine):
    engine.reply = "Hello there friend"
    with endpoint("/v1/conversations"):
        conversation = client.conversations.create(system="Be brief.")
    reply = client.conversations.send(conversation.id, "hi", max_tokens=8)
    assert reply.content == "Hello there friend" and reply.conversation_id == conversation.id
    stream = client.conversations.send(conversation.id, "again", stream=True, max_tokens=8)
    assert "".join(stream) == "Hello there friend" == stream.reply.content
    history = client.conversations.get(conversation.id)
    assert [m.role for m in history.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert history.messages[2].id == reply.id
    with endpoint("/v1/feedback"):
        receipt = client.feedback.submit(conversation_id=conversation.id, message_id=reply.id, rating=1)
    assert receipt.id
    with pytest.raises(BadRequestError) as caught:
        client.feedback.submit(conversation_id=conversation.id, message_id=reply.id, rating=5)
    assert caught.value.param == "rating"
    client.conversations.delete(conversation.id)
    with pytest.raises(NotFoundError):
        client.conversations.get(conversation.id)
