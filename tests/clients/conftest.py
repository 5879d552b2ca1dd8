from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import pytest


@pytest.fixture(autouse=True)
def _no_client_env(monkeypatch):
    """The SDK reads ICEGRT_BASE_URL / ICEGRT_API_KEY; tests must not depend on the caller's shell."""
    monkeypatch.delenv("ICEGRT_BASE_URL", raising=False)
    monkeypatch.delenv("ICEGRT_API_KEY", raising=False)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Record backoff waits (sync and async) instead of sleeping, so retry tests are instant."""
    recorded: list[float] = []

    async def fake_async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(time, "sleep", recorded.append)
    monkeypatch.setattr(asyncio, "sleep", fake_async_sleep)
    return recorded


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    api_key: str


@pytest.fixture(scope="session")
def sdk_server(request):
    """The server the SDK's end-to-end tests call: the session's live server, or the one that
    $ICEGRT_TEST_SERVER_URL (and $ICEGRT_TEST_SERVER_KEY) name. test_sdk_alone.py runs these tests
    from a clean venv that holds the SDK only, against its own session's live server."""
    url = os.environ.get("ICEGRT_TEST_SERVER_URL")
    if url:
        return RunningServer(url, os.environ.get("ICEGRT_TEST_SERVER_KEY", ""))
    return request.getfixturevalue("live_server")
