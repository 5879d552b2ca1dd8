"""``icegrt ads check`` on a mock server: input order, per-line errors, bounded concurrency, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest

from icegrt_client.commands import _Count, _progress_bar, add_ads_parser, run_check
from tests.clients.helpers import POLICIES, compliance, envelope, needs_the_project, ok


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="icegrt")
    add_ads_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["ads", "check", *argv])


class AdServer:
    """Answers the catalogue and checks ads; an ad's ``delay`` (seconds) is how long its check
    takes, so later lines can finish first. A blank body gets the server's 400."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list[dict] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/ads/policies":
            return ok(POLICIES)
        body = json.loads(request.content)
        self.bodies.append(body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(body["ad"].pop("delay", 0))
        finally:
            self.in_flight -= 1
        if not body["ad"].get("body", "").strip():
            return envelope(400, "ad.body: body must contain text", param="ad.body", code="invalid_value")
        return ok(compliance(id=f"adchk-{body['ad']['body']}"))


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_results_follow_input_order_and_bad_lines_do_not_stop_the_run(tmp_path):
    ads = [json.dumps({"body": f"ad {i}", "delay": (12 - i) * 0.01}) for i in range(12)]  # later ads finish first
    lines = [ads[0], "", "{not json", json.dumps({"id": "x", "ad": {"body": "wrapped"}}),
             json.dumps({"id": "y", "ad": {"body": " "}}), "[1, 2]", *ads[1:]]
    server = AdServer()
    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", lines)), "--output", str(out), "--concurrency", "3",
                 "--no-suggest", "--policies", "health_claims", "--market", "US")
    assert run_check(args, transport=httpx.MockTransport(server)) == 0

    records = read_jsonl(out)
    assert [r["id"] for r in records] == [1, 3, "x", "y", 6, *range(7, 18)]  # ids default to line numbers
    assert records[0]["result"]["id"] == "adchk-ad 0"
    assert records[1]["error"]["type"] == "invalid_input" and "line 3" in records[1]["error"]["message"]
    assert records[2]["result"]["id"] == "adchk-wrapped"
    assert records[3]["error"] == {"message": "ad.body: body must contain text", "type": "invalid_request_error",
                                   "param": "ad.body", "code": "invalid_value", "status": 400}
    assert records[4]["error"]["type"] == "invalid_input"
    assert [r["result"]["id"] for r in records[5:]] == [f"adchk-ad {i}" for i in range(1, 12)]
    assert records[0]["result"] == compliance(id="adchk-ad 0")  # the server's answer, unchanged
    assert server.max_in_flight == 3
    assert all(b["suggest"] is False and b["policies"] == ["health_claims"] and b["market"] == "US"
               for b in server.bodies)


def test_unreachable_server_exits_1_before_writing(tmp_path, sleeps, capsys):
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", ['{"body": "a"}'])), "-o", str(out))
    assert run_check(args, transport=httpx.MockTransport(refuse)) == 1
    assert not out.exists()
    assert "cannot reach" in capsys.readouterr().err


def test_server_lost_mid_run_exits_1_with_every_line_written(tmp_path):
    answered = []

    def flaky(request):
        if request.url.path == "/v1/ads/policies":
            return ok(POLICIES)
        if answered:
            raise httpx.ConnectError("connection refused")
        answered.append(request)
        return ok(compliance())

    out = tmp_path / "out.jsonl"
    lines = [json.dumps({"body": f"ad {i}"}) for i in range(3)]
    args = parse(str(write_lines(tmp_path / "in.jsonl", lines)), "-o", str(out), "--concurrency", "1")
    assert run_check(args, transport=httpx.MockTransport(flaky)) == 1
    records = read_jsonl(out)
    assert "result" in records[0]
    assert [r["error"]["type"] for r in records[1:]] == ["connection_error", "connection_error"]


def test_timeouts_are_per_ad_errors_not_an_unreachable_server(tmp_path):
    def slow(request):
        if request.url.path == "/v1/ads/policies":
            return ok(POLICIES)
        raise httpx.ReadTimeout("timed out")

    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", ['{"body": "a"}'])), "-o", str(out))
    assert run_check(args, transport=httpx.MockTransport(slow)) == 0
    assert read_jsonl(out)[0]["error"]["type"] == "timeout"


@pytest.mark.parametrize(("answer", "extra", "needle"), [
    (envelope(401, "missing or invalid API key", type="authentication_error"), [], "API key"),
    (ok(POLICIES), ["--policies", "health_claims", "no_such_policy"], "unknown policy ids no_such_policy"),
])
def test_usage_errors_found_before_any_ad_exit_2(tmp_path, capsys, answer, extra, needle):
    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", ['{"body": "a"}'])), "-o", str(out), *extra)
    assert run_check(args, transport=httpx.MockTransport(lambda request: answer)) == 2
    assert needle in capsys.readouterr().err and not out.exists()


def test_missing_input_and_bad_flags_are_usage_errors(tmp_path, capsys):
    assert run_check(parse(str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o"))) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        parse("in.jsonl", "-o", "out.jsonl", "--concurrency", "0")
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        parse("in.jsonl")  # --output is required
    assert run_check(parse(str(write_lines(tmp_path / "in.jsonl", ["{}"])), "-o", "o", "--max-retries", "-1")) == 2


def test_empty_input_writes_an_empty_output(tmp_path):
    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", ["", "  "])), "-o", str(out))
    assert run_check(args, transport=httpx.MockTransport(AdServer())) == 0
    assert out.read_text() == ""


@needs_the_project
def test_registered_in_the_icegrt_command():
    from cli.main import build_parser

    args = build_parser().parse_args(["ads", "check", "in.jsonl", "-o", "out.jsonl"])
    assert args.handler is run_check and args.concurrency == 4 and args.suggest is True


def test_without_tqdm_the_run_counts_ads_itself(tmp_path, monkeypatch, capsys):
    """The SDK depends on httpx and pydantic only; tqdm's bar is used where it is installed."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert isinstance(_progress_bar(2), _Count)
    out = tmp_path / "out.jsonl"
    args = parse(str(write_lines(tmp_path / "in.jsonl", ['{"body": "a"}', '{"body": "b"}'])), "-o", str(out))
    assert run_check(args, transport=httpx.MockTransport(AdServer())) == 0
    assert [r["id"] for r in read_jsonl(out)] == [1, 2]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with _Count(2) as count:
        count.update()
        count.update()
    assert capsys.readouterr().err.endswith("\rads check: 2/2 ads\n")
