"""Error envelope, status mapping, auth, body limit, request ids and metrics (fake engine)."""

from __future__ import annotations

import pytest

from inference.engine import EngineRequestError, EngineUnavailableError
from server.tenancy import ApiKey, Principal, match_key
from tests.server.conftest import make_client, wait_ready

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "hi"}]}


def assert_error(r, status: int, param=None, code=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    assert err["param"] == param
    if code:
        assert err["code"] == code
    return err


def test_bad_json_and_non_object_body(client):
    assert_error(client.post(CHAT, content=b"{bad", headers={"content-type": "application/json"}), 400,
                 code="invalid_json")
    assert_error(client.post(CHAT, json=[1, 2]), 400, code="invalid_json")
    assert_error(client.post(CHAT, content=b"plain text"), 400, code="invalid_json")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"n": 0}, "n"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"logprobs": False, "top_logprobs": 3}, "top_logprobs"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "image", "url": "x"}]}]}, "messages[0].content"),
        ({"stop": ["a"] * 9}, "stop"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
    ],
)
def test_bad_fields_name_their_param(client, engine, body, param):
    assert_error(client.post(CHAT, json={**HI, **body}), 400, param=param, code="invalid_value")
    assert engine.calls == []


def test_prompt_longer_than_context(client, engine):
    long = {"messages": [{"role": "user", "content": "word " * 100}]}
    assert_error(client.post(CHAT, json=long), 400, param="messages", code="context_length_exceeded")
    assert_error(client.post(CHAT, json={**HI, "max_tokens": 1000}), 400, param="max_tokens")
    assert_error(client.post(CHAT, json={**HI, "max_completion_tokens": 1000}), 400, param="max_completion_tokens")
    assert_error(client.post("/v1/completions", json={"prompt": "w " * 100}), 400, param="prompt")
    assert engine.calls == []


def test_unknown_model_and_route(client):
    assert_error(client.post(CHAT, json={**HI, "model": "gpt-4"}), 404, param="model", code="model_not_found")
    assert_error(client.get("/v2/nothing"), 404)
    assert_error(client.get(CHAT), 405)


def test_engine_errors_map_to_statuses(client, engine):
    engine.fail_with = EngineRequestError("bad sampling", "temperature")
    assert_error(client.post(CHAT, json=HI), 400, param="temperature")
    engine.fail_with = EngineUnavailableError("engine died")
    r = client.post(CHAT, json=HI)
    assert_error(r, 503)
    assert r.headers["retry-after"]
    engine.fail_with = RuntimeError("boom")
    err = assert_error(client.post(CHAT, json=HI), 500)
    assert "boom" not in err["message"]  # internals stay in the logs


def test_loading_engine_gives_503_but_health_is_ok():
    with make_client(None) as client:
        assert client.get("/health").json() == {"status": "ok"}
        r = client.get("/ready")
        assert_error(r, 503, code="engine_not_ready")
        assert r.headers["retry-after"]
        assert_error(client.post(CHAT, json=HI), 503)


def test_dead_engine_is_not_ready(client, engine):
    engine.healthy = False
    assert_error(client.get("/ready"), 503)


def test_api_keys():
    with make_client(__import__("tests.server.fake_engine", fromlist=["FakeEngine"]).FakeEngine(),
                     api_key=["k1", "k2"]) as client:
        wait_ready(client)
        assert_error(client.post(CHAT, json=HI), 401)
        assert_error(client.post(CHAT, json=HI, headers={"Authorization": "Bearer nope"}), 401)
        assert_error(client.post(CHAT, json=HI, headers={"Authorization": "Basic k1"}), 401)
        assert client.post(CHAT, json=HI, headers={"Authorization": "Bearer k2"}).status_code == 200
        assert client.get("/health").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert_error(client.get("/v1/models"), 401)
        assert_error(client.get("/no/such/route"), 401)  # no route discovery without a key


def test_metrics_can_require_auth(engine):
    with make_client(engine, api_key=["k"], metrics_require_auth=True) as client:
        assert_error(client.get("/metrics"), 401)
        assert client.get("/metrics", headers={"Authorization": "Bearer k"}).status_code == 200


