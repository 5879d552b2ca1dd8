"""Issue 17's OpenAI request shapes against a fake engine: list prompts, echo with prompt log
probabilities, logit_bias, /tokenize and /detokenize, the shapes of tool calling (its behaviour:
test_openai_tools.py), and known fields refused instead of dropped.

The fake engine's token ids are word lengths (``encode("ab cde") == [2, 3]``,
``decode([2, 3]) == "xx xxx"``); its reply is "Hello there friend", choice i's words suffixed with i.
"""

from __future__ import annotations

import pytest

from server.openai.protocol import MAX_PROMPTS
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine
from tests.server.test_openai_serving import chat, sse_events

COMPLETIONS = "/v1/completions"


def complete(client, **body):
    return client.post(COMPLETIONS, json=body)


def bad_param(response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]["param"]


def streamed_texts(events) -> dict[int, str]:
    texts: dict[int, str] = {}
    for event in events[:-1]:
        for choice in event.get("choices", []):
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    return texts


# ---- list prompts -----------------------------------------------------------------------------


def test_a_list_of_text_prompts_gives_n_choices_per_prompt_in_order(client, engine):
    body = complete(client, prompt=["a bb", "ccc"], n=2, max_tokens=2).json()
    assert [(c["index"], c["text"]) for c in body["choices"]] == [
        (0, "Hello there"), (1, "Hello1 there1"), (2, "Hello there"), (3, "Hello1 there1")]
    assert sorted(call[0] for call in engine.calls) == [[1, 2], [3]]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 8, "total_tokens": 11}


def test_a_list_of_token_id_lists(client, engine):
    body = complete(client, prompt=[[1, 2], [3]], max_tokens=1).json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert sorted(call[0] for call in engine.calls) == [[1, 2], [3]]
    assert body["usage"]["prompt_tokens"] == 3


def test_streamed_list_prompts_index_choices_and_sum_usage(client):
    events = sse_events(complete(client, prompt=["a", "b c"], n=2, stream=True,
                                 stream_options={"include_usage": True}))
    assert events[-1] == "[DONE]"
    assert streamed_texts(events) == {0: "Hello there friend", 1: "Hello1 there1 friend1",
                                      2: "Hello there friend", 3: "Hello1 there1 friend1"}
    assert events[-2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 12, "total_tokens": 15}


@pytest.mark.parametrize("prompt", [[], [[]], ["a", ""], [["a"]], [[1, -2]], ["x"] * (MAX_PROMPTS + 1)])
def test_bad_prompt_lists_are_a_400_naming_prompt(client, prompt):
    assert bad_param(complete(client, prompt=prompt)).startswith("prompt")


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_the_engine_refuses_aborts_the_others(client, engine, stream):
    r = complete(client, prompt=[[1, 2], [5000]], stream=stream, max_tokens=3)
    assert bad_param(r) == "prompt"
    assert len(engine.aborted) == 1 and engine.aborted[0].endswith("-0")


# ---- echo -------------------------------------------------------------------------------------


def test_echo_prepends_the_prompt_with_its_logprobs(client, engine):
    body = complete(client, prompt="once upon", echo=True, logprobs=1, max_tokens=2).json()
    choice = body["choices"][0]
    assert choice["text"] == "once uponHello there"
    logprobs = choice["logprobs"]
    assert logprobs["tokens"] == ["xxxx", " xxxx", "Hello", " there"]
    assert logprobs["token_logprobs"] == [None, -0.1, -0.5, -0.5]
    assert logprobs["top_logprobs"][0] is None and logprobs["top_logprobs"][1] == {"alt0": -1.0}
    assert logprobs["text_offset"] == [0, 4, 9, 14]
    assert engine.calls[0][1].prompt_logprobs == 1
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}


def test_echo_without_logprobs_asks_for_no_prompt_logprobs(client, engine):
    body = complete(client, prompt="once upon", echo=True, max_tokens=1).json()
    assert body["choices"][0]["text"] == "once uponHello" and body["choices"][0]["logprobs"] is None
    assert engine.calls[0][1].prompt_logprobs is None


