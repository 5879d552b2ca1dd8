"""One HTTP request served by several engine requests at once: a text completion with a list
of prompts makes one engine request per prompt, as vLLM's server does. They are submitted
together, and when one fails or the client leaves, the others are aborted in the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Sequence
from typing import TypeVar

from server.generation import started

T = TypeVar("T")


async def gather_all(work: Sequence[Awaitable[T]]) -> list[T]:
    """Await every one of `work` concurrently; on the first failure (or cancellation) cancel the rest."""
    if len(work) == 1:
        return [await work[0]]
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # a no-op for those already done
        await asyncio.gather(*tasks, return_exceptions=True)


async def start_all(streams: Sequence[AsyncGenerator[T, None]]) -> list[AsyncGenerator[T, None]]:
    """`server.generation.started` for each of `streams`, all submitted at once: the engine's
    refusal of any of them is raised before a streamed response sends its 200, and closes the others."""
    try:
        return await gather_all([started(stream) for stream in streams])
    except BaseException:
        for stream in streams:
            await stream.aclose()  # aborts those the engine had accepted
        raise


async def merge(streams: Sequence[AsyncGenerator[T, None]]) -> AsyncGenerator[tuple[int, T], None]:
    """Items of all `streams` as they come, each with its stream's index; closing the merge (or a
    failing stream) closes every stream."""
    if len(streams) == 1:
        async with contextlib.aclosing(streams[0]) as only:
            async for item in only:
                yield 0, item
        return

    done_marker = object()

    async def step(index: int) -> tuple[int, object]:
        try:
            return index, await anext(streams[index])
        except StopAsyncIteration:
            return index, done_marker

    pending = {asyncio.ensure_future(step(i)) for i in range(len(streams))}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for index, item in sorted((task.result() for task in done), key=lambda pair: pair[0]):
                if item is done_marker:
                    continue
                yield index, item
                pending.add(asyncio.ensure_future(step(index)))
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for stream in streams:
            await stream.aclose()
