"""One request builder per endpoint, shared by the sync and async clients.

A builder checks its arguments and returns a `Call`: method, path, JSON body and how to parse the
answer. The two clients differ only in how they send it, so each request shape is written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from icegrt_client.errors import IceGrtError, error_from_event
from icegrt_client.types import (Ad, ComplianceResult, Conversation, FeedbackReceipt, Policy, Reply,
                           TableResult)

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
TableFormat = Literal["json", "markdown", "csv"]
_POLICY_LIST = TypeAdapter(list[Policy])


def import_openai() -> Any:
    """The ``openai`` module behind ``client.openai``: an optional dependency of the SDK."""
    try:
        import openai
    except ImportError as exc:
        raise ImportError("client.openai needs the openai package: pip install 'icegrt-client[openai]'") from exc
    return openai


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    body: dict[str, Any] | None = None


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _ad_payload(ad: Ad | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(ad, Ad):
        return ad.model_dump(exclude_none=True)
    if isinstance(ad, Mapping):
        return dict(ad)
    raise TypeError(f"ad must be a dict or icegrt_client.Ad, not {type(ad).__name__}")


def _conversation_path(conversation_id: str, suffix: str = "") -> str:
    if not conversation_id:
        raise ValueError("conversation id must not be empty")
    return f"/v1/conversations/{quote(conversation_id, safe='')}{suffix}"


def ads_check(ad: Ad | Mapping[str, Any], market: str | None, policies: Iterable[str] | str | None,
              suggest: bool, model: str | None, mode: str | None = None) -> Call[ComplianceResult]:
    if isinstance(policies, str):  # one id, not an iterable of characters
        policies = [policies]
    body = {"ad": _ad_payload(ad), "suggest": suggest,
            **_present(market=market, policies=None if policies is None else list(policies), model=model,
                       mode=mode)}
    return Call("POST", "/v1/ads/compliance", ComplianceResult.model_validate, body)


def _policy_list(body: Any) -> list[Policy]:
    """Reads the OpenAI-style ``{"object": "list", "data": [...]}`` (or a bare list)."""
    items = body.get("data") if isinstance(body, dict) else body
    return _POLICY_LIST.validate_python(items)


def ads_policies() -> Call[list[Policy]]:
    return Call("GET", "/v1/ads/policies", _policy_list)


def tables_extract(text: str, columns: Iterable[str] | None, format: TableFormat,  # noqa: A002
                   model: str | None) -> Call[TableResult]:
    body = {"text": text, "format": format,
            **_present(columns=None if columns is None else list(columns), model=model)}
    return Call("POST", "/v1/text-to-table", TableResult.model_validate, body)


def conversations_create(system: str | None, model: str | None,
                         metadata: Mapping[str, str] | None) -> Call[Conversation]:
    body = _present(system=system, model=model, metadata=None if metadata is None else dict(metadata))
    return Call("POST", "/v1/conversations", Conversation.model_validate, body)


def conversations_send(conversation_id: str, content: str, stream: bool, options: dict[str, Any]) -> Call[Reply]:
    """``options`` are generation options (``max_tokens``, ``temperature``, ...), sent as given."""
    body = {**options, "content": content, "stream": stream}
    return Call("POST", _conversation_path(conversation_id, "/messages"), Reply.model_validate, body)


def conversations_get(conversation_id: str) -> Call[Conversation]:
    return Call("GET", _conversation_path(conversation_id), Conversation.model_validate)


def conversations_delete(conversation_id: str) -> Call[None]:
    return Call("DELETE", _conversation_path(conversation_id), lambda _: None)


def feedback_submit(completion_id: str | None, conversation_id: str | None, message_id: str | None,
                    rating: int | None, ranking: list[str] | None, comment: str | None) -> Call[FeedbackReceipt]:
    """The server checks the target (one of the two) and the values, and names the field at fault."""
    body = _present(completion_id=completion_id, conversation_id=conversation_id, message_id=message_id,
                    rating=rating, ranking=ranking, comment=comment)
    return Call("POST", "/v1/feedback", FeedbackReceipt.model_validate, body)


def parse_response(call: Call[T], response: httpx.Response) -> T:
    """Decode a 2xx response; a body that breaks the contract is an `IceGrtError` too."""
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json() if response.content else None
        return call.parse(body)
    except (ValueError, ValidationError) as exc:  # json errors are ValueErrors
        raise IceGrtError(f"{call.method} {call.path}: unexpected response from the server: {exc}",
                          status=response.status_code, type="invalid_response", request_id=request_id) from exc


class DeltaDecoder:
    """Turns the server-sent events of a streamed reply into text deltas.

    The server sends ``{"delta": {"content": ...}}`` chunks, then the stored reply, then
    ``data: [DONE]``; `reply` holds the stored reply once it arrived and `done` turns True at the
    end. An ``{"error": ...}`` event (a failure after the 200 status) raises the matching `IceGrtError`.
    """

    def __init__(self) -> None:
        self.done = False
        self.reply: Reply | None = None

    def feed(self, line: str) -> str | None:
        if not line.startswith("data:"):
            return None
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            self.done = True
            return None
        try:
            event = json.loads(data)
            if isinstance(event.get("error"), dict):
                raise error_from_event(event)
            if isinstance(event.get("delta"), dict):
                return event["delta"].get("content") or None
            self.reply = Reply.model_validate(event)
            return None
        except (ValueError, AttributeError) as exc:  # bad JSON, not an object, or not a reply
            raise IceGrtError(f"unexpected stream event {data[:200]!r}: {exc}", type="invalid_response") from exc