def test_echo_with_zero_max_tokens_scores_the_prompt_only(client, engine):
    """lm-evaluation-harness's log-likelihood request; as vLLM, one token is generated, not shown, counted."""
    body = complete(client, prompt=["a bb", "ccc"], echo=True, logprobs=0, max_tokens=0).json()
    assert [c["text"] for c in body["choices"]] == ["a bb", "ccc"]
    assert body["choices"][0]["logprobs"]["token_logprobs"] == [None, -0.1]
    assert body["choices"][1]["logprobs"]["tokens"] == ["xxx"]
    assert body["choices"][0]["finish_reason"] == "length"
    assert all(params.max_tokens == 1 and params.prompt_logprobs == 0 for _, params in engine.calls)
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_zero_max_tokens_without_echo_is_a_400(client):
    r = complete(client, prompt="a", max_tokens=0)
    assert bad_param(r) == "max_tokens" and "echo" in r.json()["error"]["message"]


def test_echo_of_token_ids_decodes_them(client):
    assert complete(client, prompt=[3, 5], echo=True, max_tokens=1).json()["choices"][0]["text"] == "xxx xxxxxHello"
    assert bad_param(complete(client, prompt=[3, 5000], echo=True, max_tokens=1)) == "prompt"


@pytest.mark.parametrize("max_tokens", [0, 2])
def test_streamed_echo_matches_the_response(client, max_tokens):
    body = dict(prompt=["once upon", "a"], echo=True, logprobs=1, max_tokens=max_tokens, n=2)
    full = complete(client, **body).json()
    events = sse_events(complete(client, **body, stream=True))
    assert streamed_texts(events) == {c["index"]: c["text"] for c in full["choices"]}
    for choice in full["choices"]:
        parts = [c["logprobs"] for e in events[:-1] for c in e["choices"] if c["index"] == choice["index"]]
        for key in ("tokens", "token_logprobs", "text_offset"):
            assert [x for part in parts for x in part[key]] == choice["logprobs"][key], key


# ---- logit_bias ---------------------------------------------------------------------------------


def test_logit_bias_reaches_the_engine(client, engine):
    assert chat(client, logit_bias={"5": 10, "7": -100}).status_code == 200
    assert complete(client, prompt="a", logit_bias={"9": 0.5}).status_code == 200
    assert [params.logit_bias for _, params in engine.calls] == [{5: 10.0, 7: -100.0}, {9: 0.5}]
    chat(client)
    assert engine.calls[-1][1].logit_bias is None


@pytest.mark.parametrize("bias", [{"a": 1}, {"-1": 1}, {"1.5": 1}, {"5": 101}, {"5": -100.5}, {"5": "x"},
                                  {"5": True}, {"5": None}, [1, 2], "5", {"5000": 1}])
def test_bad_logit_bias_is_a_400_naming_it(client, bias):
    assert bad_param(chat(client, logit_bias=bias)) == "logit_bias"
    assert bad_param(complete(client, prompt="a", logit_bias=bias)) == "logit_bias"


# ---- tokenize / detokenize ----------------------------------------------------------------------


def test_tokenize_a_prompt_and_a_chat(client, engine):
    r = client.post("/tokenize", json={"prompt": "ab cde", "model": "fake-model"})
    assert r.json() == {"count": 2, "max_model_len": 64, "tokens": [2, 3], "token_strs": None}
    messages = [{"role": "user", "content": "hi there"}]
    with_prompt = client.post("/tokenize", json={"messages": messages}).json()
    assert with_prompt["tokens"] == engine.encode(engine.render_chat(messages))
    without = client.post("/tokenize", json={"messages": messages, "add_generation_prompt": False}).json()
    assert without["tokens"] == engine.encode(engine.render_chat(messages, add_generation_prompt=False))
    assert without["tokens"] != with_prompt["tokens"]
    assert engine.calls == []  # nothing generated


def test_tokenize_counts_what_chat_completions_send(client, engine):
    messages = [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}]
    tokens = client.post("/tokenize", json={"messages": messages}).json()["tokens"]
    chat(client, messages=messages)
    assert engine.calls[0][0] == tokens
    with_tools = client.post("/tokenize", json={"messages": messages, "tools": [TOOL]}).json()["tokens"]
    chat(client, messages=messages, tools=[TOOL], tool_choice="none")
    assert engine.calls[1][0] == with_tools and len(with_tools) > len(tokens)


def test_detokenize(client):
    assert client.post("/detokenize", json={"tokens": [3, 5]}).json() == {"prompt": "xxx xxxxx"}


