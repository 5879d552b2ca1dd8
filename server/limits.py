"""Admission control: a server-wide cap on queued work (503) and per-client rate limits (429).

`RequestMiddleware` asks `Limiter.admit` before the body is read, so a refusal costs no
parsing, tokenization or engine work. Only the routes that generate are limited: a route
declares it with ``openapi_extra=GENERATES`` (it also shows in the OpenAPI schema), and
`build_app` hands the app's routes to `Limiter.control`, so no path list can miss a new
endpoint (tests/server/test_admission_routes.py fails for a generating POST route left
out). A refusal is counted in ``icegrt_rejected_requests_total{reason}``.

**Queue cap** (``--max-queued-requests``): the most generation requests in flight at once,
running in the engine or waiting for it; the next one gets 503 with ``Retry-After``. This
is our own counter in front of vLLM rather than vLLM's ``max_num_queued_reqs``
(``AsyncLLM.check_admission``), which does not fit here: it counts engine requests, and a
domain request makes several in turn (ad compliance judges, revises, re-checks), so vLLM
would refuse one midway after work was done; it counts a request with ``n`` choices ``n``
times; it raises inside ``generate``, after a streamed reply has already sent its 200; and
called up front it races, since requests still being parsed are not in its count yet.

**Rate limits** (``--rate-limit-rpm``, ``--rate-limit-tpm``): token buckets per client. A
client is its API key when keys are configured, else its IP address (behind a proxy every
client shares the proxy's bucket). Each bucket holds one minute's allowance and refills
continuously, so a burst of a minute's worth is allowed. Every admitted request takes one
from the request bucket. Tokens: a request is admitted while its token bucket is not
empty; each engine call it makes then charges ``prompt tokens + max_tokens x n`` up front
and refunds the unused part of ``max_tokens`` when the call ends (also when the client
leaves), so the bucket can go into debt, which the client's later requests wait out. A
text completion with a list of prompts makes one engine call per prompt, so each prompt is
charged. A request is never refused midway: only admission checks the buckets.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import Scope

from server import metrics
from inference.engine import DelegatingEngine, Engine, GenerationChunk, GenerationParams
from server.errors import RETRY_AFTER_SECONDS, APIError

Clock = Callable[[], float]
REASONS = ("queue_full", "rate_limit_requests", "rate_limit_tokens")
MAX_KEYS = 10_000
"""Buckets kept; the least recently used are forgotten (an idle bucket has refilled anyway)."""

GENERATES_KEY = "x-icegrt-generates"
GENERATES = {GENERATES_KEY: True}
"""``openapi_extra`` of a route that runs the model: admission control applies to it (and only to such routes)."""
_REQUEST_TOKENS: contextvars.ContextVar[TokenBucket | None] = contextvars.ContextVar("request_tokens", default=None)
"""The token bucket the current request's generations are charged to (set while it is served)."""

for _reason in REASONS:
    metrics.REJECTED.labels(_reason)  # export zeros from the start


def declares_generation(route: BaseRoute) -> bool:
    """Whether `route` declared that it runs the model (``openapi_extra=GENERATES``)."""
    return bool((getattr(route, "openapi_extra", None) or {}).get(GENERATES_KEY))


class GeneratingRoutes:
    """Which requests run the model: those that match a route that declared it (method and path)."""

    def __init__(self, routes: Iterable[BaseRoute] = ()):
        self.routes = [route for route in routes if declares_generation(route)]
        self._patterns = [(frozenset(route.methods or ()), route.path_regex) for route in self.routes]

    def __call__(self, method: str, path: str) -> bool:
        return any(method in methods and pattern.match(path) for methods, pattern in self._patterns)


class TokenBucket:
    """`capacity` units refilled at `per_second`; the level may go below zero (debt)."""

    def __init__(self, capacity: float, per_second: float, clock: Clock = time.monotonic):
        assert capacity >= 1 and per_second > 0, (capacity, per_second)
        self.capacity = capacity
        self.per_second = per_second
        self._clock = clock
        self._level = float(capacity)
        self._updated = clock()

    @property
    def level(self) -> float:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.per_second)
        self._updated = now
        return self._level

    def wait(self, amount: float = 1.0) -> float:
        """Seconds until the bucket holds `amount` (0 when it does now)."""
        assert amount <= self.capacity, (amount, self.capacity)
        return max(0.0, (amount - self.level) / self.per_second)

    def take(self, amount: float) -> None:
        """Remove `amount`, into debt if need be; a negative amount gives back (up to capacity)."""
        self._level = min(self.capacity, self.level - amount)


