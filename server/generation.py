"""Generation plumbing shared by every endpoint family: prompt budgeting, collecting
engine output, cancelling on client disconnect, and SSE framing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.types import Receive

from server import metrics
from server.engine import Engine, GenerationChunk, GenerationParams, TokenLogprob
from server.errors import APIError, ClientDisconnected, error_body, to_api_error

T = TypeVar("T")


def ensure_model(engine: Engine, requested: str | None) -> str:
    """404 unless `requested` (when given) is the model this server serves."""
    if requested and requested != engine.model_id:
        raise APIError(404, f"model {requested!r} does not exist; this server serves {engine.model_id!r}",
                       param="model", code="model_not_found")
    return engine.model_id


def output_budget(
    engine: Engine, prompt_tokens: int, requested: int | None, param: str, prompt_param: str = "messages"
) -> int:
    """Tokens the reply may use; 400 when the prompt, or prompt plus `requested`, overflows the context.

    `param` and `prompt_param` name the request fields that hold the token limit and the prompt.
    """
    limit = engine.max_model_len
    if prompt_tokens >= limit:
        raise APIError(
            400,
            f"the prompt has {prompt_tokens} tokens but the model's context window is {limit} tokens; shorten it",
            param=prompt_param,
            code="context_length_exceeded",
        )
    room = limit - prompt_tokens
    if requested is None:
        return room
    if requested > room:
        raise APIError(
            400,
            f"{param}={requested} plus the prompt's {prompt_tokens} tokens exceeds the context window of "
            f"{limit} tokens; ask for at most {room}",
            param=param,
            code="context_length_exceeded",
        )
    return requested


@dataclass
class ChoiceResult:
    text: str = ""
    num_tokens: int = 0
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None


@dataclass
class GenerationResult:
    prompt_tokens: int = 0
    choices: dict[int, ChoiceResult] = field(default_factory=dict)

    @property
    def completion_tokens(self) -> int:
        return sum(c.num_tokens for c in self.choices.values())

    def add(self, chunk: GenerationChunk) -> int:
        """Merge a chunk; returns how many new tokens it carried."""
        self.prompt_tokens = chunk.prompt_tokens
        new = 0
        for delta in chunk.choices:
            choice = self.choices.setdefault(delta.index, ChoiceResult())
            choice.text += delta.text
            choice.num_tokens += delta.num_tokens
            new += delta.num_tokens
            if delta.logprobs is not None:
                choice.logprobs = (choice.logprobs or []) + delta.logprobs
            if delta.finish_reason is not None:
                choice.finish_reason = delta.finish_reason
        return new


async def collect(
    engine: Engine, prompt_ids: list[int], params: GenerationParams, request_id: str, route: str
) -> GenerationResult:
    """Run a request to completion, recording its token metrics."""
    timer = metrics.GenerationTimer(route)
    result = GenerationResult(prompt_tokens=len(prompt_ids))
    async for chunk in engine.generate(prompt_ids, params, request_id):
        timer.tokens(result.add(chunk))
    timer.finish(result.prompt_tokens, result.completion_tokens)
    return result


async def cancel_on_disconnect(work: Awaitable[T], receive: Receive, route: str) -> T:
    """Await `work`, cancelling it (and so aborting its generation in the engine) if the client leaves."""
    task = asyncio.ensure_future(work)

    async def wait_for_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(wait_for_disconnect())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    metrics.ABORTED.labels(route).inc()
    try:
        await task
    except asyncio.CancelledError:
        pass
    raise ClientDisconnected()


def sse(payload: dict | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


async def started(stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """`stream` with its first item already awaited.

    The engine validates a request when it is submitted, i.e. on the first step of its stream
    (token ids outside the vocabulary, a grammar it cannot compile). Awaiting that step before a
    streamed response sends its 200 lets such errors become an ordinary 4xx response.
    """
    iterator = aiter(stream)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        first = None

    async def resumed() -> AsyncIterator[T]:
        if first is None:
            return
        try:
            yield first
            async for item in iterator:
                yield item
        finally:
            await iterator.aclose()

    return resumed()


async def guarded_stream(events: AsyncIterator[str], route: str) -> AsyncIterator[str]:
    """Count client disconnects, and turn a failure mid-stream into an error event (the status is already sent)."""

    try:
        async for event in events:
            yield event
    except asyncio.CancelledError:
        metrics.ABORTED.labels(route).inc()
        raise
    except Exception as exc:  # noqa: BLE001 - the stream is the only channel left to report it
        err = to_api_error(exc)
        yield sse(error_body(err.status, err.message, err.param, err.code))
        yield sse("[DONE]")


@dataclass
class UsageTally:
    """Token usage summed over the several engine calls one domain request may make."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


@dataclass
class StructuredGenerator:
    """Greedy JSON-schema generation for the domain endpoints.

    The schema's own budget is clamped to the room left in the context, so a long input gets
    a shorter (possibly truncated) answer that the task's parser handles, rather than an
    error; only an input that leaves no room at all is a 400 on `input_param`.
    """

    engine: Engine
    request_id: str
    route: str
    input_param: str
    usage: UsageTally = field(default_factory=UsageTally)
    calls: int = 0

    async def __call__(self, messages: list[dict], json_schema: dict, max_tokens: int) -> tuple[str, str | None]:
        prompt_ids = self.engine.encode(self.engine.render_chat(messages))
        room = self.engine.max_model_len - len(prompt_ids)
        budget = output_budget(self.engine, len(prompt_ids), min(max_tokens, max(room, 1)), "max_tokens",
                               prompt_param=self.input_param)
        params = GenerationParams(max_tokens=budget, temperature=0.0, json_schema=json_schema)
        self.calls += 1
        result = await collect(self.engine, prompt_ids, params, f"{self.request_id}-{self.calls}", self.route)
        self.usage.prompt_tokens += result.prompt_tokens
        self.usage.completion_tokens += result.completion_tokens
        choice = result.choices.get(0)
        return (choice.text, choice.finish_reason) if choice else ("", None)
