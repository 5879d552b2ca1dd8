"""The access line and ``icegrt usage``: each request's line carries its key id (never the key) and the
tokens its engine calls reported, every line is one JSON object under `server.logs.JsonLines`, and
``icegrt usage`` adds requests and tokens up per key id and day."""

from __future__ import annotations

import gzip
import io
import json
import logging

import pytest

from cli.main import main
from server.logs import JsonLines, LogFields
from server.tenancy import key_id
from server.usage import summarize
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

CHAT = "/v1/chat/completions"
HI = {"model": "fake-model", "messages": [{"role": "user", "content": "hi there"}], "max_tokens": 8}


@pytest.fixture
def keyed(engine):
    with make_client(engine, api_key=["secret-key-a", "secret-key-b"], served_model_name="fake-model") as client:
        wait_ready(client)
        yield client


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def access_lines(caplog, request_id: str) -> list[dict]:
    """The access records of `request_id`, as the JSON formatter writes them."""
    formatter = JsonLines()
    return [json.loads(formatter.format(r)) for r in caplog.records
            if r.name == "icegrt.access" and r.msg.get("request_id") == request_id]


def call(client, method: str, path: str, request_id: str, key: str | None = "secret-key-a", **kwargs):
    headers = {"X-Request-Id": request_id} | ({"Authorization": f"Bearer {key}"} if key else {})
    return client.request(method, path, headers=headers, **kwargs)


