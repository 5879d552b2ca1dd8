"""The soak script, for a minute, against a real server (vLLM on the tiny model) with short client
deadlines: every kind of client runs, the report has its windows and a passing verdict."""

from __future__ import annotations

import json

import pytest

from loadtests.soak import verdict
from tests.conftest import start_server, stop_server

KEY = "soak-key"


def test_verdict_flags_server_errors_growth_and_non_4xx_refusals():
    def window(rss, fds, p99, malformed="400", normal="200"):
        return {"statuses": {"normal": {normal: 3}, "malformed": {malformed: 2}, "slow": {}, "disconnect": {}},
                "rss_mb": rss, "fds": fds, "p99_e2e_ms": p99}

    flat = [window(1000, 50, 100)] * 8
    assert verdict(flat)["passed"]
    assert not verdict(flat[:-1] + [window(1000, 50, 100, normal="500")])["checks"]["no_server_errors"]
    assert verdict(flat[:-1] + [window(1000, 50, 100, normal="503")])["passed"]  # documented overload
    assert not verdict(flat[:-1] + [window(1000, 50, 100, malformed="200")])["checks"]["malformed_all_4xx"]
    assert not verdict(flat[:6] + [window(1500, 50, 100)] * 2)["checks"]["rss_mb_flat"]
    assert not verdict(flat[:6] + [window(1000, 200, 100)] * 2)["checks"]["fds_flat"]
    assert not verdict(flat[:6] + [window(1000, 50, 400)] * 2)["checks"]["p99_e2e_ms_flat"]


def test_soak_plot_series_per_window(tmp_path):
    from loadtests.soak_plot import plot, series

    def window(end_s, statuses):
        return {"end_s": end_s, "normal_completed": 30, "p99_e2e_ms": 1500.0, "p99_ttft_ms": None,
                "statuses": statuses, "rss_mb": 900.0, "fds": 40}

    report = {"rate_rps": 1.5, "verdict": verdict([]) | {"passed": False, "checks": {"fds_flat": False}},
              "windows": [window(30, {"normal": {"200": 30}, "malformed": {"400": 2}}),
                          window(60, {"normal": {"200": 29, "500": 1}, "slow": {"408": 3, "closed": 1}})]}
    s = series(report)
    assert s["minutes"] == [0.5, 1.0] and s["p99_e2e_s"] == [1.5, 1.5] and s["p99_ttft_s"] == [None, None]
    assert s["normal_per_s"] == [1.0, 1.0] and s["4xx"] == [2, 3] and s["5xx"] == [0, 1]
    plot(report, tmp_path / "soak.png")
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
@pytest.mark.slow
def test_a_one_minute_soak_of_every_client_kind(tiny_model_path, tmp_path):
    server = start_server(tmp_path / "server.log", "--client-header-timeout", "3", "--client-body-timeout", "3",
                          api_key=KEY)
    try:
        from loadtests.soak import main

        out = tmp_path / "soak.json"
        code = main(["--base-url", server.base_url, "--api-key", KEY, "--server-pid", str(server.process.pid),
                     "--duration", "45", "--window-s", "5", "--calibrate-s", "8", "--calibrate-concurrency", "2",
                     "--max-tokens", "16", "--slow-clients", "6", "--malformed-rate", "2", "--disconnect-rate", "1",
                     "--out", str(out)])
    finally:
        stop_server(server)
    report = json.loads(out.read_text())
    verdict = report["verdict"]
    # Correctness is asserted here; whether p99, memory and fds stay flat is what the 30-minute
    # soak measures (a timing figure, not a test: on a shared machine 45 s of p99 is noise).
    assert verdict["checks"]["no_server_errors"] and verdict["checks"]["malformed_all_4xx"], verdict
    assert {"rss_mb_flat", "fds_flat", "p99_e2e_ms_flat"} <= set(verdict["checks"])
    assert code == (0 if verdict["passed"] else 1)
    windows = report["windows"]
    assert len(windows) >= 8 and report["capacity_rps"] > 0
    totals = {kind: {} for kind in ("normal", "malformed", "slow", "disconnect")}
    for w in windows:
        assert w["rss_mb"] > 0 and w["fds"] > 0
        for kind, statuses in w["statuses"].items():
            for status, n in statuses.items():
                totals[kind][status] = totals[kind].get(status, 0) + n
    assert totals["normal"].get("200", 0) > 5
    assert set(totals["malformed"]) <= {"400", "404", "413"} and sum(totals["malformed"].values()) > 30
    assert totals["slow"].get("closed", 0) + totals["slow"].get("408", 0) >= 6  # the deadlines closed them
    assert totals["disconnect"].get("200", 0) > 5
    assert "Traceback" not in server.log_path.read_text()
