"""Tool calling in chat completions (issue 17), against the fake engine and vLLM's own parsers.

The fake engine "generates" its scripted reply word by word, whatever the constraint; the tests
check the constraint it was asked for (vLLM's, built by vLLM's code) and how the reply is read:
without a tool parser, "required" and named choices through vLLM's JSON path; with
``--enable-auto-tool-choice --tool-call-parser hermes``, vLLM's real hermes parser and the tiny
model's real tokenizer.
"""

from __future__ import annotations

import json

import pytest

from common.errors import UserError
from server.openai.tools import AUTO_NEEDS_PARSER
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine
from tests.server.test_openai_serving import chat, sse_events

WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                                            "parameters": WEATHER_PARAMS}}
TIME = {"type": "function", "function": {"name": "get_time"}}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
HERMES_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


def only_choice(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]


def streamed(response) -> tuple[list[dict], str | None]:
    """The deltas of choice 0 after the role chunk, and its finish_reason."""
    assert response.status_code == 200, response.text
    deltas, finish = [], None
    for event in sse_events(response)[1:-1]:
        for choice in event["choices"]:
            deltas.append(choice["delta"])
            finish = choice.get("finish_reason") or finish
    return deltas, finish


def joined_calls(deltas: list[dict]) -> list[dict]:
    """Streamed tool-call pieces put together, by index."""
    calls: dict[int, dict] = {}
    for delta in deltas:
        for piece in delta.get("tool_calls", []):
            call = calls.setdefault(piece["index"], {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or piece.get("id")
            function = piece.get("function") or {}
            call["name"] += function.get("name") or ""
            call["arguments"] += function.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


# ---- without a tool parser: "required" and named choices, vLLM's JSON path -------------------------------


def test_a_named_choice_constrains_to_the_functions_parameters(client, engine):
    engine.reply = '{"city": "Paris"}'
    choice = only_choice(chat(client, tools=[WEATHER, TIME], tool_choice=NAMED))
    assert engine.calls[0][1].json_schema == WEATHER_PARAMS
    assert choice["finish_reason"] == "stop"  # vLLM: a named call finishes as the engine says
    message = choice["message"]
    assert message["content"] == ""  # vLLM's content for forced calls
    [call] = message["tool_calls"]
    assert call["id"].startswith("chatcmpl-tool-") and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_a_function_without_parameters_takes_any_object(client, engine):
    engine.reply = "{}"
    choice = only_choice(chat(client, tools=[TIME], tool_choice={"type": "function", "function": {"name": "get_time"}}))
    assert engine.calls[0][1].json_schema == {"type": "object", "properties": {}}
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_time", "arguments": "{}"}


def test_required_constrains_to_an_array_of_calls(client, engine):
    engine.reply = '[{"name": "get_time", "parameters": {}}, {"name": "get_weather", "parameters": {"city": "Oslo"}}]'
    choice = only_choice(chat(client, tools=[WEATHER, TIME], tool_choice="required"))
    schema = engine.calls[0][1].json_schema
    assert schema["type"] == "array" and schema["minItems"] == 1 and "maxItems" not in schema
    assert [s["properties"]["name"]["enum"] for s in schema["items"]["anyOf"]] == [["get_weather"], ["get_time"]]
    assert schema["items"]["anyOf"][0]["properties"]["parameters"] == WEATHER_PARAMS
    assert choice["finish_reason"] == "tool_calls"
    calls = [c["function"] for c in choice["message"]["tool_calls"]]
    assert calls == [{"name": "get_time", "arguments": "{}"}, {"name": "get_weather", "arguments": '{"city": "Oslo"}'}]
    assert len({c["id"] for c in choice["message"]["tool_calls"]}) == 2


def test_required_without_parallel_calls_allows_one(client, engine):
    engine.reply = '[{"name": "get_time", "parameters": {}}]'
    choice = only_choice(chat(client, tools=[WEATHER, TIME], tool_choice="required", parallel_tool_calls=False))
    assert engine.calls[0][1].json_schema["maxItems"] == 1
    assert len(choice["message"]["tool_calls"]) == 1


def test_a_forced_call_cut_by_max_tokens_keeps_length(client, engine):
    engine.reply = '[{"name": "get_time", "parameters": {}}]'
    choice = only_choice(chat(client, tools=[TIME], tool_choice="required", max_tokens=2))
    assert choice["finish_reason"] == "length"
    assert choice["message"] == {"role": "assistant", "content": ""}  # vLLM: no call read from cut JSON


def test_a_tool_choice_overrides_response_format(client, engine):
    engine.reply = '{"city": "Rome"}'
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string"}}}
    only_choice(chat(client, tools=[WEATHER], tool_choice=NAMED, response_format=rf))
    assert engine.calls[0][1].json_schema == WEATHER_PARAMS


def test_auto_without_a_parser_is_vllms_400(client, engine):
    for body in ({"tools": [WEATHER]}, {"tools": [WEATHER], "tool_choice": "auto"}):
        r = chat(client, **body)
        assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice"
        assert r.json()["error"]["message"] == AUTO_NEEDS_PARSER
    assert engine.calls == []


def test_none_renders_the_tools_and_reads_text(client, engine):
    choice = only_choice(chat(client, tools=[WEATHER], tool_choice="none"))
    assert choice["message"] == {"role": "assistant", "content": "Hello there friend"}
    assert engine.calls[0][1].json_schema is None
    assert engine.calls[0][0] == engine.encode(engine.render_chat([{"role": "user", "content": "hi"}], tools=[WEATHER]))


def test_exclude_tools_when_tool_choice_none():
    engine = FakeEngine()
    with make_client(engine, exclude_tools_when_tool_choice_none=True) as client:
        wait_ready(client)
        only_choice(chat(client, tools=[WEATHER], tool_choice="none"))
        assert engine.calls[0][0] == engine.encode(engine.render_chat([{"role": "user", "content": "hi"}]))


def test_a_named_call_streams_its_arguments(client, engine):
    engine.reply = '{"city": "Paris", "days": 3}'
    deltas, finish = streamed(chat(client, tools=[WEATHER], tool_choice=NAMED, stream=True))
    assert finish == "stop"
    first = deltas[0]["tool_calls"][0]
    assert first["index"] == 0 and first["type"] == "function" and first["id"].startswith("chatcmpl-tool-")
    assert first["function"]["name"] == "get_weather"
    assert len([d for d in deltas if d.get("tool_calls")]) == 4  # one piece per generated word
    assert joined_calls(deltas) == [{"id": first["id"], "name": "get_weather", "arguments": engine.reply}]
    assert all("content" not in d for d in deltas)


def test_required_streams_each_call(client, engine):
    engine.reply = '[{"name": "get_time", "parameters": {}}, {"name": "get_weather", "parameters": {"city": "Oslo"}}]'
    deltas, finish = streamed(chat(client, tools=[WEATHER, TIME], tool_choice="required", stream=True,
                                   stream_options={"include_usage": True}))
    assert finish == "tool_calls"
    calls = joined_calls(deltas)
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("get_time", {}),
                                                                        ("get_weather", {"city": "Oslo"})]
    assert all(c["id"] for c in calls)


def test_a_grammar_the_engine_cannot_compile_names_tools(client, engine):
    from inference.engine import EngineRequestError

    engine.fail_with = EngineRequestError("the JSON schema cannot be compiled into a grammar", "response_format")
    for stream in (False, True):
        r = chat(client, tools=[WEATHER], tool_choice=NAMED, stream=stream)
        assert r.status_code == 400 and r.json()["error"]["param"] == "tools"


# ---- with --enable-auto-tool-choice --tool-call-parser hermes ---------------------------------------------


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_path):
    from vllm.tokenizers import get_tokenizer

    return get_tokenizer(str(tiny_model_path))