def test_the_access_line_has_the_key_id_and_the_request_tokens(keyed, caplog):
    with caplog.at_level(logging.INFO, logger="icegrt.access"):
        reply = call(keyed, "POST", CHAT, "req-chat", json=HI)
    assert reply.status_code == 200, reply.text
    [line] = access_lines(caplog, "req-chat")
    usage = reply.json()["usage"]
    assert line["key_id"] == key_id("secret-key-a") and line["key_id"].startswith("key_")
    assert (line["prompt_tokens"], line["completion_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert usage["completion_tokens"] > 0
    assert {"time", "level", "logger", "request_id", "method", "path", "route", "status", "duration_ms",
            "client"} <= set(line)
    assert (line["method"], line["route"], line["status"], line["logger"]) == ("POST", CHAT, 200, "icegrt.access")
    assert "secret-key-a" not in json.dumps([json.loads(JsonLines().format(r)) for r in caplog.records])


def test_a_streamed_reply_and_a_conversation_count_their_tokens(keyed, caplog):
    with caplog.at_level(logging.INFO, logger="icegrt.access"):
        streamed = call(keyed, "POST", CHAT, "req-stream", key="secret-key-b",
                        json=HI | {"stream": True, "stream_options": {"include_usage": True}})
        conversation = call(keyed, "POST", "/v1/conversations", "req-conv", json={}).json()["id"]
        message = call(keyed, "POST", f"/v1/conversations/{conversation}/messages", "req-msg",
                       json={"content": "hello", "max_tokens": 5})
    usage = [json.loads(line[6:]) for line in streamed.text.splitlines()
             if line.startswith("data: {")][-1]["usage"]
    [line] = access_lines(caplog, "req-stream")
    assert line["key_id"] == key_id("secret-key-b")
    assert (line["prompt_tokens"], line["completion_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert access_lines(caplog, "req-conv")[0]["completion_tokens"] == 0
    [line] = access_lines(caplog, "req-msg")
    assert message.status_code == 200 and line["completion_tokens"] == message.json()["usage"]["completion_tokens"] > 0


def test_unauthenticated_and_keyless_requests_have_no_key_id(keyed, engine, caplog):
    with caplog.at_level(logging.INFO, logger="icegrt.access"):
        call(keyed, "POST", CHAT, "req-401", key="wrong-key", json=HI)
        call(keyed, "GET", "/health", "req-open", key=None)
    assert [(line["status"], line["key_id"]) for line in access_lines(caplog, "req-401")] == [(401, None)]
    assert access_lines(caplog, "req-open")[0]["key_id"] is None
    with make_client(engine, served_model_name="fake-model") as open_server:  # no keys: one anonymous principal
        wait_ready(open_server)
        with caplog.at_level(logging.INFO, logger="icegrt.access"):
            call(open_server, "POST", CHAT, "req-anon", key=None, json=HI)
    [line] = access_lines(caplog, "req-anon")
    assert line["key_id"] is None and line["completion_tokens"] > 0


def test_keys_of_one_tenant_keep_their_own_key_ids(engine, tmp_path, caplog):
    (tmp_path / "keys").write_text("acme-key-1 acme\nacme-key-2 acme\nops-key ops admin\n")
    with make_client(engine, api_key_file=str(tmp_path / "keys"), served_model_name="fake-model") as client:
        wait_ready(client)
        with caplog.at_level(logging.INFO, logger="icegrt.access"):
            for key in ("acme-key-1", "acme-key-2", "ops-key"):
                assert call(client, "POST", CHAT, f"req-{key}", key=key, json=HI).status_code == 200
    for key in ("acme-key-1", "acme-key-2", "ops-key"):
        assert access_lines(caplog, f"req-{key}")[0]["key_id"] == key_id(key)  # the key's id, not its tenant's


def test_log_fields_read_as_json_under_any_formatter():
    record = logging.LogRecord("icegrt.access", logging.INFO, __file__, 1, LogFields(status=200, key_id=None), None,
                               None)
    assert json.loads(record.getMessage()) == {"status": 200, "key_id": None}
    line = json.loads(JsonLines().format(record))
    assert list(line)[:3] == ["time", "level", "logger"] and "message" not in line and line["status"] == 200


# ---- icegrt usage ---------------------------------------------------------------------------------


def access(time: str, key: str | None, prompt: int, completion: int, status: int = 200) -> str:
    return json.dumps({"time": time, "level": "INFO", "logger": "icegrt.access", "request_id": "r", "method": "POST",
                       "path": CHAT, "route": CHAT, "status": status, "duration_ms": 1.0, "client": "127.0.0.1",
                       "key_id": key, "prompt_tokens": prompt, "completion_tokens": completion})


A, B = sorted([key_id("a"), key_id("b")])  # the report sorts key ids
LOG = "\n".join([
    access("2026-12-05T23:59:59.900000+00:00", A, 10, 5),
    access("2026-12-06T00:00:00.100000+00:00", A, 7, 3),
    access("2026-12-06T01:30:00+02:00", B, 1, 1),  # 2026-12-05 23:30 UTC
    access("2026-12-06T10:00:00+00:00", B, 100, 50, status=429),
    access("2026-12-06T10:00:01+00:00", None, 0, 0, status=401),
    access("2026-12-06T11:00:00+00:00", A, 20, 0),
    '{"time": "2026-12-06T11:00:01+00:00", "level": "INFO", "logger": "uvicorn.error", "message": "Started"}',
    "INFO 12-06 11:00:02 [core.py:1] a line of text",
    "",  # blank lines are not counted
    '{"time": "2026-12-06T11:00:03+00:00", "logger": "icegrt.access", "key_id"',  # torn by a crash
])


def test_usage_sums_requests_and_tokens_per_key_and_day():
    report = summarize(LOG.splitlines())
    assert [(r.day, r.key_id, r.requests, r.prompt_tokens, r.completion_tokens) for r in report.rows] == [
        ("2026-12-05", A, 1, 10, 5),
        ("2026-12-05", B, 1, 1, 1),
        ("2026-12-06", None, 1, 0, 0),
        ("2026-12-06", A, 2, 27, 3),
        ("2026-12-06", B, 1, 100, 50),
    ]
    total = report.total()
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (6, 138, 59)
    assert (report.access_lines, report.skipped_lines) == (6, 3)


def test_icegrt_usage_prints_a_table_and_json_from_files_and_stdin(tmp_path, capsys, monkeypatch):
    plain, rotated = tmp_path / "server.log", tmp_path / "server.log.1.gz"
    lines = LOG.splitlines()
    plain.write_text("\n".join(lines[:3]) + "\n")
    with gzip.open(rotated, "wt") as handle:
        handle.write("\n".join(lines[3:]) + "\n")
    assert main(["usage", "--log", str(plain), "--log", str(rotated), "--since", "2026-12-06", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["day"], r["key_id"], r["requests"]) for r in out["rows"]] == [
        ("2026-12-06", None, 1), ("2026-12-06", A, 2), ("2026-12-06", B, 1)]
    assert out["total"] == {"day": None, "key_id": None, "requests": 4, "prompt_tokens": 127,
                            "completion_tokens": 53}

    monkeypatch.setattr("sys.stdin", io.StringIO(LOG))
    assert main(["usage"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["day", "key_id", "requests", "prompt_tokens", "completion_tokens"]
    assert table[2].split() == ["2026-12-05", A, "1", "10", "5"]
    assert "(no key)" in table[4]
    assert table[-1].split() == ["total", "6", "138", "59"]


def test_icegrt_usage_refuses_a_bad_date_and_a_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["usage", "--since", "yesterday"])
    assert "expected a date YYYY-MM-DD" in capsys.readouterr().err
    assert main(["usage", "--log", str(tmp_path / "none.log")]) == 2
    assert "cannot read" in capsys.readouterr().err
