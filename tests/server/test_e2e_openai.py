"""End to end: the real server (vLLM, tiny model) called with the official openai SDK."""

from __future__ import annotations

import json
import time

import httpx
import jsonschema
import openai
import pytest

pytestmark = pytest.mark.e2e
HI = [{"role": "user", "content": "Say hello"}]


def metric(text: str, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_chat_completion(openai_client):
    r = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=8)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert isinstance(r.choices[0].message.content, str)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_with_usage_in_last_chunk(openai_client):
    stream = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=6, stream=True,
                                                   stream_options={"include_usage": True}, temperature=0)
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    full = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=6, temperature=0)
    assert text == full.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_n_two_choices(openai_client):
    r = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=5, n=2, seed=1, logprobs=True)
    assert sorted(c.index for c in r.choices) == [0, 1]
    assert r.usage.completion_tokens == sum(len(c.logprobs.content) for c in r.choices)
    assert r.choices[0].message.content != r.choices[1].message.content


def test_same_seed_same_text(openai_client):
    def sample(seed):
        return openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=12, temperature=1.0,
                                                     seed=seed).choices[0].message.content

    first, again = sample(1234), sample(1234)
    assert first == again
    assert any(sample(seed) != first for seed in (1, 2, 3))


def test_stop_sequence(openai_client):
    # Greedy output of the random model is only newlines; a seeded sample is varied and repeatable.
    sample = dict(model="tiny", messages=HI, max_tokens=20, temperature=1.0, seed=7)
    text = openai_client.chat.completions.create(**sample).choices[0].message.content
    assert len(text) > 12, text
    stop = text[8:12]
    r = openai_client.chat.completions.create(**sample, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == text[: text.index(stop)]


def test_logprobs(openai_client):
    r = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=4, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for token in content:
        assert token.logprob <= 0
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0].logprob >= token.top_logprobs[-1].logprob
        assert token.logprob <= token.top_logprobs[0].logprob + 1e-5


def test_json_schema_response_validates(openai_client):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}, "score": {"type": "integer", "minimum": 0, "maximum": 9}},
        "required": ["answer", "score"],
        "additionalProperties": False,
    }
    r = openai_client.chat.completions.create(
        model="tiny", messages=HI, max_tokens=40, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}},
    )
    assert r.choices[0].finish_reason == "stop", r.choices[0].message.content
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)


def test_text_completion(openai_client):
    r = openai_client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=5, logprobs=2)
    assert r.object == "text_completion"
    assert len(r.choices[0].logprobs.tokens) == r.usage.completion_tokens


def test_models(openai_client):
    models = openai_client.models.list()
    assert [m.id for m in models.data] == ["tiny", "tiny-alias", "tiny-lora"]
    assert openai_client.models.retrieve("tiny").id == "tiny"


