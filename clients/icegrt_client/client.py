"""`IceGrtClient`: the synchronous SDK for the domain endpoints; chat goes through ``client.openai``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
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


class IceGrtClient:
    """Client of one ICE-GRT server.

    ``base_url`` and ``api_key`` default to ``$ICEGRT_BASE_URL`` (else http://127.0.0.1:8000) and
    ``$ICEGRT_API_KEY``. 429 and 503 answers are retried up to ``max_retries`` times (after
    ``Retry-After`` when sent, else exponential backoff with jitter), as are transport errors on
    GET. ``transport`` replaces the network (e.g. ``httpx.MockTransport`` in tests).
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = ClientConfig.resolve(base_url, api_key, timeout, max_retries)
        self._retry = RetryPolicy(self.config.max_retries)
        self._transport = transport
        self._http = httpx.Client(base_url=self.config.base_url, headers=self.config.headers(),
                                  timeout=self.config.timeout, transport=transport)
        self.ads = Ads(self)
        self.tables = Tables(self)
        self.conversations = Conversations(self)
        self.feedback = Feedback(self)

    @cached_property
    def openai(self) -> openai.OpenAI:
        """An ``openai.OpenAI`` for chat/completions on the same server, key, timeout and retries."""
        openai = _calls.import_openai()

        http_client = httpx.Client(transport=self._transport) if self._transport else None
        return openai.OpenAI(base_url=f"{self.config.base_url}/v1", api_key=self.config.api_key or "none",
                             timeout=self.config.timeout, max_retries=self.config.max_retries,
                             http_client=http_client)

    def health(self) -> dict[str, Any]:
        """``GET /health``: whether the process is up (no API key needed)."""
        return self._request(Call("GET", "/health", dict))

    def close(self) -> None:
        self._http.close()
        if "openai" in self.__dict__:
            self.openai.close()

    def __enter__(self) -> IceGrtClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call[Any], stream: bool = False) -> httpx.Response:
        """Send with retries; return the 2xx response or raise the matching `IceGrtError`."""
        request = self._http.build_request(call.method, call.path, json=call.body)
        attempt = 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._retry.next_delay(attempt, call.method, None)
                if delay is None:
                    raise connection_error(exc, self.config.base_url, self.config.timeout) from exc
            else:
                if response.is_success:
                    return response
                response.read()
                response.close()
                delay = self._retry.next_delay(attempt, call.method, response.status_code,
                                               response.headers.get("retry-after"))
                if delay is None:
                    raise error_from_response(response)
            time.sleep(delay)
            attempt += 1

    def _request(self, call: Call[T]) -> T:
        return parse_response(call, self._send(call))

    def _stream(self, call: Call[Any]) -> ReplyStream:
        response = self._send(call, stream=True)  # HTTP errors surface here, before iteration
        return ReplyStream(response, self.config)


class ReplyStream:
    """Iterator over the text deltas of a streamed reply.

    Once it is exhausted, ``reply`` holds the stored `Reply` (its ``id`` is the ``message_id`` for
    feedback). Leaving early? ``close()`` it, or use it as a context manager.
    """

    def __init__(self, response: httpx.Response, config: ClientConfig) -> None:
        self._decoder = DeltaDecoder()
        self._response = response
        self._deltas = self._read(config)

    @property
    def reply(self) -> Reply | None:
        return self._decoder.reply

    def _read(self, config: ClientConfig) -> Iterator[str]:
        try:
            for line in self._response.iter_lines():
                if delta := self._decoder.feed(line):
                    yield delta
                if self._decoder.done:
                    return
        except httpx.TransportError as exc:
            raise connection_error(exc, config.base_url, config.timeout) from exc
        finally:
            self._response.close()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._deltas)

    def close(self) -> None:
        self._deltas.close()
        self._response.close()  # the generator's cleanup never runs if iteration never started

    def __enter__(self) -> ReplyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Ads:
    def __init__(self, client: IceGrtClient) -> None:
        self._client = client

    def check(self, ad: Ad | Mapping[str, Any], market: str | None = None,
              policies: Iterable[str] | str | None = None, suggest: bool = True,
              model: str | None = None, mode: str | None = None) -> ComplianceResult:
        """Check an ad against the policy catalogue (or only ``policies``); with ``suggest``, the
        server also proposes a revision and says whether it passed a re-check. ``mode``: ``auto``,
        ``rules`` or ``hybrid`` (default: the server's)."""
        return self._client._request(_calls.ads_check(ad, market, policies, suggest, model, mode))

    def policies(self) -> list[Policy]:
        """The policy catalogue."""
        return self._client._request(_calls.ads_policies())


class Tables:
    def __init__(self, client: IceGrtClient) -> None:
        self._client = client

    def extract(self, text: str, columns: Iterable[str] | None = None, format: TableFormat = "json",  # noqa: A002
                model: str | None = None) -> TableResult:
        """Turn ``text`` into a table (with ``columns`` as the header when given)."""
        return self._client._request(_calls.tables_extract(text, columns, format, model))


class Conversations:
    def __init__(self, client: IceGrtClient) -> None:
        self._client = client

    def create(self, system: str | None = None, *, model: str | None = None,
               metadata: Mapping[str, str] | None = None) -> Conversation:
        """Start a conversation; ``system`` is kept through every trim of the history."""
        return self._client._request(_calls.conversations_create(system, model, metadata))

    @overload
    def send(self, conversation_id: str, content: str, stream: Literal[False] = False,
             **options: Any) -> Reply: ...
    @overload
    def send(self, conversation_id: str, content: str, stream: Literal[True], **options: Any) -> ReplyStream: ...

    def send(self, conversation_id: str, content: str, stream: bool = False,
             **options: Any) -> Reply | ReplyStream:
        """Add a user message and get the assistant's reply; the server keeps the history.

        ``options`` are generation options (``max_tokens``, ``temperature``, ``seed``, ...). With
        ``stream=True`` the result is a `ReplyStream`: an iterator of text deltas.
        """
        call = _calls.conversations_send(conversation_id, content, stream, options)
        return self._client._stream(call) if stream else self._client._request(call)

    def get(self, conversation_id: str) -> Conversation:
        return self._client._request(_calls.conversations_get(conversation_id))

    def delete(self, conversation_id: str) -> None:
        self._client._request(_calls.conversations_delete(conversation_id))


class Feedback:
    def __init__(self, client: IceGrtClient) -> None:
        self._client = client

    def submit(self, *, completion_id: str | None = None, conversation_id: str | None = None,
               message_id: str | None = None, rating: int | None = None, ranking: list[str] | None = None,
               comment: str | None = None) -> FeedbackReceipt:
        """Rate (-1 or 1) or rank a chat completion, or a message of a conversation; it becomes
        reward-model training data (``icegrt data export-preferences``)."""
        return self._client._request(
            _calls.feedback_submit(completion_id, conversation_id, message_id, rating, ranking, comment))
