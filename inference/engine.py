"""The one engine interface the server and training see (its vLLM implementation: `inference.vllm_engine`).

Routes, serving code and evaluation depend on `Engine` only, as vLLM's own serving classes
depend on `EngineClient`; unit tests drive them with a fake. The types here are plain
dataclasses so that importing the serving code does not import vLLM.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


class EngineRequestError(ValueError):
    """The engine rejected a request as invalid (the server maps it to 400); `param` names the
    field, `code` says why (the error envelope's ``code``)."""

    code = "invalid_value"

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class ContextLengthError(EngineRequestError):
    """The prompt, or the prompt plus the tokens asked for, does not fit the context window."""

    code = "context_length_exceeded"


class EngineUnavailableError(RuntimeError):
    """The engine is not loaded yet, or has died (the server maps it to 503)."""


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one request, independent of the engine's own types."""

    max_tokens: int
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: int | None = None
    """Number of alternatives per position; None returns no log probabilities."""
    prompt_logprobs: int | None = None
    """Like `logprobs`, for the prompt's tokens (`GenerationChunk.prompt_logprobs`); None returns none."""
    logit_bias: dict[int, float] | None = None
    """Token id -> bias (-100 to 100) added to that token's logit before sampling."""
    json_schema: dict[str, Any] | None = None
    json_object: bool = False
    structural_tag: str | None = None
    """A vLLM structural tag (JSON text) the output must follow: how vLLM constrains tool calls in a
    model's own tool-call format (`server.openai.tools`)."""
    skip_special_tokens: bool = True
    """False keeps special tokens in the output text (tool-call parsers may need their markers)."""
    adapter: str | None = None
    """Generate through this served LoRA adapter (`Engine.adapters`); None: the base model."""


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float | None
    """None only for a prompt's first token, which nothing precedes."""
    top: tuple[tuple[str, float], ...] = ()


@dataclass
class ChoiceDelta:
    """New output of one choice since the previous chunk."""

    index: int
    text: str
    num_tokens: int
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    """"stop", "length" or "abort" once the choice is finished."""
    token_ids: Sequence[int] = ()
    """The new tokens' ids (empty where an engine does not report them)."""


@dataclass
class GenerationChunk:
    prompt_tokens: int
    choices: list[ChoiceDelta] = field(default_factory=list)
    finished: bool = False
    prompt_logprobs: list[TokenLogprob] | None = None
    """With `GenerationParams.prompt_logprobs`: one entry per prompt token, on one chunk (the first)."""


class Engine(abc.ABC):
    """What the server and evaluation need from an inference engine."""

    model_id: str
    """The model name responses report (the first served name)."""
    max_model_len: int
    aliases: tuple[str, ...] = ()
    """Further names clients may send as ``model`` (``--served-model-name a b``: b)."""

    adapters: tuple[str, ...] = ()
    """Names of the LoRA adapters served on top of this model (``--lora-modules``)."""
    sampling_defaults: dict[str, Any] = {}
    """The model's own defaults (its ``generation_config``, as vLLM reads it) for sampling fields a
    request leaves out: temperature, top_p, top_k, min_p, the penalties, max_tokens."""
    tokenizer: Any = None
    """The model's tokenizer as vLLM holds it, for vLLM's tool-call parsers; None where there is none."""

    @property
    def served_names(self) -> tuple[str, ...]:
        """Every name this engine answers to, `model_id` first."""
        return (self.model_id, *self.aliases)

    def for_model(self, name: str | None) -> "Engine":
        """The engine for requests naming `name`: a view that generates through the adapter for an
        adapter's name, else this engine (an unknown name is then the caller's 404)."""
        return AdapterView(self, name) if name in self.adapters else self

    @abc.abstractmethod
    def render_chat(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True,
                    tools: Sequence[dict[str, Any]] | None = None) -> str:
        """The chat template applied to `messages` (and `tools`, the template's ``tools``), with the
        generation prompt unless told otherwise. Messages are in the shape Hugging Face templates
        expect: ``content`` a string; an assistant's ``tool_calls`` with ``arguments`` as objects; a
        tool result's ``tool_call_id``."""

    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no special tokens added: templates carry their own)."""

    @abc.abstractmethod
    def decode(self, token_ids: Sequence[int]) -> str:
        """The text of `token_ids` (special tokens included); `EngineRequestError` for an id
        outside the vocabulary."""

    @abc.abstractmethod
    def generate(
        self, prompt_token_ids: list[int], params: GenerationParams, request_id: str
    ) -> AsyncIterator[GenerationChunk]:
        """Stream deltas until every choice finishes; cancelling the iterator aborts the request."""

    @abc.abstractmethod
    async def check_health(self) -> None:
        """Raise EngineUnavailableError when the engine cannot serve."""

    def stats(self) -> dict[str, Any]:
        """Engine counters worth showing on /version or logs (optional)."""
        return {}

    async def shutdown(self) -> None:
        """Release the engine's processes and memory."""


class DelegatingEngine(Engine):
    """An engine that answers as `inner` does: a wrapper subclasses it and overrides only what it
    changes (`AdapterView` the adapter, `server.limits.MeteredEngine` the token accounting)."""

    def __init__(self, inner: Engine):
        self.inner = inner
        self.model_id = inner.model_id
        self.max_model_len = inner.max_model_len
        self.aliases = inner.aliases
        self.adapters = inner.adapters
        self.sampling_defaults = inner.sampling_defaults
        self.tokenizer = inner.tokenizer

    def render_chat(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True,
                    tools: Sequence[dict[str, Any]] | None = None) -> str:
        return self.inner.render_chat(messages, add_generation_prompt, tools)

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.inner.decode(token_ids)

    def generate(
        self, prompt_token_ids: list[int], params: GenerationParams, request_id: str
    ) -> AsyncIterator[GenerationChunk]:
        return self.inner.generate(prompt_token_ids, params, request_id)

    async def check_health(self) -> None:
        await self.inner.check_health()

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


class AdapterView(DelegatingEngine):
    """A served LoRA adapter seen as an engine of its own: the base engine's, generating through
    the adapter and answering to the adapter's name, so serving code needs no adapter logic. A view
    owns nothing: its stats are none and shutting it down leaves the base engine running."""

    def __init__(self, base: Engine, adapter: str):
        super().__init__(base)
        self.model_id = adapter
        self.aliases = ()
        self.adapters = ()

    def generate(
        self, prompt_token_ids: list[int], params: GenerationParams, request_id: str
    ) -> AsyncIterator[GenerationChunk]:
        return self.inner.generate(prompt_token_ids, replace(params, adapter=self.model_id), request_id)

    def stats(self) -> dict[str, Any]:
        return {}

    async def shutdown(self) -> None:
        return None
