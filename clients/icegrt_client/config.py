"""Client configuration and the retry policy (standard library only, so the CLI parser stays light)."""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 120.0
"""Seconds per request. An ad check with a suggested revision runs up to four generations, which on
a CPU server with a 135M model takes tens of seconds."""
DEFAULT_MAX_RETRIES = 2

RETRY_STATUSES = frozenset({429, 503})
"""The server refused these before doing any work (rate limit, overload, engine not ready), so any
method, POST included, is safe to resend."""
RETRY_TRANSPORT_METHODS = frozenset({"GET", "HEAD"})
"""A transport error can strike after the server acted; only requests without side effects are resent."""


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int

    @classmethod
    def resolve(cls, base_url: str | None, api_key: str | None, timeout: float, max_retries: int) -> ClientConfig:
        """Arguments win over ``ICEGRT_BASE_URL`` / ``ICEGRT_API_KEY``, which win over the defaults.

        A base URL ending in ``/v1`` (as the ``openai`` SDK wants it) is accepted and trimmed, since
        the domain paths carry their own ``/v1``.
        """
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries!r}")
        url = (base_url or os.environ.get("ICEGRT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        url = url.removesuffix("/v1")
        key = api_key if api_key is not None else os.environ.get("ICEGRT_API_KEY")
        return cls(base_url=url, api_key=key or None, timeout=float(timeout), max_retries=max_retries)

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": "icegrt-python"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, or None when absent or not a number (HTTP dates are not used here)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, or the server's ``Retry-After`` when it sends one."""

    max_retries: int
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # a larger Retry-After is treated as this, not waited out

    def next_delay(self, attempt: int, method: str, status: int | None, retry_after: str | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up.

        ``status`` is None for a transport error (connection refused, timeout, reset).
        """
        if attempt >= self.max_retries:
            return None
        if status is None and method not in RETRY_TRANSPORT_METHODS:
            return None
        if status is not None and status not in RETRY_STATUSES:
            return None
        seconds = parse_retry_after(retry_after)
        if seconds is not None:
            return min(seconds, self.max_retry_after)
        # "Equal jitter": at least half the exponential step, so retries never bunch up near zero.
        step = min(self.max_backoff, self.initial_backoff * 2**attempt)
        return step / 2 + random.uniform(0, step / 2)
