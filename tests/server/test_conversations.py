"""Conversations on the fake engine: create/get/delete, replies (plain and streamed), what is
stored when, history trimming to the context window, and errors naming their field.

The fake engine counts one token per whitespace-separated word of the rendered prompt
``<role>content...<assistant>`` and always replies "Hello there friend" (3 tokens).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from inference.engine import ChoiceDelta, EngineUnavailableError, GenerationChunk
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

REPLY = "Hello there friend"


@pytest.fixture
def client(engine):
    with make_client(engine, served_model_name="fake-model") as c:
        wait_ready(c)
        yield c


def create(client, **body) -> dict:
    r = client.post("/v1/conversations", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def post(client, conversation_id: str, content: str, **options):
    return client.post(f"/v1/conversations/{conversation_id}/messages", json={"content": content, **options})


def history(client, conversation_id: str) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in client.get(f"/v1/conversations/{conversation_id}").json()["messages"]]


def sse_events(text: str) -> list:
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:])
            for line in text.splitlines() if line.startswith("data: ")]


def assert_error(response, status: int, param: str | None, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param
    if code:
        assert error["code"] == code
    return error


def test_create_with_and_without_a_body(client):
    bare = client.post("/v1/conversations")
    assert bare.status_code == 200
    assert bare.json()["object"] == "conversation" and bare.json()["messages"] == []
    conv = create(client, system="be brief", model="fake-model", metadata={"team": "ads"})
    assert conv["id"].startswith("conv-") and conv["model"] == "fake-model" and conv["metadata"] == {"team": "ads"}
    assert [(m["role"], m["content"]) for m in conv["messages"]] == [("system", "be brief")]
    assert client.get(f"/v1/conversations/{conv['id']}").json() == conv


def test_create_without_the_engine_loaded():
    with make_client(None) as client:  # the engine never loads: conversations can still be made and read
        conv = create(client)
        assert client.get(f"/v1/conversations/{conv['id']}").status_code == 200
        assert_error(post(client, conv["id"], "hi"), 503, None, "engine_not_ready")
        assert history(client, conv["id"]) == []


@pytest.mark.parametrize("body, param", [
    ({"model": "other"}, "model"),
    ({"system": ""}, "system"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"k": "v" * 513}}, "metadata.k"),
    ({"temperature": 0.5}, "temperature"),  # generation options belong to messages
])
def test_create_rejects_bad_fields(client, body, param):
    r = client.post("/v1/conversations", json=body)
    assert_error(r, 404 if param == "model" else 400, param)


def test_reply_is_returned_and_stored_with_the_question(client, engine):
    conv = create(client, system="S")
    r = post(client, conv["id"], "hi there", max_tokens=10, temperature=0.5, seed=7)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["object"] == "conversation.message" and reply["role"] == "assistant"
    assert (reply["conversation_id"], reply["model"], reply["content"]) == (conv["id"], "fake-model", REPLY)
    assert reply["finish_reason"] == "stop"
    prompt_ids, params = engine.calls[0]
    assert reply["usage"] == {"prompt_tokens": len(prompt_ids), "completion_tokens": 3,
                              "total_tokens": len(prompt_ids) + 3}
    assert (params.max_tokens, params.temperature, params.seed, params.n) == (10, 0.5, 7, 1)
    messages = client.get(f"/v1/conversations/{conv['id']}").json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [("system", "S"), ("user", "hi there"), ("assistant", REPLY)]
    assert messages[2]["id"] == reply["id"] and messages[2]["finish_reason"] == "stop"
    assert len({m["id"] for m in messages}) == 3


def test_next_turn_sees_the_whole_history(client, engine):
    conv = create(client, system="S")
    post(client, conv["id"], "first")
    post(client, conv["id"], "second")
    expected = [{"role": "system", "content": "S"}, {"role": "user", "content": "first"},
                {"role": "assistant", "content": REPLY}, {"role": "user", "content": "second"}]
    assert engine.calls[1][0] == engine.encode(engine.render_chat(expected))


def test_stream_sends_chunks_then_the_stored_reply_then_done(client):
    conv = create(client)
    r = post(client, conv["id"], "hi", stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks, final = events[:-2], events[-2]
    assert all(c["object"] == "conversation.message.chunk" and c["id"] == final["id"] for c in chunks)
    assert "".join(c["delta"]["content"] for c in chunks) == REPLY
    assert chunks[-1]["finish_reason"] == "stop"
    assert final["object"] == "conversation.message" and final["content"] == REPLY
    stored = client.get(f"/v1/conversations/{conv['id']}").json()["messages"]
    assert stored[-1]["id"] == final["id"] and history(client, conv["id"]) == [("user", "hi"), ("assistant", REPLY)]


def test_stop_and_length_replies_are_stored_as_such(client):
    conv = create(client)
    assert post(client, conv["id"], "a", stop=["there"]).json()["content"] == "Hello "
    cut = post(client, conv["id"], "b", max_tokens=2).json()
    assert (cut["content"], cut["finish_reason"]) == ("Hello there", "length")
    assert [m["finish_reason"] for m in client.get(f"/v1/conversations/{conv['id']}").json()["messages"]] == [
        None, "stop", None, "length"]


def test_history_is_trimmed_to_the_context_window_but_kept_in_the_store(client, engine):
    # Context 64 tokens, max_tokens=8: the prompt may have 56. System "S" is 1 word, each question
    # 10 words, each reply 3; adjacent messages glue into one word at each boundary. The prompt for
    # question n (all n-1 earlier turns kept) has 1 + 10n + 3(n-1) - (2n-1) = 11n - 1 tokens:
    # 54 for n=5, 65 for n=6, so question 6 drops the oldest turn: 1 + 50 + 12 - 9 = 54 tokens.
    conv = create(client, system="S")
    questions = [" ".join([f"q{n}"] * 10) for n in range(1, 7)]
    for question in questions:
        assert post(client, conv["id"], question, max_tokens=8).status_code == 200
    assert [len(ids) for ids, _ in engine.calls] == [10, 21, 32, 43, 54, 54]
    kept = [{"role": "system", "content": "S"}]
    for question in questions[1:5]:
        kept += [{"role": "user", "content": question}, {"role": "assistant", "content": REPLY}]
    kept.append({"role": "user", "content": questions[5]})
    assert engine.calls[-1][0] == engine.encode(engine.render_chat(kept))
    assert len(history(client, conv["id"])) == 1 + 2 * 6


def test_default_reserve_trims_to_leave_room_for_a_reply(client, engine):
    conv = create(client)  # no max_tokens: a quarter of the 64-token context (16) stays free for the reply
    for _ in range(6):
        assert post(client, conv["id"], " ".join(["w"] * 10)).status_code == 200
    assert all(len(ids) <= 48 for ids, _ in engine.calls)
    assert engine.calls[-1][1].max_tokens == 64 - len(engine.calls[-1][0])


def test_a_message_too_long_for_the_context_is_400_on_content_and_stores_nothing(client, engine):
    conv = create(client, system="S")
    post(client, conv["id"], "short")
    before = history(client, conv["id"])
    for stream in (False, True):
        r = post(client, conv["id"], " ".join(["w"] * 60), max_tokens=8, stream=stream)
        assert_error(r, 400, "content", "context_length_exceeded")
    assert_error(post(client, conv["id"], "hi", max_tokens=64), 400, "max_tokens", "context_length_exceeded")
    assert history(client, conv["id"]) == before
    assert len(engine.calls) == 1


@pytest.mark.parametrize("body, param", [
    ({}, "content"),
    ({"content": ""}, "content"),
    ({"content": "hi", "n": 2}, "n"),
    ({"content": "hi", "temperature": 3}, "temperature"),
    ({"content": "hi", "max_tokens": 0}, "max_tokens"),
    ({"content": "hi", "stop": ["s"] * 9}, "stop"),
])
def test_bad_message_fields_are_400_naming_them(client, body, param):
    conv = create(client)
    assert_error(client.post(f"/v1/conversations/{conv['id']}/messages", json=body), 400, param)
    assert history(client, conv["id"]) == []


def test_unknown_conversation_is_404_on_conversation_id(client):
    for r in (post(client, "conv-nope", "hi"), post(client, "conv-nope", "hi", stream=True),
              client.get("/v1/conversations/conv-nope"), client.delete("/v1/conversations/conv-nope")):
        error = assert_error(r, 404, "conversation_id", "conversation_not_found")
        assert error["type"] == "not_found_error"


def test_delete(client):
    conv = create(client, system="S")
    post(client, conv["id"], "hi")
    r = client.delete(f"/v1/conversations/{conv['id']}")
    assert r.json() == {"id": conv["id"], "object": "conversation.deleted", "deleted": True}
    assert_error(client.get(f"/v1/conversations/{conv['id']}"), 404, "conversation_id")
    assert_error(post(client, conv["id"], "hi"), 404, "conversation_id")


def test_failed_generation_stores_nothing(client, engine):
    conv = create(client)
    engine.fail_with = EngineUnavailableError("engine died")
    assert_error(post(client, conv["id"], "hi"), 503, None, "engine_unavailable")
    assert_error(post(client, conv["id"], "hi", stream=True), 503, None, "engine_unavailable")  # before its 200
    engine.fail_after_chunks = 1
    events = sse_events(post(client, conv["id"], "hi", stream=True).text)
    assert events[-2]["error"]["code"] == "engine_unavailable" and events[-1] == "[DONE]"
    assert history(client, conv["id"]) == []


class AbortingEngine(FakeEngine):
    """Sends one piece, then reports the request aborted (what vLLM does when it is shut down)."""

    async def generate(self, prompt_token_ids, params, request_id) -> AsyncIterator[GenerationChunk]:
        yield GenerationChunk(len(prompt_token_ids), [ChoiceDelta(0, "Hel", 1)])
        yield GenerationChunk(len(prompt_token_ids), [ChoiceDelta(0, "", 0, finish_reason="abort")], True)


def test_aborted_generation_is_503_and_stores_nothing():
    with make_client(AbortingEngine()) as client:
        wait_ready(client)
        conv = create(client)
        assert_error(post(client, conv["id"], "hi"), 503, None, "generation_aborted")
        events = sse_events(post(client, conv["id"], "hi", stream=True).text)
        assert events[-2]["error"]["code"] == "generation_aborted" and events[-1] == "[DONE]"
        assert history(client, conv["id"]) == []
