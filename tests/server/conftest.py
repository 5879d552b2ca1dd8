from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from server.app import build_app
from server.settings import ServerSettings
from tests.server.fake_engine import FakeEngine


def make_client(engine: FakeEngine | None, **settings) -> TestClient:
    """An in-process app around `engine` (None: an engine that never finishes loading)."""

    async def factory(*_):
        if engine is None:
            import asyncio

            await asyncio.Event().wait()
        return engine

    app = build_app(ServerSettings(model="unused", **settings), "/models/fake", engine_factory=factory)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def client(engine):
    with make_client(engine) as c:
        wait_ready(c)
        yield c


def wait_ready(client: TestClient) -> None:
    for _ in range(100):
        if client.get("/ready").status_code == 200:
            return
        time.sleep(0.01)
    raise AssertionError("fake engine never became ready")
