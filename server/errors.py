"""The one error envelope and the one exception-to-status mapping.

Every error the server sends has the OpenAI shape
``{"error": {"message", "type", "param", "code"}}``; handlers raise `APIError` (or let the
engine's typed errors through) and never build responses themselves.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from sqlalchemy import exc as sa_exc
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference.engine import EngineRequestError, EngineUnavailableError

log = logging.getLogger(__name__)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "internal_error",
    503: "service_unavailable",
}
RETRY_AFTER_SECONDS = 5
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before the response


class ClientDisconnected(Exception):
    """The client went away before the response was ready."""


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "error"), "param": param, "code": code}}


def error_response(err: APIError) -> JSONResponse:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after is not None else None
    return JSONResponse(error_body(err.status, err.message, err.param, err.code), err.status, headers=headers)


def error_bytes(status: int, message: str, code: str | None = None) -> bytes:
    """The envelope as bytes, for middleware that answers before routing."""
    return json.dumps(error_body(status, message, None, code)).encode()


def to_api_error(exc: Exception) -> APIError:
    """Map any exception to the APIError the client should see."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, EngineRequestError):
        return APIError(400, str(exc), param=exc.param, code=exc.code)
    if isinstance(exc, EngineUnavailableError):
        return APIError(503, str(exc), code="engine_unavailable", retry_after=RETRY_AFTER_SECONDS)
    if isinstance(exc, sa_exc.DataError):  # a value the database refuses; text is normalised first, so rare
        log.warning("the store refused a value: %s", exc.orig)
        return APIError(400, "the store refused a value of the request", code="invalid_value")
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        log.warning("the store is unavailable: %s", exc)
        return APIError(503, "the conversation and feedback store is unavailable; retry later",
                        code="store_unavailable", retry_after=RETRY_AFTER_SECONDS)
    log.exception("internal error", exc_info=exc)
    return APIError(500, "internal server error; the request id in X-Request-Id identifies it in the logs")


MAPPED_ERRORS = (EngineRequestError, EngineUnavailableError, sa_exc.DataError, sa_exc.OperationalError,
                 sa_exc.InterfaceError, sa_exc.TimeoutError)
"""Errors with a status of their own (`to_api_error`); anything else is a 500."""

_UNION_TAGS = {"str", "int", "float", "bool", "dict", "list", "none"}


def _param_from_loc(loc: tuple) -> str | None:
    """`("body", "messages", 0, "role")` -> ``messages[0].role``.

    Pydantic adds the union branch it tried to the location (``str``, ``list[int]``,
    ``function-after[...]``); those are not fields and are dropped.
    """
    parts: list[str] = []
    for item in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in _UNION_TAGS or "[" in item or "(" in item:
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or None


def validation_error(exc: RequestValidationError) -> APIError:
    first = exc.errors()[0]
    # A rule over the whole body names its field in the error's context (server.openai.protocol.field_error).
    named = (first.get("ctx") or {}).get("param")
    named = named if isinstance(named, str) else None
    if tuple(first.get("loc", ())) == ("body",) and not named:
        return APIError(400, "the request body must be a JSON object", code="invalid_json")
    if first.get("type") == "json_invalid":
        return APIError(400, f"request body is not valid JSON: {first.get('ctx', {}).get('error', '')}".rstrip(": "),
                        code="invalid_json")
    param = named or _param_from_loc(tuple(first.get("loc", ())))
    message = first.get("msg", "invalid request")
    if param:
        message = f"{param}: {message}"
    return APIError(400, message, param=param, code="invalid_value")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(ClientDisconnected)
    async def _gone(_: Request, exc: ClientDisconnected) -> Response:
        return Response(status_code=CLIENT_CLOSED_REQUEST)  # nobody reads it; the status shows in logs and metrics

    @app.exception_handler(APIError)
    async def _api(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, APIError):  # FastAPI wraps errors raised while reading the body
            return error_response(exc.__cause__)
        message = {404: "no such route", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return error_response(APIError(exc.status_code, message))

    async def _mapped(_: Request, exc: Exception) -> JSONResponse:
        return error_response(to_api_error(exc))

    # Registered per type, not for Exception: Starlette answers an Exception handler from its outermost
    # middleware and re-raises, so the request's own middleware would count a 500 and the connection
    # would close. Anything else escapes to `RequestMiddleware`, which answers 500 with the request id.
    for mapped in MAPPED_ERRORS:
        app.add_exception_handler(mapped, _mapped)
