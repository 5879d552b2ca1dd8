"""Generation plumbing shared by every caller of an `Engine`: prompt budgeting, collecting a
request's output, and structured (JSON-schema) generation for the task flows.

Nothing here knows HTTP or metrics: a caller that records token timings passes a
`GenerationObserver` (the server passes its Prometheus timer, `server.metrics.GenerationTimer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from inference.engine import ContextLengthError, Engine, GenerationChunk, GenerationParams, TokenLogprob


class GenerationObserver(Protocol):
    """Told about one engine request's tokens as they arrive (for latency metrics)."""

    def tokens(self, count: int) -> None:
        """`count` new tokens arrived (across all choices)."""

    def finish(self, prompt_tokens: int, generated_tokens: int) -> None:
        """The request finished."""


def output_budget(
    engine: Engine, prompt_tokens: int, requested: int | None, param: str, prompt_param: str = "messages"
) -> int:
    """Tokens the reply may use; `ContextLengthError` when the prompt, or prompt plus `requested`,
    overflows the context.

    `param` and `prompt_param` name the request fields that hold the token limit and the prompt.
    """
    limit = engine.max_model_len
    if prompt_tokens >= limit:
        raise ContextLengthError(
            f"the prompt has {prompt_tokens} tokens but the model's context window is {limit} tokens; shorten it",
            prompt_param,
        )
    room = limit - prompt_tokens
    if requested is None:
        return room
    if requested > room:
        raise ContextLengthError(
            f"{param}={requested} plus the prompt's {prompt_tokens} tokens exceeds the context window of "
            f"{limit} tokens; ask for at most {room}",
            param,
        )
    return requested


@dataclass
class ChoiceResult:
    text: str = ""
    num_tokens: int = 0
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None


@dataclass
class GenerationResult:
    prompt_tokens: int = 0
    choices: dict[int, ChoiceResult] = field(default_factory=dict)
    prompt_logprobs: list[TokenLogprob] | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(c.num_tokens for c in self.choices.values())

    def add(self, chunk: GenerationChunk) -> int:
        """Merge a chunk; returns how many new tokens it carried."""
        self.prompt_tokens = chunk.prompt_tokens
        if chunk.prompt_logprobs is not None:
            self.prompt_logprobs = chunk.prompt_logprobs
        new = 0
        for delta in chunk.choices:
            choice = self.choices.setdefault(delta.index, ChoiceResult())
            choice.text += delta.text
            choice.num_tokens += delta.num_tokens
            choice.token_ids.extend(delta.token_ids)
            new += delta.num_tokens
            if delta.logprobs is not None:
                choice.logprobs = (choice.logprobs or []) + delta.logprobs
            if delta.finish_reason is not None:
                choice.finish_reason = delta.finish_reason
        return new


async def collect(
    engine: Engine, prompt_ids: list[int], params: GenerationParams, request_id: str,
    observer: GenerationObserver | None = None,
) -> GenerationResult:
    """Run a request to completion, telling `observer` (if any) about its tokens."""
    result = GenerationResult(prompt_tokens=len(prompt_ids))
    async for chunk in engine.generate(prompt_ids, params, request_id):
        new = result.add(chunk)
        if observer is not None:
            observer.tokens(new)
    if observer is not None:
        observer.finish(result.prompt_tokens, result.completion_tokens)
    return result


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
    """Greedy JSON-schema generation for the task flows: the ``generate`` callable that
    `tasks.ad_compliance.checker.check_ad` and `tasks.text_to_table.flow.extract_table` take.

    The schema's own budget is clamped to the room left in the context, so a long input gets
    a shorter (possibly truncated) answer that the task's parser handles, rather than an
    error; only an input that leaves no room at all is a `ContextLengthError` on `input_param`.
    `observe`, when given, makes an observer for each engine call.
    """

    engine: Engine
    request_id: str
    input_param: str
    observe: Callable[[], GenerationObserver] | None = None
    usage: UsageTally = field(default_factory=UsageTally)
    calls: int = 0

    async def __call__(self, messages: list[dict], json_schema: dict, max_tokens: int) -> tuple[str, str | None]:
        prompt_ids = self.engine.encode(self.engine.render_chat(messages))
        room = self.engine.max_model_len - len(prompt_ids)
        budget = output_budget(self.engine, len(prompt_ids), min(max_tokens, max(room, 1)), "max_tokens",
                               prompt_param=self.input_param)
        params = GenerationParams(max_tokens=budget, temperature=0.0, json_schema=json_schema)
        self.calls += 1
        observer = self.observe() if self.observe is not None else None
        result = await collect(self.engine, prompt_ids, params, f"{self.request_id}-{self.calls}", observer)
        self.usage.prompt_tokens += result.prompt_tokens
        self.usage.completion_tokens += result.completion_tokens
        choice = result.choices.get(0)
        return (choice.text, choice.finish_reason) if choice else ("", None)
