from __future__ import annotations

import tempfile
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

    data_dir = None
    if "data_dir" not in settings and "database_url" not in settings:
        data_dir = tempfile.TemporaryDirectory(prefix="icegrt-test-")  # the store's SQLite file, not in $HOME
        settings["data_dir"] = data_dir.name
    app = build_app(ServerSettings(model="unused", **settings), "/models/fake", engine_factory=factory)
    client = TestClient(app, raise_server_exceptions=False)
    client.data_dir = data_dir  # removed with the client
    return client


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