class KeyedBuckets:
    """One `TokenBucket` of `per_minute` per client key, at most `max_keys` of them."""

    def __init__(self, per_minute: int, clock: Clock, max_keys: int = MAX_KEYS):
        self.per_minute = per_minute
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __getitem__(self, key: str) -> TokenBucket:
        bucket = self._buckets.pop(key, None) or TokenBucket(self.per_minute, self.per_minute / 60, self._clock)
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return bucket


def _refuse(status: int, reason: str, message: str, retry_after_s: float) -> APIError:
    metrics.REJECTED.labels(reason).inc()
    retry_after = max(1, math.ceil(retry_after_s))
    code = "server_overloaded" if status == 503 else "rate_limit_exceeded"
    return APIError(status, f"{message}; retry after {retry_after} s", code=code, retry_after=retry_after)


class Limiter:
    def __init__(
        self,
        *,
        max_in_flight: int | None = None,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        key_by_api_key: bool = False,
        clock: Clock = time.monotonic,
        routes: Iterable[BaseRoute] = (),
    ):
        self.max_in_flight = max_in_flight
        self.generates = GeneratingRoutes(routes)
        self.in_flight = 0
        self.key_by_api_key = key_by_api_key
        self._requests = KeyedBuckets(requests_per_minute, clock) if requests_per_minute else None
        self._tokens = KeyedBuckets(tokens_per_minute, clock) if tokens_per_minute else None

    @classmethod
    def from_settings(cls, settings: Any) -> "Limiter":
        return cls(max_in_flight=settings.max_queued_requests, requests_per_minute=settings.rate_limit_rpm,
                   tokens_per_minute=settings.rate_limit_tpm, key_by_api_key=bool(settings.api_key or settings.api_key_file))

    def control(self, routes: Iterable[BaseRoute]) -> None:
        """Apply the limits to every one of `routes` that declared it generates (the app's, at startup)."""
        self.generates = GeneratingRoutes(routes)

    def client_key(self, scope: Scope) -> str:
        if self.key_by_api_key:  # the middleware has already checked the key
            auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            return "key:" + auth.partition(" ")[2].strip()
        return "ip:" + (scope.get("client") or ("unknown", 0))[0]

    def admit(self, scope: Scope) -> contextlib.AbstractContextManager:
        """A context to serve the request in; raises APIError (429 or 503) to refuse it."""
        if not self.generates(scope["method"], scope["path"]):
            return contextlib.nullcontext()
        key = self.client_key(scope) if self._requests or self._tokens else ""
        requests = self._requests[key] if self._requests else None
        tokens = self._tokens[key] if self._tokens else None
        if requests is not None and (wait := requests.wait()) > 0:
            raise _refuse(429, "rate_limit_requests",
                          f"rate limit of {self._requests.per_minute} requests per minute reached", wait)
        if tokens is not None and (wait := tokens.wait()) > 0:
            raise _refuse(429, "rate_limit_tokens",
                          f"rate limit of {self._tokens.per_minute} tokens per minute reached", wait)
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            raise _refuse(503, "queue_full", f"the server is at its limit of {self.max_in_flight} requests "
                          "in flight", RETRY_AFTER_SECONDS)
        if requests is not None:
            requests.take(1)
        return self._admitted(tokens)

    @contextlib.contextmanager
    def _admitted(self, tokens: TokenBucket | None) -> Iterator[None]:
        self.in_flight += 1
        reset = _REQUEST_TOKENS.set(tokens)
        try:
            yield
        finally:
            self.in_flight -= 1
            _REQUEST_TOKENS.reset(reset)

    def metered(self, factory: Callable[..., Awaitable[Engine]]) -> Callable[..., Awaitable[Engine]]:
        """`factory` whose engine charges token buckets, when a token rate limit is set."""
        if self._tokens is None:
            return factory

        async def build(*args: Any) -> Engine:
            return MeteredEngine(await factory(*args))

        return build


class MeteredEngine(DelegatingEngine):
    """Charges each generation to the token bucket of the request it serves (see the module doc)."""

    async def generate(
        self, prompt_token_ids: list[int], params: GenerationParams, request_id: str
    ) -> AsyncIterator[GenerationChunk]:
        bucket = _REQUEST_TOKENS.get()
        reserved = len(prompt_token_ids) + params.max_tokens * params.n
        used = len(prompt_token_ids)
        if bucket is not None:
            bucket.take(reserved)
        try:
            async with contextlib.aclosing(self.inner.generate(prompt_token_ids, params, request_id)) as stream:
                async for chunk in stream:
                    used += sum(choice.num_tokens for choice in chunk.choices)
                    yield chunk
        finally:
            if bucket is not None:
                bucket.take(used - reserved)
