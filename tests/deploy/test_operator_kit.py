"""The compose file, Grafana provisioning and dashboard hang together, and name only real metrics.

The drift check reads the names the dashboard and the alert rules use and looks each one up in
the live server's own /metrics output, so renaming a metric without updating the kit fails here.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
import yaml

from server.settings import ServerSettings
from tests.deploy.conftest import DASHBOARD, DEPLOY, DOCKERFILES, PROMETHEUS_DIR
from tests.deploy.test_images import env_of

SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
FROM_PROMETHEUS = {"up"}  # written by Prometheus itself for each target


def compose(name: str = "compose.yaml") -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    exprs += [var["query"]["query"] for var in board["templating"]["list"] if var["type"] == "query"]
    return exprs


def alert_exprs() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def metric_names(exprs: list[str]) -> set[str]:
    names = set()
    for expr in exprs:
        found = set(SELECTOR.findall(expr))
        assert found, f"no metric selector in {expr!r}"
        names |= found
    return names


def exposed_names(exposition: str) -> set[str]:
    """Every sample name /metrics can show, including labelled metrics not observed yet."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def bind_mounts(service: dict) -> dict[str, str]:
    """target -> source of the service's ./relative bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = source
    return mounts


def test_compose_builds_the_images_and_mounts_files_that_exist():
    services = compose()["services"]
    assert set(services) == {"icegrt", "prometheus", "grafana"}
    for name, extra in (("compose.yaml", "cpu"), ("compose.gpu.yaml", "gpu")):
        build = compose(name)["services"]["icegrt"]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILES[extra]
    for service in services.values():
        for source in bind_mounts(service).values():
            assert (DEPLOY / source).exists(), source
    assert {"/models", "/data"} == {v.split(":")[1] for v in services["icegrt"]["volumes"]}


def test_compose_wires_server_prometheus_and_grafana_together():
    services = compose()["services"]
    settings = {f"ICEGRT_{name.upper()}" for name in ServerSettings.model_fields}
    assert set(services["icegrt"]["environment"]) <= settings
    server_port = env_of(DOCKERFILES["cpu"])["ICEGRT_PORT"]
    assert f"{server_port}:{server_port}" in services["icegrt"]["ports"]

    prometheus_mounts = bind_mounts(services["prometheus"])
    assert prometheus_mounts["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"
    assert prometheus_mounts["/etc/prometheus/alerts.yml"] == "./prometheus/alerts.yml"
    scrape = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["scrape_configs"]
    assert [job["static_configs"][0]["targets"] for job in scrape if job["job_name"] == "icegrt"] == \
        [[f"icegrt:{server_port}"]]

    grafana_mounts = bind_mounts(services["grafana"])
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/icegrt.yml").read_text())
    assert grafana_mounts[provider["providers"][0]["options"]["path"]] == "./grafana/dashboards"
    uid = datasource["datasources"][0]["uid"]
    board = json.loads(DASHBOARD.read_text())
    assert {panel["datasource"]["uid"] for panel in board["panels"]} == {uid}


def test_dashboard_covers_what_operators_watch():
    exprs = "\n".join(dashboard_exprs())
    for metric in ("icegrt_requests_total", "icegrt_request_duration_seconds_bucket",
                   "icegrt_time_to_first_token_seconds_bucket", "icegrt_generation_tokens_total",
                   "vllm:num_requests_waiting", "icegrt_engine_ready", "vllm:kv_cache_usage_perc"):
        assert metric + "{" in exprs, metric
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)


@pytest.mark.e2e
def test_dashboard_and_rules_name_only_metrics_the_server_exposes(live_server):
    reply = httpx.post(f"{live_server.base_url}/v1/chat/completions", headers=live_server.headers, timeout=120,
                       json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
    assert reply.status_code == 200, reply.text
    exposed = exposed_names(live_server.metrics())
    missing = metric_names(dashboard_exprs() + alert_exprs()) - exposed - FROM_PROMETHEUS
    assert not missing, f"the operator's kit names metrics /metrics does not have: {sorted(missing)}"
