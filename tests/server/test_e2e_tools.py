"""End to end: tool calling on the real server (vLLM, tiny model, ``--tool-call-parser hermes``) with
the official openai SDK. The random tiny model never calls a tool by itself, so forced choices
("required", a named function) carry the round trip; auto parsing is tested on hermes-style text in
test_openai_tools.py."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest

pytestmark = pytest.mark.e2e

WEATHER_PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                   "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The weather forecast",
                                            "parameters": WEATHER_PARAMS, "strict": True}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}},
                                         "strict": True}}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
ASK = [{"role": "user", "content": "What is the weather in Paris for 3 days?"}]


def test_a_named_call_round_trip(openai_client):
    """tools + named tool_choice -> a tool call whose arguments follow the schema -> the call and its
    result sent back -> an ordinary reply."""
    r = openai_client.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER, TIME], tool_choice=NAMED,
                                              max_tokens=60, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "stop", choice.message
    [call] = choice.message.tool_calls
    assert call.id.startswith("chatcmpl-tool-") and call.type == "function"
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_PARAMS)
    assert choice.message.content == ""  # vLLM's content for a forced call

    follow_up = [*ASK, choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"forecast": "sunny", "high_c": 24}'}]
    r2 = openai_client.chat.completions.create(model="tiny", messages=follow_up, tools=[WEATHER, TIME],
                                               tool_choice="none", max_tokens=8, temperature=0)
    assert r2.choices[0].message.tool_calls is None
    assert isinstance(r2.choices[0].message.content, str) and r2.choices[0].finish_reason in ("stop", "length")
    assert r2.usage.prompt_tokens > r.usage.prompt_tokens  # the call and its result were in the prompt


def test_required_calls_one_of_the_tools(openai_client):
    r = openai_client.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER, TIME],
                                              tool_choice="required", parallel_tool_calls=False, max_tokens=60,
                                              temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice.message
    [call] = choice.message.tool_calls
    schema = {"get_weather": WEATHER_PARAMS, "get_time": TIME["function"]["parameters"]}[call.function.name]
    jsonschema.validate(json.loads(call.function.arguments), schema)


def test_a_named_call_streams_its_arguments(openai_client):
    stream = openai_client.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER], tool_choice=NAMED,
                                                   max_tokens=60, temperature=0, stream=True,
                                                   stream_options={"include_usage": True})
    pieces, finish, ids, names = [], None, [], []
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                assert call.index == 0
                ids += [call.id] if call.id else []
                names += [call.function.name] if call.function and call.function.name else []
                pieces.append(call.function.arguments or "" if call.function else "")
            finish = choice.finish_reason or finish
    assert finish == "stop"
    assert len(ids) == 1 and ids[0].startswith("chatcmpl-tool-") and names == ["get_weather"]
    assert len([p for p in pieces if p]) > 1  # the arguments arrive in pieces
    jsonschema.validate(json.loads("".join(pieces)), WEATHER_PARAMS)


def test_auto_reads_text_when_the_model_calls_nothing(openai_client):
    r = openai_client.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER], max_tokens=5)
    assert r.choices[0].message.tool_calls is None
    assert r.choices[0].finish_reason in ("stop", "length")


def test_bad_tool_requests_are_400_naming_the_field(openai_client):
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER],
                                              tool_choice={"type": "function", "function": {"name": "nope"}})
    assert err.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model="tiny", messages=ASK, tool_choice="required")
    assert err.value.body["param"] == "tool_choice"
