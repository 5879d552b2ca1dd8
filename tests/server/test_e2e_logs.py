"""The live server's log (tests/conftest.py's shared server writes it to a file): after requests of
every kind, each access line is one JSON object with the request's key id and tokens, the log lines
of icegrt, uvicorn and vLLM are JSON too, and ``icegrt usage`` reads the file."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from cli.main import main
from server.tenancy import key_id

pytestmark = pytest.mark.e2e
LEVEL = r"(DEBUG|INFO|WARNING|ERROR|CRITICAL)"
TEXT_LOG_LINE = re.compile(rf"^(\(\S+ pid=\d+\) )?{LEVEL}[ :]|^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ {LEVEL} ")
"""vLLM's text format (``(EngineCore pid=1) INFO 12-06 19:36:56 [core.py:93] ...``), uvicorn's
(``INFO:     Started server process``) and the one icegrt used (``2026-12-06 19:36:10,529 INFO name: ...``)."""


def parsed(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def access_lines(log_text: str) -> dict[str, dict]:
    """request id -> its access line, for every line the access logger wrote (each must parse)."""
    found = {}
    for line in log_text.splitlines():
        if "icegrt.access" in line:
            record = parsed(line)
            assert record is not None, f"an access line that is not one JSON object: {line!r}"
            found[record["request_id"]] = record
    return found


def test_every_access_line_of_a_live_server_is_json(live_server, openai_client, capsys):
    http = httpx.Client(base_url=live_server.base_url, headers=live_server.headers, timeout=120)
    chat = http.post("/v1/chat/completions", headers={"X-Request-Id": "log-chat"},
                     json={"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
    stream = http.post("/v1/chat/completions", headers={"X-Request-Id": "log-stream"},
                       json={"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
                             "stream": True, "stream_options": {"include_usage": True}})
    completion = http.post("/v1/completions", headers={"X-Request-Id": "log-completion"},
                           json={"model": "tiny", "prompt": "Once upon", "max_tokens": 2})
    assert (chat.status_code, stream.status_code, completion.status_code) == (200, 200, 200)
    unauthorized = httpx.post(f"{live_server.base_url}/v1/chat/completions", headers={"X-Request-Id": "log-401"},
                              json={}, timeout=30)
    missing = http.get("/v1/conversations/conv-none", headers={"X-Request-Id": "log-404"})
    assert (unauthorized.status_code, missing.status_code) == (401, 404)
    assert openai_client.models.list().data
    stream_usage = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: {")][-1]["usage"]

    wanted = {"log-chat", "log-stream", "log-completion", "log-401", "log-404"}
    deadline = time.monotonic() + 30
    while not wanted <= set(access_lines(live_server.log_path.read_text())) and time.monotonic() < deadline:
        time.sleep(0.2)  # the line is written after the response's last byte
    text = live_server.log_path.read_text()
    lines = access_lines(text)
    ours = key_id(live_server.api_key)
    for request_id, usage in (("log-chat", chat.json()["usage"]), ("log-stream", stream_usage),
                              ("log-completion", completion.json()["usage"])):
        line = lines[request_id]
        assert (line["status"], line["key_id"]) == (200, ours), line
        assert (line["prompt_tokens"], line["completion_tokens"]) == (usage["prompt_tokens"],
                                                                      usage["completion_tokens"]), line
        assert line["completion_tokens"] > 0 and line["duration_ms"] > 0 and line["time"].startswith("20")
    assert (lines["log-401"]["status"], lines["log-401"]["key_id"], lines["log-401"]["route"]) == (401, None, "unrouted")
    assert (lines["log-404"]["status"], lines["log-404"]["prompt_tokens"]) == (404, 0)
    assert live_server.api_key not in text

    # the log lines of icegrt, uvicorn and vLLM (its engine process included) are JSON; what is not JSON is
    # output that bypasses logging (progress bars, native warnings), never a line in a text log format
    written = [line for line in text.splitlines() if line.strip()]
    records = [parsed(line) for line in written]
    loggers = {r["logger"].split(".")[0] for r in records if r is not None and "logger" in r}
    assert {"icegrt", "server", "uvicorn", "vllm"} <= loggers, loggers
    assert any(r is not None and r.get("logger", "").startswith("vllm.model_executor") for r in records)  # engine process
    text_format = [line for line, r in zip(written, records, strict=True) if r is None and TEXT_LOG_LINE.match(line)]
    assert not text_format, text_format[:20]

    assert main(["usage", "--log", str(live_server.log_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    mine = [row for row in report["rows"] if row["key_id"] == ours]
    assert sum(row["completion_tokens"] for row in mine) >= sum(
        lines[r]["completion_tokens"] for r in ("log-chat", "log-stream", "log-completion"))
    assert report["access_lines"] >= len(wanted)
