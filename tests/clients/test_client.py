"""The sync client: configuration, request shapes, streaming and the openai SDK handle."""

from __future__ import annotations

import json
import sys

import httpx
import pytest

from icegrt_client import Ad, IceGrtClient, IceGrtError
from tests.clients.helpers import AD, BASE_URL, Script, compliance, needs_openai, ok, sse

REPLY = {"id": "msg-2", "object": "conversation.message", "conversation_id": "conv/1", "created": 1, "model": "m",
         "role": "assistant", "content": "Hello there", "finish_reason": "stop",
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


def chunk(text: str) -> dict:
    return {"id": "msg-2", "object": "conversation.message.chunk", "conversation_id": "conv/1", "created": 1,
            "model": "m", "role": "assistant", "delta": {"content": text}, "finish_reason": None}


def test_configuration_from_arguments_env_and_defaults(monkeypatch):
    assert IceGrtClient().config.base_url == "http://127.0.0.1:8000"
    assert IceGrtClient().config.api_key is None
    monkeypatch.setenv("ICEGRT_BASE_URL", "http://env.test:9000/")
    monkeypatch.setenv("ICEGRT_API_KEY", "env-key")
    assert (IceGrtClient().config.base_url, IceGrtClient().config.api_key) == ("http://env.test:9000", "env-key")
    client = IceGrtClient("http://arg.test/v1", "arg-key", timeout=5, max_retries=0)
    assert (client.config.base_url, client.config.api_key) == ("http://arg.test", "arg-key")
    assert (client.config.timeout, client.config.max_retries) == (5.0, 0)
    with pytest.raises(ValueError, match="timeout"):
        IceGrtClient(timeout=0)
    with pytest.raises(ValueError, match="max_retries"):
        IceGrtClient(max_retries=-1)


def test_headers_carry_the_api_key():
    script = Script(ok(compliance()))
    IceGrtClient(BASE_URL, "secret", transport=script.transport()).ads.check(AD)
    assert script.requests[0].headers["authorization"] == "Bearer secret"
    script = Script(ok(compliance()))
    IceGrtClient(BASE_URL, transport=script.transport()).ads.check(AD)
    assert "authorization" not in script.requests[0].headers


def test_ads_check_body():
    script = Script(ok(compliance()))
    client = IceGrtClient(BASE_URL, transport=script.transport())
    client.ads.check(AD)
    client.ads.check(Ad(body="Plain body"), market="US", policies="health_claims", suggest=False, model="m")
    client.ads.check(AD, policies=(p for p in ["clickbait", "health_claims"]))
    first, second, third = script.bodies()
    assert first == {"ad": AD, "suggest": True}
    assert second == {"ad": {"body": "Plain body"}, "market": "US", "policies": ["health_claims"],
                      "suggest": False, "model": "m"}
    assert third["policies"] == ["clickbait", "health_claims"]
    assert {(r.method, r.url.path) for r in script.requests} == {("POST", "/v1/ads/compliance")}
    with pytest.raises(TypeError, match="ad must be"):
        client.ads.check("just a string")


def test_tables_extract_body():
    table = {"id": "t", "object": "text_to_table", "columns": ["a"], "rows": [["1"]], "markdown": "| a |"}
    script = Script(ok(table))
    client = IceGrtClient(BASE_URL, transport=script.transport())
    assert client.tables.extract("a is 1").rows == [["1"]]
    client.tables.extract("a is 1", columns=("a",), format="csv", model="m")
    assert script.bodies() == [{"text": "a is 1", "format": "json"},
                               {"text": "a is 1", "format": "csv", "columns": ["a"], "model": "m"}]
    assert script.requests[0].url.path == "/v1/text-to-table"


def test_conversation_calls_quote_the_id():
    conversation = {"id": "conv/1", "object": "conversation", "created": 1, "model": "m", "metadata": {},
                    "messages": [{"id": "msg-1", "role": "user", "content": "hi", "created": 1}]}
    script = Script(ok(conversation), ok(REPLY), ok(conversation),
                    ok({"id": "conv/1", "object": "conversation.deleted", "deleted": True}))
    client = IceGrtClient(BASE_URL, transport=script.transport())
    assert client.conversations.create(system="Be brief.", metadata={"team": "ads"}).id == "conv/1"
    reply = client.conversations.send("conv/1", "hi", max_tokens=8, temperature=0)
    assert (reply.id, reply.content, reply.usage.total_tokens) == ("msg-2", "Hello there", 5)
    assert client.conversations.get("conv/1").messages[0].content == "hi"
    assert client.conversations.delete("conv/1") is None
    calls = [(r.method, r.url.raw_path.decode()) for r in script.requests]
    assert calls == [("POST", "/v1/conversations"), ("POST", "/v1/conversations/conv%2F1/messages"),
                     ("GET", "/v1/conversations/conv%2F1"), ("DELETE", "/v1/conversations/conv%2F1")]
    assert script.bodies()[:2] == [{"system": "Be brief.", "metadata": {"team": "ads"}},
                                   {"max_tokens": 8, "temperature": 0, "content": "hi", "stream": False}]
    with pytest.raises(ValueError, match="empty"):
        client.conversations.get("")


def test_streamed_reply_yields_deltas_then_keeps_the_stored_reply():
    script = Script(sse(chunk("Hello"), chunk(""), chunk(" there"), REPLY, "[DONE]"))
    client = IceGrtClient(BASE_URL, transport=script.transport())
    stream = client.conversations.send("conv/1", "hi", stream=True)
    assert stream.reply is None
    assert list(stream) == ["Hello", " there"]
    assert stream.reply.id == "msg-2" and stream.reply.content == "Hello there"
    assert script.bodies()[0]["stream"] is True


class RecordingStream(httpx.SyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.closed = False

    def __iter__(self):
        yield self.body

    def close(self) -> None:
        self.closed = True


def test_a_stream_left_unread_is_closed():
    body = RecordingStream(f"data: {json.dumps(chunk('Hi'))}\n\ndata: [DONE]\n\n".encode())
    script = Script(httpx.Response(200, stream=body, headers={"content-type": "text/event-stream"}))
    with IceGrtClient(BASE_URL, transport=script.transport()).conversations.send("c", "hi", stream=True):
        pass
    assert body.closed


def test_an_error_inside_the_stream_raises():
    error = {"error": {"message": "engine died", "type": "service_unavailable", "param": None, "code": None}}
    script = Script(sse(chunk("Hel"), error, "[DONE]"))
    stream = IceGrtClient(BASE_URL, transport=script.transport()).conversations.send("c", "hi", stream=True)
    assert next(stream) == "Hel"
    with pytest.raises(IceGrtError, match="engine died"):
        next(stream)


def test_feedback_body_is_passed_to_the_server_as_given():
    script = Script(ok({"id": "fb-1", "object": "feedback"}))
    client = IceGrtClient(BASE_URL, transport=script.transport())
    assert client.feedback.submit(conversation_id="c", message_id="m", rating=1, comment="good").id == "fb-1"
    client.feedback.submit(completion_id="chatcmpl-1", ranking=["chatcmpl-1", "chatcmpl-2"])
    assert script.bodies() == [{"conversation_id": "c", "message_id": "m", "rating": 1, "comment": "good"},
                               {"completion_id": "chatcmpl-1", "ranking": ["chatcmpl-1", "chatcmpl-2"]}]


@needs_openai
def test_openai_handle_shares_url_key_timeout_and_transport():
    completion = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"},
                               "finish_reason": "stop"}]}
    script = Script(ok(completion))
    with IceGrtClient(BASE_URL, "secret", timeout=7, max_retries=1, transport=script.transport()) as client:
        oai = client.openai
        assert client.openai is oai
        assert str(oai.base_url) == f"{BASE_URL}/v1/"
        assert (oai.api_key, oai.timeout, oai.max_retries) == ("secret", 7.0, 1)
        reply = oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "Capital of France?"}])
    assert reply.choices[0].message.content == "Paris"
    request = script.requests[0]
    assert request.url.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer secret"
    assert json.loads(request.content)["messages"][0]["content"] == "Capital of France?"


def test_health():
    script = Script(ok({"status": "ok"}))
    assert IceGrtClient(BASE_URL, transport=script.transport()).health() == {"status": "ok"}
    assert script.requests[0].url.path == "/health"


def test_openai_handle_without_the_openai_package_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as in an install without the [openai] extra
    with IceGrtClient(BASE_URL, transport=httpx.MockTransport(lambda r: ok({}))) as client:
        with pytest.raises(ImportError, match=r"pip install 'icegrt-client\[openai\]'"):
            client.openai


@needs_openai
def test_close_also_closes_the_openai_handle():
    client = IceGrtClient(BASE_URL, transport=httpx.MockTransport(lambda r: ok({})))
    oai = client.openai
    client.close()
    assert oai.is_closed()
