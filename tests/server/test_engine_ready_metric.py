"""icegrt_engine_ready: the gauge the "engine not ready" alert reads, checked at each scrape (fake engine)."""

from __future__ import annotations

from tests.server.conftest import make_client
from tests.server.test_e2e_openai import metric


def engine_ready(client) -> float:
    return metric(client.get("/metrics").text, "icegrt_engine_ready")


def test_ready_while_the_engine_serves_and_not_once_it_dies(client, engine):
    assert engine_ready(client) == 1
    engine.healthy = False
    assert engine_ready(client) == 0
    engine.healthy = True
    assert engine_ready(client) == 1


def test_not_ready_while_the_engine_is_loading():
    with make_client(None) as client:
        assert client.get("/ready").status_code == 503
        assert engine_ready(client) == 0
