"""One pure-ASGI middleware for what every request needs before and after routing.

In order: a request id (taken from ``X-Request-Id`` or made), the body-size limit (413),
API-key auth (401, keys compared in constant time), admission control (429 over a rate limit,
503 over the queue cap: `server.limits`), then the route; afterwards the request
counter, latency histogram and one access log line (`server.logs`: its fields, with the API key's
`key_id` and the tokens the request's engine calls reported through `server.usage`). Pure ASGI rather than
``BaseHTTPMiddleware`` so streaming responses and client disconnects pass through untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import metrics
from server.errors import CLIENT_CLOSED_REQUEST, APIError, error_bytes, to_api_error
from server.limits import Limiter
from server.logs import LogFields
from server.tenancy import ANONYMOUS, ApiKey, Principal, match_key
from server.usage import RequestUsage, begin_request, end_request

log = logging.getLogger("icegrt.access")
OPEN_PATHS = frozenset({"/health", "/ready"})


class _Unauthorized(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_keys: Sequence[ApiKey],
        max_body_bytes: int,
        metrics_require_auth: bool,
        limiter: Limiter,
        body_timeout_s: float = 30.0,
    ):
        self.app = app
        self.limiter = limiter
        self.api_keys = list(api_keys)
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.open_paths = OPEN_PATHS if metrics_require_auth else OPEN_PATHS | {"/metrics"}

    def _principal(self, scope: Scope) -> Principal | None:
        """Who the request is served as; None on an open route without a key.

        Raises:
            _Unauthorized: a missing or wrong key where one is needed (401), or two
                Authorization headers (400: which one a proxy checked is unknowable).
        """
        if not self.api_keys:
            return ANONYMOUS
        given = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(given) > 1:
            raise _Unauthorized(400, "send one Authorization header, not several")
        scheme, _, token = (given[0] if given else b"").decode("latin-1").partition(" ")
        principal = match_key(token.strip(), self.api_keys) if scheme.lower() == "bearer" else None
        if principal is None and scope["path"] not in self.open_paths and scope["method"] != "OPTIONS":
            raise _Unauthorized(401, "missing or invalid API key: send Authorization: Bearer <key>")
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        sent = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent.update(status=message["status"], started=True)
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        route = "unrouted"  # requests rejected here never reach a route; keeps label cardinality bounded
        usage, usage_token = begin_request()
        try:
            self._check_length(headers)
            scope["state"]["principal"] = self._principal(scope)
            body = await self._read_body(receive)
            if body is None:  # the client left while sending it
                sent["status"] = CLIENT_CLOSED_REQUEST
                return
            with self.limiter.admit(scope):  # after the body: a slow upload holds no admission slot
                route = "unmatched"
                await self._serve(scope, _replay(body, receive), send_with_id)
        except (APIError, _Unauthorized) as err:
            if sent["started"]:
                raise
            await self._reject(send_with_id, err.status, err.message, getattr(err, "code", None),
                               getattr(err, "retry_after", None))
        except Exception as exc:  # noqa: BLE001 - escaped every handler: answer 500 here, with the request id
            if sent["started"]:
                raise
            err = to_api_error(exc)
            await self._reject(send_with_id, err.status, err.message, err.code, err.retry_after)
        finally:
            end_request(usage_token)
            if route != "unrouted":
                route = _route_template(scope)
            self._record(scope, request_id, route, sent["status"], started, usage)

    def _check_length(self, headers: dict[bytes, bytes]) -> None:
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            raise APIError(400, "Content-Length is not a number") from None
        if length > self.max_body_bytes:
            raise APIError(413, f"request body over {self.max_body_bytes} bytes")

    @staticmethod
    def _record(scope: Scope, request_id: str, route: str, status: int, started: float, usage: RequestUsage) -> None:
        """The request's metrics and its one access log line."""
        elapsed = time.perf_counter() - started
        metrics.REQUESTS.labels(route, str(status)).inc()
        metrics.REQUEST_LATENCY.labels(route).observe(elapsed)
        principal = scope["state"].get("principal")
        log.info(LogFields(
            request_id=request_id, method=scope["method"], path=scope["path"], route=route, status=status,
            duration_ms=round(elapsed * 1000, 2), client=(scope.get("client") or ("", 0))[0],
            key_id=principal.key_id if principal is not None else None,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        ))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        with metrics.IN_FLIGHT.track_inprogress():
            await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive) -> Message | None:
        """The whole body as one message, read within `body_timeout_s` (408) and `max_body_bytes` (413,
        counted as it streams: Content-Length may be absent); None when the client disconnects."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise APIError(408, f"the request body did not arrive within {self.body_timeout_s:g} s",
                               code="body_timeout") from None
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                raise APIError(413, f"request body over {self.max_body_bytes} bytes")
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

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


def _replay(body: Message, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then the connection's own messages (disconnect)."""
    pending = [body]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/models/{model_id}``), keeping label cardinality bounded."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