def test_bad_requests_are_400_with_param(openai_client, live_server):
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model="tiny", messages=HI, temperature=7)
    assert err.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi " * 5000}])
    assert err.value.body["param"] == "messages"
    assert err.value.body["code"] == "context_length_exceeded"
    r = httpx.post(f"{live_server.base_url}/v1/chat/completions", content=b"{not json",
                   headers={**live_server.headers, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_wrong_key_and_unknown_model(openai_client, live_server):
    bad = openai.OpenAI(base_url=f"{live_server.base_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.NotFoundError) as err:
        openai_client.chat.completions.create(model="gpt-4", messages=HI)
    assert err.value.body["param"] == "model"


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_disconnected_stream_is_aborted_in_the_engine(live_server):
    before = live_server.metrics()
    max_tokens = 900
    body = {"model": "tiny", "messages": HI, "max_tokens": max_tokens, "stream": True, "temperature": 0,
            "stop": ["unlikely-stop-string-xyz"]}
    with httpx.stream("POST", f"{live_server.base_url}/v1/chat/completions", json=body,
                      headers=live_server.headers, timeout=60) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
    # the connection is closed: the engine must drop the request rather than finish 900 tokens
    assert _wait_for(lambda: metric(live_server.metrics(), "icegrt_requests_aborted_total")
                     > metric(before, "icegrt_requests_aborted_total"))
    assert _wait_for(lambda: metric(live_server.metrics(), "vllm:num_requests_running") == 0)
    generated = metric(live_server.metrics(), "vllm:generation_tokens_total") - metric(before, "vllm:generation_tokens_total")
    assert generated < max_tokens


def test_metrics_show_requests(openai_client, live_server):
    openai_client.models.list()
    text = live_server.metrics()
    assert metric(text, "icegrt_requests_total", route="/v1/models", status="200") >= 1
    assert metric(text, "icegrt_requests_total", route="/v1/chat/completions", status="200") >= 1
    assert metric(text, "icegrt_time_to_first_token_seconds_count") >= 1
    assert metric(text, "vllm:prompt_tokens_total") > 0


def test_health_ready_version_open(live_server):
    assert httpx.get(f"{live_server.base_url}/health").status_code == 200
    assert httpx.get(f"{live_server.base_url}/ready").json()["model"] == "tiny"
    assert httpx.get(f"{live_server.base_url}/version", headers=live_server.headers).json()["vllm"] == "0.32.0"


def test_concurrent_seeded_long_prompts_keep_the_engine_alive(openai_client, live_server):
    """vLLM 0.32 on CPU died when a seeded request's prompt was split across steps (chunked
    prefill rewinds its generator); eight ~1,500-token seeded prompts at once force that split."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(i: int) -> str:
        words = " ".join(f"item{i}-{j}" for j in range(500))
        r = openai_client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": words}],
                                                  max_tokens=4, seed=i + 1, temperature=1.0)
        return r.choices[0].finish_reason

    with ThreadPoolExecutor(8) as pool:
        assert all(reason in {"stop", "length"} for reason in pool.map(ask, range(8)))
    assert httpx.get(f"{live_server.base_url}/ready", timeout=10).status_code == 200


# ---- issue 17: list prompts, echo, logit_bias, tokenize, refused fields -------------------------


def tokenize(live_server, **body) -> list[int]:
    r = httpx.post(f"{live_server.base_url}/tokenize", json=body, headers=live_server.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["tokens"]


def test_list_prompts_text_and_token_ids(openai_client, live_server):
    prompts = ["Once upon a time", "The cat sat on"]
    greedy = dict(model="tiny", max_tokens=3, temperature=0)
    single = [openai_client.completions.create(prompt=p, **greedy).choices[0].text for p in prompts]
    r = openai_client.completions.create(prompt=prompts, **greedy)
    assert [c.text for c in sorted(r.choices, key=lambda c: c.index)] == single
    ids = [tokenize(live_server, prompt=p) for p in prompts]
    assert r.usage.prompt_tokens == sum(map(len, ids))
    by_ids = openai_client.completions.create(prompt=ids, **greedy)
    assert [c.text for c in sorted(by_ids.choices, key=lambda c: c.index)] == single
    sampled = openai_client.completions.create(model="tiny", prompt=prompts, n=2, max_tokens=3, seed=3)
    assert sorted(c.index for c in sampled.choices) == [0, 1, 2, 3]
    assert sampled.usage.prompt_tokens == sum(map(len, ids)) and 0 < sampled.usage.completion_tokens <= 4 * 3
    streamed: dict[int, str] = {}
    for chunk in openai_client.completions.create(prompt=prompts, stream=True, **greedy):
        for c in chunk.choices:
            streamed[c.index] = streamed.get(c.index, "") + c.text
    assert streamed == {0: single[0], 1: single[1]}


def test_echo_scores_the_prompt_as_lm_eval_does(openai_client, live_server):
    """lm-evaluation-harness local-completions: echo, logprobs, max_tokens 0."""
    prompt = "The quick brown fox jumps"
    ids = tokenize(live_server, prompt=prompt)
    r = openai_client.completions.create(model="tiny", prompt=prompt, echo=True, logprobs=5, max_tokens=0)
    choice = r.choices[0]
    assert choice.text == prompt
    lp = choice.logprobs
    assert len(lp.tokens) == len(ids) and "".join(lp.tokens) == prompt
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert all(x <= 0 for x in lp.token_logprobs[1:])
    assert lp.text_offset[0] == 0 and lp.text_offset[-1] == len(prompt) - len(lp.tokens[-1])
    # the last token's distribution equals that of generating one token after the rest of the prompt
    step = openai_client.completions.create(model="tiny", prompt=ids[:-1], max_tokens=1, temperature=0, logprobs=5)
    assert max(lp.top_logprobs[-1].values()) == pytest.approx(step.choices[0].logprobs.token_logprobs[0], abs=1e-3)
    # echo while generating: the prompt, then the reply, with log probabilities for both
    r = openai_client.completions.create(model="tiny", prompt=prompt, echo=True, logprobs=1, max_tokens=2,
                                         temperature=0)
    plain = openai_client.completions.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0)
    assert r.choices[0].text == prompt + plain.choices[0].text
    assert len(r.choices[0].logprobs.tokens) == len(ids) + plain.usage.completion_tokens
    streamed = "".join(c.choices[0].text for c in openai_client.completions.create(
        model="tiny", prompt=prompt, echo=True, max_tokens=2, temperature=0, stream=True) if c.choices)
    assert streamed == r.choices[0].text


def test_logit_bias_forces_and_bans_tokens(openai_client, live_server):
    [hello] = tokenize(live_server, prompt=" hello")
    r = openai_client.completions.create(model="tiny", prompt="Say", max_tokens=4, temperature=0,
                                         logit_bias={str(hello): 100})
    assert r.choices[0].text == " hello" * 4
    chat = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=3, temperature=0,
                                                 logit_bias={str(hello): 100})
    assert chat.choices[0].message.content == " hello" * 3
    first = openai_client.completions.create(model="tiny", prompt="Say", max_tokens=1, temperature=0).choices[0].text
    banned = tokenize(live_server, prompt=first)
    assert len(banned) == 1, (first, banned)
    again = openai_client.completions.create(model="tiny", prompt="Say", max_tokens=1, temperature=0,
                                             logit_bias={str(banned[0]): -100})
    assert again.choices[0].text != first  # the greedy token, banned, is not chosen
    for bias in ({"999999": 1}, {"x": 1}, {str(hello): 500}):
        with pytest.raises(openai.BadRequestError) as err:
            openai_client.completions.create(model="tiny", prompt="Say", max_tokens=1, logit_bias=bias)
        assert err.value.body["param"] == "logit_bias"


def test_tokenize_and_detokenize(openai_client, live_server):
    base, headers = live_server.base_url, live_server.headers
    r = httpx.post(f"{base}/tokenize", json={"model": "tiny", "prompt": "Hello world"}, headers=headers)
    body = r.json()
    assert body["count"] == len(body["tokens"]) > 0 and body["max_model_len"] == 4096
    back = httpx.post(f"{base}/detokenize", json={"model": "tiny", "tokens": body["tokens"]}, headers=headers)
    assert back.json() == {"prompt": "Hello world"}
    chat_tokens = tokenize(live_server, messages=HI)
    usage = openai_client.chat.completions.create(model="tiny", messages=HI, max_tokens=1).usage
    assert len(chat_tokens) == usage.prompt_tokens
    assert len(tokenize(live_server, messages=HI, add_generation_prompt=False)) < len(chat_tokens)
    bad = httpx.post(f"{base}/detokenize", json={"tokens": [999999]}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tokens"
    assert httpx.post(f"{base}/tokenize", json={"prompt": "x"}).status_code == 401


def test_unsupported_known_fields_are_refused(openai_client):
    function = {"name": "f", "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model="tiny", messages=HI, functions=[function])
    assert err.value.body["param"] == "functions"
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.completions.create(model="tiny", prompt="def f(", suffix="return 1")
    assert err.value.body["param"] == "suffix"
