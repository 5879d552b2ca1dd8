from __future__ import annotations

import asyncio
import time

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