def test_match_key_checks_every_key_and_names_its_principal():
    keys = [ApiKey(b"a", Principal("ta")), ApiKey(b"b", Principal("tb", admin=True))]
    assert match_key("b", keys) == Principal("tb", admin=True)
    assert match_key("a", keys) == Principal("ta")
    assert match_key("c", keys) is None
    assert match_key("", keys) is None


def test_body_too_large(engine):
    with make_client(engine, max_request_body_bytes=2048) as client:
        wait_ready(client)
        big = {"messages": [{"role": "user", "content": "x" * 5000}]}
        assert_error(client.post(CHAT, json=big), 413)

        def chunks():
            yield b'{"messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}]}'

        r = client.post(CHAT, content=chunks(), headers={"content-type": "application/json"})
        assert_error(r, 413)
        assert engine.calls == []


def test_request_id_is_echoed_or_made(client):
    assert client.get("/health", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 32


def test_metrics_count_requests_and_tokens(client):
    client.post(CHAT, json=HI)
    client.post(CHAT, json={**HI, "temperature": 9})
    text = client.get("/metrics").text
    assert 'icegrt_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert 'icegrt_requests_total{route="/v1/chat/completions",status="400"}' in text
    for name in ("icegrt_request_duration_seconds", "icegrt_time_to_first_token_seconds",
                 "icegrt_inter_token_latency_seconds", "icegrt_prompt_tokens_total",
                 "icegrt_generation_tokens_total", "icegrt_requests_in_flight"):
        assert name in text


def test_version(client):
    body = client.get("/version").json()
    assert body["icegrt"] == "0.1.0"
    assert body["vllm"]
    assert "/models/fake" not in str(body)  # the model's name, never its file path


def test_an_unhandled_error_is_counted_and_logged(client, engine, caplog):
    engine.fail_with = RuntimeError("boom")
    with caplog.at_level("INFO", logger="icegrt.access"):
        r = client.post(CHAT, json=HI, headers={"X-Request-Id": "req-boom"})
    assert r.status_code == 500
    lines = [rec.getMessage() for rec in caplog.records if "req-boom" in rec.getMessage()]
    assert len(lines) == 1 and '"status": 500' in lines[0]
    assert 'icegrt_requests_total{route="/v1/chat/completions",status="500"}' in client.get("/metrics").text


@pytest.mark.parametrize(("error", "status"), [
    (EngineRequestError("token id 999999999 is out of vocabulary", "prompt"), 400),
    (EngineUnavailableError("engine died"), 503),
    (__import__("sqlalchemy").exc.OperationalError("SELECT", {}, Exception("connection refused")), 503),
])
def test_mapped_errors_are_logged_and_counted_as_sent_without_a_traceback(client, engine, caplog, error, status):
    engine.fail_with = error
    with caplog.at_level("INFO"):
        r = client.post(CHAT, json=HI, headers={"X-Request-Id": "req-mapped"})
    assert_error(r, status, param="prompt" if status == 400 else None)
    assert r.headers["x-request-id"] == "req-mapped"
    access = [rec.getMessage() for rec in caplog.records if "req-mapped" in rec.getMessage()]
    assert len(access) == 1 and f'"status": {status}' in access[0]
    assert not [rec for rec in caplog.records if rec.exc_info or rec.levelname == "ERROR"]
    assert f'icegrt_requests_total{{route="/v1/chat/completions",status="{status}"}}' in client.get("/metrics").text


def test_duplicate_authorization_headers_are_refused(engine):
    with make_client(engine, api_key=["k1", "k2"]) as client:
        wait_ready(client)
        headers = [("Authorization", "Bearer k1"), ("Authorization", "Bearer k2")]
        err = assert_error(client.post(CHAT, json=HI, headers=headers), 400)
        assert "one Authorization header" in err["message"]
        assert client.post(CHAT, json=HI, headers=[headers[0]]).status_code == 200
