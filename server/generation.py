"""The HTTP side of generation, shared by every endpoint family: the model check, token
metrics per route, cancelling on client disconnect, and SSE framing. The engine side
(budgets, collecting output, structured generation) is `inference.generation`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from starlette.types import Receive

from inference import generation
from inference.engine import Engine, GenerationParams
from inference.generation import GenerationResult, StructuredGenerator
from server import metrics
from server.errors import APIError, ClientDisconnected, error_body, to_api_error

T = TypeVar("T")


def ensure_model(engine: Engine, requested: str | None) -> None:
    """404 unless `requested` (when given) is one of the names this server serves. Responses report
    `Engine.model_id` whichever name was sent (the README's served-names rule), so nothing is returned."""
    if requested and requested not in engine.served_names:
        served = " or ".join(map(repr, engine.served_names))
        raise APIError(404, f"model {requested!r} does not exist; this server serves {served}",
                       param="model", code="model_not_found")


async def collect(
    engine: Engine, prompt_ids: list[int], params: GenerationParams, request_id: str, route: str
) -> GenerationResult:
    """Run a request to completion, recording its token metrics under `route`."""
    return await generation.collect(engine, prompt_ids, params, request_id, metrics.GenerationTimer(route))


def structured_generator(engine: Engine, request_id: str, route: str, *, input_param: str) -> StructuredGenerator:
    """The task flows' ``generate`` callable on `engine`, recording token metrics under `route`."""
    return StructuredGenerator(engine, request_id, input_param, observe=lambda: metrics.GenerationTimer(route))


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
