"""One pure-ASGI middleware for what every request needs before and after routing.

In order: a request id (taken from ``X-Request-Id`` or made), the body-size limit (413),
API-key auth (401, keys compared in constant time), admission control (429 over a rate limit,
503 over the queue cap: `server.limits`), then the route; afterwards the request
counter, latency histogram and one JSON log line. Pure ASGI rather than
``BaseHTTPMiddleware`` so streaming responses and client disconnects pass through untouched.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import metrics
from server.errors import APIError, error_bytes
from server.limits import Limiter

log = logging.getLogger("icegrt.access")
OPEN_PATHS = frozenset({"/health", "/ready"})


def keys_match(given: str, accepted: Iterable[bytes]) -> bool:
    """Constant-time comparison against every accepted key (no early exit on a match)."""
    candidate = given.encode()
    matched = False
    for key in accepted:
        matched |= hmac.compare_digest(candidate, key)
    return matched


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: list[str],
        max_body_bytes: int,
        metrics_require_auth: bool,
        limiter: Limiter,
    ):
        self.app = app
        self.limiter = limiter
        self.api_keys = [k.encode() for k in api_keys]
        self.max_body_bytes = max_body_bytes
        self.open_paths = OPEN_PATHS if metrics_require_auth else OPEN_PATHS | {"/metrics"}

    def _authorized(self, scope: Scope) -> bool:
        if not self.api_keys or scope["path"] in self.open_paths or scope["method"] == "OPTIONS":
            return True
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        return scheme.lower() == "bearer" and keys_match(token.strip(), self.api_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        route = "unrouted"  # requests rejected here never reach a route; keeps label cardinality bounded
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            await self._reject(send_with_id, 413, f"request body over {self.max_body_bytes} bytes")
        elif not self._authorized(scope):
            await self._reject(send_with_id, 401, "missing or invalid API key: send Authorization: Bearer <key>")
        else:
            try:
                admission = self.limiter.admit(scope)
            except APIError as err:  # over a rate limit or the queue cap: refused before reading the body
                await self._reject(send_with_id, err.status, err.message, err.code, err.retry_after)
            else:
                try:
                    with admission:
                        await self._serve(scope, self._limited(receive), send_with_id)
                finally:  # an unhandled error (already answered 500) is still counted and logged
                    route = _route_template(scope)
                    self._record(scope, request_id, route, status_holder["status"], started)
                return
        self._record(scope, request_id, route, status_holder["status"], started)

    @staticmethod
    def _record(scope: Scope, request_id: str, route: str, status: int, started: float) -> None:
        """The request's metrics and its one structured log line."""
        elapsed = time.perf_counter() - started
        metrics.REQUESTS.labels(route, str(status)).inc()
        metrics.REQUEST_LATENCY.labels(route).observe(elapsed)
        log.info(json.dumps({
            "request_id": request_id, "method": scope["method"], "path": scope["path"], "route": route,
            "status": status, "duration_ms": round(elapsed * 1000, 2),
            "client": (scope.get("client") or ("", 0))[0],
        }))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        with metrics.IN_FLIGHT.track_inprogress():
            await self.app(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """Count streamed body bytes too: Content-Length may be absent (chunked uploads)."""
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise APIError(413, f"request body over {self.max_body_bytes} bytes")
            return message

        return wrapped

    @staticmethod
    async def _reject(
        send: Send, status: int, message: str, code: str | None = None, retry_after: int | None = None
    ) -> None:
        body = error_bytes(status, message, code)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/models/{model_id}``), keeping label cardinality bounded."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
