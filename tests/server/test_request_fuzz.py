"""Property-based fuzz of the request schemas: no input may produce a 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)

message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "developer", "tool", ""]) | json_values},
    optional={"content": st.text(max_size=40) | st.lists(st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url"]), "text": st.text(max_size=10) | json_values}), max_size=3)
        | json_values},
)
CHAT_FIELDS = ["model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "seed",
               "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "response_format", "stream",
               "stream_options", "user", "top_k", "min_p", "repetition_penalty", "logit_bias", "tools", "tool_choice",
               "parallel_tool_calls"]
chat_body = st.fixed_dictionaries(
    {"messages": st.lists(message, max_size=3) | json_values},
    optional={name: json_values | st.integers(-3, 40) | st.floats(-3, 3) for name in CHAT_FIELDS},
)
names = st.sampled_from(["f", "g"])
schemas = st.sampled_from([{"type": "object"}, {"type": "object", "properties": {"a": {"type": "integer"}}},
                           {"type": "object", "$defs": {"a": {}}}, {"$ref": "#"}, {}]) | json_values
tool = st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": names}, optional={"parameters": schemas, "strict": st.booleans(), "description": st.text(max_size=8)})})
arguments = st.text(max_size=12) | st.sampled_from(['{"a": 1}', "[1]", "{"])
tool_call = st.fixed_dictionaries({"id": st.text(max_size=6), "type": st.just("function"),
                                   "function": st.fixed_dictionaries({"name": names, "arguments": arguments})})
tool_message = (
    st.fixed_dictionaries({"role": st.just("assistant")},
                          optional={"content": st.none() | st.text(max_size=10), "tool_calls": st.lists(tool_call)})
    | st.fixed_dictionaries({"role": st.just("tool"), "content": st.text(max_size=10)},
                            optional={"tool_call_id": st.text(max_size=6)})
    | st.fixed_dictionaries({"role": st.just("user"), "content": st.text(max_size=10)}))
tool_choice = st.sampled_from(["none", "auto", "required"]) | st.fixed_dictionaries(
    {"type": st.just("function"), "function": st.fixed_dictionaries({"name": names})})
tool_chat_body = st.fixed_dictionaries(
    {"messages": st.lists(tool_message, min_size=1, max_size=3), "tools": st.lists(tool, min_size=1, max_size=2),
     "tool_choice": tool_choice},
    optional={"parallel_tool_calls": st.booleans(), "stream": st.booleans(), "max_tokens": st.integers(1, 3),
              "response_format": st.just({"type": "json_object"})})
token_ids = st.lists(st.integers(-5, 1100), max_size=5)
completion_body = st.fixed_dictionaries(
    {"prompt": st.text(max_size=40) | token_ids | st.lists(st.text(max_size=10) | token_ids, max_size=4)
     | json_values},
    optional={name: json_values | st.integers(-3, 40) for name in ["max_tokens", "logprobs", "n", "stream", "echo",
                                                                   "logit_bias", "suffix", "best_of"]},
)
tokenize_body = st.fixed_dictionaries({}, optional={
    "prompt": st.text(max_size=40) | json_values, "messages": st.lists(message, max_size=3) | json_values,
    "add_generation_prompt": json_values, "model": json_values})
detokenize_body = st.fixed_dictionaries({"tokens": token_ids | json_values}, optional={"model": json_values})

_client = None


def client():
    global _client
    if _client is None:
        _client = make_client(FakeEngine(max_model_len=48)).__enter__()
        wait_ready(_client)
    return _client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=chat_body)
def test_chat_never_5xx(body):
    r = client().post("/v1/chat/completions", json=body)
    assert r.status_code < 500, (body, r.text)
    if r.status_code >= 400:
        assert r.json()["error"]["message"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=tool_chat_body)
def test_tool_chat_never_5xx(body):
    """Tool calling's shapes, mostly valid, through vLLM's request model and parsers."""
    r = client().post("/v1/chat/completions", json=body)
    assert r.status_code < 500, (body, r.text)
    if r.status_code >= 400:
        assert r.json()["error"]["message"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=completion_body)
def test_completions_never_5xx(body):
    r = client().post("/v1/completions", json=body)
    assert r.status_code < 500, (body, r.text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=tokenize_body)
def test_tokenize_never_5xx(body):
    r = client().post("/tokenize", json=body)
    assert r.status_code < 500, (body, r.text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=detokenize_body)
def test_detokenize_never_5xx(body):
    r = client().post("/detokenize", json=body)
    assert r.status_code < 500, (body, r.text)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_5xx(raw):
    r = client().post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code < 500


def test_non_finite_numbers_are_a_400():
    for raw in (b'{"messages":[{"role":"user","content":"x"}],"temperature":NaN}',
                b'{"messages":[{"role":"user","content":"x"}],"max_tokens":Infinity}',
                b'{"messages":[{"role":"user","content":-Infinity}]}'):
        r = client().post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
