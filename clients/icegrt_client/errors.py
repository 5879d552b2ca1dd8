"""Exceptions raised by the SDK, built from the server's OpenAI-style error envelope.

Every error carries what the server said (``message``, ``type``, ``param``, ``code``), the HTTP
``status`` and the ``request_id`` (``X-Request-Id``) that finds the request in the server's logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class IceGrtError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,  # noqa: A002 - the envelope's field name
        param: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        head = f"{self.status} {self.type or 'error'}: " if self.status else ""
        details = ", ".join(f"{k}={v}" for k, v in (("param", self.param), ("code", self.code)) if v)
        return f"{head}{self.message}" + (f" ({details})" if details else "")

    def to_dict(self) -> dict[str, Any]:
        """The error as plain JSON (what ``icegrt ads check`` writes for a failed ad)."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code,
                "status": self.status}


class BadRequestError(IceGrtError):
    """400 (invalid request; ``param`` names the field) or 413 (body too large)."""


class AuthenticationError(IceGrtError):
    """401: missing or wrong API key."""


class NotFoundError(IceGrtError):
    """404: unknown model, conversation or route."""


class RateLimitError(IceGrtError):
    """429 after the retries ran out."""


class ServerError(IceGrtError):
    """5xx (503 after the retries ran out: overloaded, engine loading or dead)."""


class ConnectionError(IceGrtError):  # noqa: A001 - the name the SDK's users expect
    """The server could not be reached, or the connection broke mid-response."""


class RequestTimeoutError(ConnectionError):
    """No answer within the client's timeout (the server may still be working on it)."""


_BY_STATUS: dict[int, type[IceGrtError]] = {
    400: BadRequestError, 413: BadRequestError, 401: AuthenticationError, 404: NotFoundError, 429: RateLimitError,
}
_STATUS_BY_TYPE = {  # for errors sent inside a stream, after the 200 status line
    "invalid_request_error": 400, "authentication_error": 401, "not_found_error": 404, "rate_limit_error": 429,
    "internal_error": 500, "service_unavailable": 503,
}


def error_class(status: int) -> type[IceGrtError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, IceGrtError)


def error_from_body(status: int, body: Any, **extra: Any) -> IceGrtError:
    """The exception for ``status`` and a decoded body (the envelope, or anything else a proxy sent)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error_class(status)(
            str(error.get("message") or f"HTTP {status}"), status=status, type=error.get("type"),
            param=error.get("param"), code=error.get("code"), **extra)
    text = body if isinstance(body, str) else repr(body)
    return error_class(status)(f"HTTP {status}: {text[:500]}", status=status, **extra)


def error_from_response(response: httpx.Response) -> IceGrtError:
    """The exception for a non-2xx response whose body has been read."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return error_from_body(response.status_code, body, request_id=response.headers.get("x-request-id"),
                           retry_after=response.headers.get("retry-after"))


def error_from_event(event: dict[str, Any]) -> IceGrtError:
    """The exception for an error event that arrives mid-stream (the HTTP status was already 200)."""
    status = _STATUS_BY_TYPE.get(str(event["error"].get("type")), 500)
    return error_from_body(status, event)


def connection_error(exc: Exception, base_url: str, timeout: float) -> ConnectionError:
    """Wrap an httpx transport error so callers need not import httpx to catch it."""
    import httpx

    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeoutError(f"no response from {base_url} within {timeout:g} s ({type(exc).__name__})",
                                   type="timeout")
    return ConnectionError(f"cannot reach the ICE-GRT server at {base_url}: {exc or type(exc).__name__}",
                           type="connection_error")
