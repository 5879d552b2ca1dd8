"""Unit tests of the OpenAI-compatible serving code against a fake engine."""

from __future__ import annotations

import json

import pytest

from inference.engine import EngineRequestError, EngineUnavailableError

CHAT = "/v1/chat/completions"


def chat(client, **body):
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return client.post(CHAT, json=body)


def sse_events(response) -> list:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_chat_reply_and_usage(client, engine):
    r = chat(client)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-model"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello there friend"}
    assert body["choices"][0]["finish_reason"] == "stop"
    prompt_tokens = len(engine.calls[0][0])
    assert body["usage"] == {"prompt_tokens": prompt_tokens, "completion_tokens": 3, "total_tokens": prompt_tokens + 3}
    assert r.headers["x-request-id"]


def test_message_parts_and_roles_reach_the_template(client, engine):
    messages = [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": " parts"}]},
    ]
    assert chat(client, messages=messages).status_code == 200
    rendered = engine.encode(engine.render_chat([{"role": "system", "content": "be brief"},
                                                {"role": "user", "content": "two parts"}]))
    assert engine.calls[0][0] == rendered


def test_n_choices_count_tokens_of_every_choice(client):
    body = chat(client, n=2).json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][1]["message"]["content"] == "Hello1 there1 friend1"
    assert body["usage"]["completion_tokens"] == 6


def test_stop_string_and_length_finish(client, engine):
    body = chat(client, stop=["there"]).json()
    assert body["choices"][0]["message"]["content"] == "Hello "
    assert body["choices"][0]["finish_reason"] == "stop"
    assert engine.calls[0][1].stop == ("there",)
    body = chat(client, max_tokens=2).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


def test_sampling_fields_are_passed_to_the_engine(client, engine):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    r = chat(client, temperature=0.3, top_p=0.9, top_k=5, min_p=0.1, seed=7, presence_penalty=0.5,
             frequency_penalty=-0.5, repetition_penalty=1.1, max_completion_tokens=9,
             response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert r.status_code == 200
    params = engine.calls[0][1]
    assert (params.temperature, params.top_p, params.top_k, params.min_p, params.seed) == (0.3, 0.9, 5, 0.1, 7)
    assert (params.presence_penalty, params.frequency_penalty, params.repetition_penalty) == (0.5, -0.5, 1.1)
    assert params.max_tokens == 9
    assert params.json_schema == schema
    chat(client, response_format={"type": "json_object"})
    assert engine.calls[1][1].json_object is True


def test_default_max_tokens_fills_the_context(client, engine):
    chat(client)
    prompt_ids, params = engine.calls[0]
    assert params.max_tokens == engine.max_model_len - len(prompt_ids)


def test_logprobs_shape(client):
    body = chat(client, logprobs=True, top_logprobs=2).json()
    content = body["choices"][0]["logprobs"]["content"]
    assert [c["token"] for c in content] == ["Hello", " there", " friend"]
    assert content[0]["logprob"] == -0.5
    assert [t["token"] for t in content[0]["top_logprobs"]] == ["alt0", "alt1"]
    assert content[1]["bytes"] == list(b" there")


def test_stream_events_and_usage(client):
    r = chat(client, stream=True, n=2, stream_options={"include_usage": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = {0: "", 1: ""}
    finish = {}
    for event in events[2:-2]:
        for choice in event["choices"]:
            text[choice["index"]] += choice["delta"]["content"]
            if "finish_reason" in choice:
                finish[choice["index"]] = choice["finish_reason"]
    assert text == {0: "Hello there friend", 1: "Hello1 there1 friend1"}
    assert finish == {0: "stop", 1: "stop"}
    usage_event = events[-2]
    assert usage_event["choices"] == [] and usage_event["usage"]["completion_tokens"] == 6


def test_stream_without_usage_option_sends_no_usage(client):
    events = sse_events(chat(client, stream=True))
    assert all("usage" not in e for e in events[:-1])


def test_engine_error_mid_stream_becomes_an_error_event(client, engine):
    engine.fail_with, engine.fail_after_chunks = EngineUnavailableError("engine died"), 1
    events = sse_events(chat(client, stream=True))
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["type"] == "service_unavailable"
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2] if e.get("choices")) == "Hello"


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_engine_refusing_a_stream_on_submission_is_a_plain_error_response(client, engine, route):
    engine.fail_with = EngineRequestError("token id 999999 is out of vocabulary", "prompt")
    body = {"messages": [{"role": "user", "content": "hi"}]} if "chat" in route else {"prompt": "hi"}
    r = client.post(route, json={**body, "stream": True})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "prompt" and r.headers["x-request-id"]


def test_completions(client, engine):
    r = client.post("/v1/completions", json={"prompt": "once upon", "max_tokens": 2, "logprobs": 1})
    body = r.json()
    assert r.status_code == 200, body
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Hello there"
    assert body["choices"][0]["logprobs"]["tokens"] == ["Hello", " there"]
    assert body["choices"][0]["logprobs"]["text_offset"] == [0, 5]
    assert body["usage"]["prompt_tokens"] == 2
    events = sse_events(client.post("/v1/completions", json={"prompt": [1, 2, 3], "stream": True}))
    assert "".join(e["choices"][0]["text"] for e in events[:-1]) == "Hello there friend"
    assert engine.calls[-1][0] == [1, 2, 3]


def test_models_routes(client):
    assert client.get("/v1/models").json()["data"][0]["id"] == "fake-model"
    assert client.get("/v1/models/fake-model").json()["max_model_len"] == 64
    r = client.get("/v1/models/other")
    assert r.status_code == 404 and r.json()["error"]["param"] == "model"


def test_served_name_defaults_to_the_run_for_training_checkpoints():
    from pathlib import Path

    from server.app import default_served_name

    assert default_served_name(Path("/x/runs/ppo_cpu/checkpoint")) == "ppo_cpu"
    assert default_served_name(Path("/models/SmolLM2-135M-Instruct")) == "SmolLM2-135M-Instruct"
