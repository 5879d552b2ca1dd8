"""A real Prometheus (Debian's package) scrapes the live server with the kit's own config and rules.

The config is deploy/prometheus/prometheus.yml with only the target, the rule file's path and a
1 s interval changed, so what is checked here is what compose runs: the server's metrics read back
through Prometheus's HTTP API, the alert rules evaluated on the real series, the dashboard's queries.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest
import yaml

from tests.conftest import free_port
from tests.deploy.conftest import DASHBOARD, PROMETHEUS_DIR
from tests.deploy.test_operator_kit import dashboard_exprs
from tests.server.test_e2e_openai import metric

pytestmark = pytest.mark.e2e
WAIT_S = 60
NO_SAMPLES_YET = {"Rejected and aborted requests"}  # counters with labels show no series until one happens


def wait_for(check: Callable[[], object], what: str, log=None):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log else ""
    raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}\n{tail}")


def kit_config_for(live_server) -> dict:
    """The kit's config, pointed at the live server, scraping and evaluating every second."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "icegrt"]
    job["static_configs"] = [{"targets": [live_server.base_url.removeprefix("http://")]}]
    return config


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **params) -> dict:
        body = httpx.get(f"{self.url}{path}", params=params, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def prometheus_api(prometheus, live_server, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus")
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(kit_config_for(live_server)))
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [prometheus, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT)
    api = Prometheus(f"http://127.0.0.1:{port}")
    try:
        def target_up():
            assert process.poll() is None, f"prometheus exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            try:  # /-/ready answers 503 until the storage and rules are loaded
                if httpx.get(f"{api.url}/-/ready", timeout=5).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
            targets = api.get("/api/v1/targets")["activeTargets"]
            return [t for t in targets if t["labels"]["job"] == "icegrt" and t["health"] == "up"]

        wait_for(target_up, "the icegrt target to be up", log)
        yield api
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_request_counter_reaches_prometheus(prometheus_api, live_server):
    reply = httpx.post(f"{live_server.base_url}/v1/chat/completions", headers=live_server.headers, timeout=120,
                       json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
    assert reply.status_code == 200, reply.text
    served = metric(live_server.metrics(), "icegrt_requests_total", route="/v1/chat/completions", status="200")
    assert served >= 1
    expr = 'sum(icegrt_requests_total{job="icegrt", route="/v1/chat/completions", status="200"})'
    wait_for(lambda: (prometheus_api.value(expr) or 0) >= served, f"{expr} >= {served}")
    assert prometheus_api.value('icegrt_engine_ready{job="icegrt"}') == 1
    assert prometheus_api.value('sum(icegrt_generation_tokens_total{job="icegrt"})') > 0
    assert prometheus_api.value('sum(vllm:num_requests_running{job="icegrt"})') is not None


def test_alert_rules_evaluate_on_the_real_series(prometheus_api):
    def evaluated_rules():
        rules = [rule for group in prometheus_api.get("/api/v1/rules")["groups"] for rule in group["rules"]]
        done = len(rules) == 6 and all(not rule["lastEvaluation"].startswith("0001") for rule in rules)
        return rules if done else None

    rules = wait_for(evaluated_rules, "every alert rule to be evaluated")
    assert {rule["name"]: rule["health"] for rule in rules} == {rule["name"]: "ok" for rule in rules}, \
        [rule.get("lastError") for rule in rules]
    states = {rule["name"]: rule["state"] for rule in rules}
    assert states["IcegrtDown"] == states["IcegrtEngineNotReady"] == "inactive"


@pytest.fixture(scope="module")
def varied_traffic(live_server):
    """A streamed reply (time to first token, inter-token latency) and a 400, whatever ran before."""
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    url = f"{live_server.base_url}/v1/chat/completions"
    with httpx.stream("POST", url, headers=live_server.headers, json=body | {"stream": True}, timeout=120) as reply:
        assert reply.status_code == 200
        assert "data: [DONE]" in reply.read().decode()
    assert httpx.post(url, headers=live_server.headers, json=body | {"temperature": 5}, timeout=30).status_code == 400


def test_dashboard_queries_run_and_find_series(prometheus_api, varied_traffic):
    board = json.loads(DASHBOARD.read_text())
    expected = [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]]
    assert len(expected) == len([e for e in dashboard_exprs() if "label_values" not in e])

    def concrete(expr: str) -> str:
        return expr.replace("$instance", ".*").replace("$__rate_interval", "1m")

    empty: list[str] = []

    def all_found():
        empty[:] = [title for title, expr in expected
                    if title not in NO_SAMPLES_YET and not prometheus_api.query(concrete(expr))]
        return not empty

    try:
        wait_for(all_found, "every dashboard query to return series")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: still empty: {empty}") from None
    for title, expr in expected:  # the ones allowed to be empty still must be valid PromQL
        prometheus_api.query(concrete(expr))
