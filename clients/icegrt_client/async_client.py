"""`AsyncIceGrtClient`: the asyncio twin of `icegrt_client.client.IceGrtClient` (same methods, awaited)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import httpx

from icegrt_client import _calls
from icegrt_client._calls import Call, DeltaDecoder, TableFormat, parse_response
from icegrt_client.config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ClientConfig, RetryPolicy
from icegrt_client.errors import connection_error, error_from_response
from icegrt_client.types import Ad, ComplianceResult, Conversation, FeedbackReceipt, Policy, Reply, TableResult

if TYPE_CHECKING:
    import openai

T = TypeVar("T")


class AsyncIceGrtClient:
    """Async client of one ICE-GRT server; configuration and retries as in `IceGrtClient`."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = ClientConfig.resolve(base_url, api_key, timeout, max_retries)
        self._retry = RetryPolicy(self.config.max_retries)
        self._transport = transport
        self._http = httpx.AsyncClient(base_url=self.config.base_url, headers=self.config.headers(),
                                       timeout=self.config.timeout, transport=transport)
        self.ads = Ads(self)
        self.tables = Tables(self)
        self.conversations = Conversations(self)
        self.feedback = Feedback(self)

    @cached_property
    def openai(self) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` for chat/completions on the same server, key, timeout and retries."""
        openai = _calls.import_openai()

        http_client = httpx.AsyncClient(transport=self._transport) if self._transport else None
        return openai.AsyncOpenAI(base_url=f"{self.config.base_url}/v1", api_key=self.config.api_key or "none",
                                  timeout=self.config.timeout, max_retries=self.config.max_retries,
                                  http_client=http_client)

    async def health(self) -> dict[str, Any]:
        """``GET /health``: whether the process is up (no API key needed)."""
        return await self._request(Call("GET", "/health", dict))

    async def aclose(self) -> None:
        await self._http.aclose()
        if "openai" in self.__dict__:
            await self.openai.close()

    async def __aenter__(self) -> AsyncIceGrtClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call[Any], stream: bool = False) -> httpx.Response:
        """Send with retries; return the 2xx response or raise the matching `IceGrtError`."""
        request = self._http.build_request(call.method, call.path, json=call.body)
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._retry.next_delay(attempt, call.method, None)
                if delay is None:
                    raise connection_error(exc, self.config.base_url, self.config.timeout) from exc
            else:
                if response.is_success:
                    return response
                await response.aread()
                await response.aclose()
                delay = self._retry.next_delay(attempt, call.method, response.status_code,
                                               response.headers.get("retry-after"))
                if delay is None:
                    raise error_from_response(response)
            await asyncio.sleep(delay)
            attempt += 1

    async def _request(self, call: Call[T]) -> T:
        return parse_response(call, await self._send(call))

    async def _stream(self, call: Call[Any]) -> AsyncReplyStream:
        response = await self._send(call, stream=True)  # HTTP errors surface here, before iteration
        return AsyncReplyStream(response, self.config)


class AsyncReplyStream:
    """Async iterator over the text deltas of a streamed reply; see `icegrt_client.client.ReplyStream`."""

    def __init__(self, response: httpx.Response, config: ClientConfig) -> None:
        self._decoder = DeltaDecoder()
        self._response = response
        self._deltas = self._read(config)

    @property
    def reply(self) -> Reply | None:
        return self._decoder.reply

    async def _read(self, config: ClientConfig) -> AsyncIterator[str]:
        try:
            async for line in self._response.aiter_lines():
                if delta := self._decoder.feed(line):
                    yield delta
                if self._decoder.done:
                    return
        except httpx.TransportError as exc:
            raise connection_error(exc, config.base_url, config.timeout) from exc
        finally:
            await self._response.aclose()

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        return await anext(self._deltas)

    async def aclose(self) -> None:
        await self._deltas.aclose()
        await self._response.aclose()  # the generator's cleanup never runs if iteration never started

    async def __aenter__(self) -> AsyncReplyStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Ads:
    def __init__(self, client: AsyncIceGrtClient) -> None:
        self._client = client

    async def check(self, ad: Ad | Mapping[str, Any], market: str | None = None,
              policies: Iterable[str] | str | None = None, suggest: bool = True,
              model: str | None = None, mode: str | None = None) -> ComplianceResult:
        """Check an ad against the policy catalogue (or only ``policies``); with ``suggest``, the
        server also proposes a revision and says whether it passed a re-check. ``mode``: ``auto``,
        ``rules`` or ``hybrid`` (default: the server's)."""
        return await self._client._request(_calls.ads_check(ad, market, policies, suggest, model, mode))

    async def policies(self) -> list[Policy]:
        """The policy catalogue."""
        return await self._client._request(_calls.ads_policies())


class Tables:
    def __init__(self, client: AsyncIceGrtClient) -> None:
        self._client = client

    async def extract(self, text: str, columns: Iterable[str] | None = None, format: TableFormat = "json",  # noqa: A002
                model: str | None = None) -> TableResult:
        """Turn ``text`` into a table (with ``columns`` as the header when given)."""
        return await self._client._request(_calls.tables_extract(text, columns, format, model))


class Conversations:
    def __init__(self, client: AsyncIceGrtClient) -> None:
        self._client = client

    async def create(self, system: str | None = None, *, model: str | None = None,
                     metadata: Mapping[str, str] | None = None) -> Conversation:
        return await self._client._request(_calls.conversations_create(system, model, metadata))

    @overload
    async def send(self, conversation_id: str, content: str, stream: Literal[False] = False,
                   **options: Any) -> Reply: ...
    @overload
    async def send(self, conversation_id: str, content: str, stream: Literal[True],
                   **options: Any) -> AsyncReplyStream: ...

    async def send(self, conversation_id: str, content: str, stream: bool = False,
                   **options: Any) -> Reply | AsyncReplyStream:
        """As `icegrt_client.client.Conversations.send`; with ``stream=True`` the awaited result is an
        `AsyncReplyStream` (``async for delta in await conversations.send(id, text, stream=True)``)."""
        call = _calls.conversations_send(conversation_id, content, stream, options)
        return await (self._client._stream(call) if stream else self._client._request(call))

    async def get(self, conversation_id: str) -> Conversation:
        return await self._client._request(_calls.conversations_get(conversation_id))

    async def delete(self, conversation_id: str) -> None:
        await self._client._request(_calls.conversations_delete(conversation_id))


class Feedback:
    def __init__(self, client: AsyncIceGrtClient) -> None:
        self._client = client

    async def submit(self, *, completion_id: str | None = None, conversation_id: str | None = None,
                     message_id: str | None = None, rating: int | None = None, ranking: list[str] | None = None,
                     comment: str | None = None) -> FeedbackReceipt:
        """Rate (-1 or 1) or rank a chat completion, or a message of a conversation; it becomes
        reward-model training data (``icegrt data export-preferences``)."""
        return await self._client._request(
            _calls.feedback_submit(completion_id, conversation_id, message_id, rating, ranking, comment))