@pytest.mark.parametrize(("route", "body", "param"), [
    ("/tokenize", {}, "prompt"),
    ("/tokenize", {"prompt": ""}, "prompt"),
    ("/tokenize", {"prompt": "a", "messages": [{"role": "user", "content": "a"}]}, "prompt"),
    ("/tokenize", {"messages": []}, "messages"),
    ("/tokenize", {"messages": [{"role": "function", "content": "a", "name": "f"}]}, "messages[0].role"),
    ("/tokenize", {"prompt": "a", "return_token_strs": True}, "return_token_strs"),
    ("/detokenize", {"tokens": []}, "tokens"),
    ("/detokenize", {"tokens": [3, 5000]}, "tokens"),
    ("/detokenize", {"tokens": [-1]}, "tokens[0]"),
    ("/detokenize", {"tokens": "abc"}, "tokens"),
])
def test_bad_tokenize_input_is_a_400(client, route, body, param):
    assert bad_param(client.post(route, json=body)) == param


def test_tokenize_checks_the_model_and_the_key():
    with make_client(FakeEngine(), api_key=["k1"]) as client:
        wait_ready(client)
        assert client.post("/tokenize", json={"prompt": "a"}).status_code == 401
        assert client.post("/detokenize", json={"tokens": [1]}).status_code == 401
        key = {"Authorization": "Bearer k1"}
        assert client.post("/tokenize", json={"prompt": "a"}, headers=key).status_code == 200
        r = client.post("/detokenize", json={"tokens": [1], "model": "other"}, headers=key)
        assert r.status_code == 404 and r.json()["error"]["param"] == "model"


# ---- tool calling: shapes and vLLM's rules; known fields that are not supported are refused ----------

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}


@pytest.mark.parametrize(("body", "param"), [
    ({"tools": []}, "tools"),
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
    ({"tool_choice": "auto"}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "g"}}}, "tool_choice"),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {}}}, "tool_choice"),
    ({"tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [TOOL], "parallel_tool_calls": "maybe"}, "parallel_tool_calls"),
    ({"functions": [TOOL["function"]]}, "functions"),
    ({"function_call": "auto"}, "function_call"),
])
def test_bad_tool_fields_are_a_400_naming_them(client, engine, body, param):
    """vLLM's rules: tools non-empty, a tool_choice other than "none" needs tools and a named one must
    be among them; the legacy functions API is refused (vLLM ignores it)."""
    assert bad_param(chat(client, **body)) == param
    assert engine.calls == []


@pytest.mark.parametrize(("messages", "param"), [
    ([{"role": "function", "name": "f", "content": "42"}], "messages[0].role"),
    ([{"role": "user", "content": "hi", "tool_calls": [CALL]}], "messages[0].tool_calls"),
    ([{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"arguments": "{}"}}]}],
     "messages[0].tool_calls[0].function.name"),
    ([{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}],
     "messages[0].tool_calls[0].id"),
    ([{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}]}],
     "messages[0].tool_calls[0].function.arguments"),
    ([{"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}],
     "messages[0].function_call"),
])
def test_bad_tool_messages_are_a_400(client, messages, param):
    assert bad_param(chat(client, messages=messages)) == param


def test_tool_results_and_assistant_tool_calls_are_accepted(client, engine):
    """A follow-up turn: the assistant's call (content null) and the tool's result reach the template."""
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "42"}]}]
    r = chat(client, messages=messages, tools=[TOOL], tool_choice="none")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"] == {"role": "assistant", "content": "Hello there friend"}
    template_messages = [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": "", "tool_calls": [
                             {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
                         {"role": "tool", "content": "42", "tool_call_id": "c1"}]
    template_tools = [{"type": "function",
                       "function": {"name": "f", "description": None, "parameters": {"type": "object"}}}]
    assert engine.calls[0][0] == engine.encode(engine.render_chat(template_messages, tools=template_tools))


def test_null_tool_fields_and_unknown_fields_are_accepted(client):
    assert chat(client, tools=None, tool_choice=None, parallel_tool_calls=None, functions=None, function_call=None,
                some_future_field=1).status_code == 200
    assert chat(client, tool_choice="none", parallel_tool_calls=False).status_code == 200
    assert complete(client, prompt="a", suffix=None, best_of=1, some_future_field=1).status_code == 200
    assert complete(client, prompt="a", best_of=2, n=2).status_code == 200


@pytest.mark.parametrize(("body", "param"), [({"suffix": "end"}, "suffix"), ({"best_of": 3}, "best_of"),
                                             ({"best_of": 1, "n": 2}, "best_of")])
def test_unsupported_completion_fields_are_refused(client, body, param):
    assert bad_param(complete(client, prompt="a", **body)) == param