@pytest.fixture
def hermes(tiny_tokenizer):
    """A client on a server with hermes auto tool choice, and its fake engine holding the real tokenizer."""
    engine = FakeEngine()
    engine.tokenizer = tiny_tokenizer
    with make_client(engine, enable_auto_tool_choice=True, tool_call_parser="hermes") as client:
        wait_ready(client)
        yield client, engine


def test_auto_reads_hermes_tool_calls(hermes):
    client, engine = hermes
    engine.reply = "Let me look. " + HERMES_CALL
    choice = only_choice(chat(client, tools=[WEATHER]))
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look. "
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("chatcmpl-tool-")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    params = engine.calls[0][1]
    assert params.json_schema is None and params.structural_tag is None  # auto: free text, as vLLM without strict tools
    assert params.skip_special_tokens is False  # hermes keeps <tool_call> markers that are special tokens


def test_auto_without_a_call_is_text(hermes):
    client, engine = hermes
    choice = only_choice(chat(client, tools=[WEATHER], tool_choice="auto"))
    assert choice == {"index": 0, "message": {"role": "assistant", "content": "Hello there friend"},
                      "logprobs": None, "finish_reason": "stop"}


def test_auto_streams_hermes_tool_calls(hermes):
    client, engine = hermes
    engine.reply = "Checking. " + HERMES_CALL
    deltas, finish = streamed(chat(client, tools=[WEATHER], stream=True))
    assert finish == "tool_calls"
    assert "".join(d.get("content") or "" for d in deltas).strip() == "Checking."
    [call] = joined_calls(deltas)
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert call["id"].startswith("chatcmpl-tool-")


def test_hermes_forced_choices_use_its_structural_tag(hermes):
    """vLLM 0.32 constrains hermes's required and named calls to its own markup (a structural tag) and
    reads them with the parser; a tool's arguments follow its schema when the tool is strict."""
    client, engine = hermes
    engine.reply = HERMES_CALL
    strict = {"type": "function", "function": {**WEATHER["function"], "strict": True}}
    choice = only_choice(chat(client, tools=[strict, TIME], tool_choice=NAMED))
    params = engine.calls[0][1]
    assert params.json_schema is None and params.skip_special_tokens is False
    tag = json.loads(params.structural_tag)
    assert tag["format"]["stop_after_first"] is True
    assert {t["begin"] for t in tag["format"]["tags"]} >= {'<tool_call>{"name": "get_weather", "arguments": '}
    assert all(t["content"]["json_schema"] == WEATHER_PARAMS for t in tag["format"]["tags"])
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert choice["finish_reason"] == "stop"
    choice = only_choice(chat(client, tools=[strict, TIME], tool_choice="required"))
    assert choice["finish_reason"] == "tool_calls"
    assert json.loads(engine.calls[1][1].structural_tag)["format"]["stop_after_first"] is False


def test_hermes_none_and_no_tools_are_plain(hermes):
    client, engine = hermes
    engine.reply = HERMES_CALL
    for body in ({"tools": [WEATHER], "tool_choice": "none"}, {}):
        choice = only_choice(chat(client, **body))
        assert choice["message"] == {"role": "assistant", "content": HERMES_CALL}
        assert choice["finish_reason"] == "stop"


def test_an_unknown_tool_parser_is_refused_at_start():
    with pytest.raises(UserError, match="not a vLLM tool parser"):
        make_client(FakeEngine(), enable_auto_tool_choice=True, tool_call_parser="no-such-parser")
