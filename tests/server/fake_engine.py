"""A deterministic in-memory Engine for unit tests of the serving code.

Each choice "generates" a scripted reply word by word; stop strings, max_tokens and
JSON modes are honoured the way vLLM honours them, so the serving code sees realistic
chunks without loading a model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from inference.engine import (
    ChoiceDelta,
    Engine,
    EngineRequestError,
    EngineUnavailableError,
    GenerationChunk,
    GenerationParams,
    TokenLogprob,
)


VOCAB_SIZE = 1000


class FakeEngine(Engine):
    """Token ids are word lengths: ``encode("ab cde") == [2, 3]``, and ``decode([2, 3]) == "xx xxx"``."""

    def __init__(self, reply: str = "Hello there friend", max_model_len: int = 64, model_id: str = "fake-model"):
        self.reply = reply
        self.queued_replies: list[str] = []
        """Replies for the next calls, in order; `reply` once they run out."""
        self.max_model_len = max_model_len
        self.model_id = model_id
        self.calls: list[tuple[list[int], GenerationParams]] = []
        self.aborted: list[str] = []
        self.healthy = True
        self.fail_with: Exception | None = None
        self.fail_after_chunks = 0
        """With `fail_with`: chunks sent before it is raised (0: raised on submission, as vLLM's checks are)."""
        self.delay = 0.0

    def render_chat(self, messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True,
                    tools: Sequence[dict[str, Any]] | None = None) -> str:
        """``<role>content`` per message (an assistant's tool calls and a tool result's call id as JSON after
        it), the tools as JSON first; the generation prompt ``<assistant>``."""
        prompt = "<assistant>" if add_generation_prompt else ""
        extras = ("tool_calls", "tool_call_id")
        rendered = "".join(f"<{m['role']}>{m['content']}"
                           + "".join(f" {json.dumps(m[key])}" for key in extras if key in m) for m in messages)
        return (f"<tools>{json.dumps(list(tools))} " if tools else "") + rendered + prompt

    def encode(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]  # one "token" per word

    def decode(self, token_ids: Sequence[int]) -> str:
        unknown = [t for t in token_ids if not 0 <= t < VOCAB_SIZE]
        if unknown:
            raise EngineRequestError(f"token ids {unknown} are outside the vocabulary of {VOCAB_SIZE} tokens")
        return " ".join("x" * t for t in token_ids)

    def _prompt_logprobs(self, prompt_token_ids: list[int], top_n: int) -> list[TokenLogprob]:
        """The first token has none; token k's logprob is -k/10, its alternatives "alt0".. at -1, -2.."""
        tokens = [(" " if k else "") + self.decode([t]) for k, t in enumerate(prompt_token_ids)]
        top = tuple((f"alt{j}", -1.0 - j) for j in range(top_n))
        return [TokenLogprob(tokens[0], None)] + [TokenLogprob(tok, -k / 10, top) for k, tok in enumerate(tokens) if k]

    def _words(self, reply: str, index: int) -> list[str]:
        words = reply.split(" ")
        return [f"{w}{index}" if index else w for w in words]

    async def generate(
        self, prompt_token_ids: list[int], params: GenerationParams, request_id: str
    ) -> AsyncIterator[GenerationChunk]:
        self.calls.append((prompt_token_ids, params))
        if self.fail_with is not None and not self.fail_after_chunks:
            raise self.fail_with
        # vLLM's checks on submission
        if any(not 0 <= token < VOCAB_SIZE for token in prompt_token_ids):
            raise EngineRequestError(f"the prompt has token ids outside the vocabulary of {VOCAB_SIZE}", "prompt")
        if any(not 0 <= token < VOCAB_SIZE for token in params.logit_bias or ()):
            raise EngineRequestError(f"logit_bias has token ids outside the vocabulary of {VOCAB_SIZE}", "logit_bias")
        reply = self.queued_replies.pop(0) if self.queued_replies else self.reply
        texts = {i: "" for i in range(params.n)}
        done: set[int] = set()
        step = 0
        prompt_logprobs = (self._prompt_logprobs(prompt_token_ids, params.prompt_logprobs)
                           if params.prompt_logprobs is not None else None)
        try:
            while len(done) < params.n:
                await asyncio.sleep(self.delay)
                deltas = []
                for i in range(params.n):
                    if i in done:
                        continue
                    words = self._words(reply, i)
                    piece = (" " if step else "") + words[step] if step < len(words) else ""
                    texts[i] += piece
                    finish = None
                    stop_hit = next((s for s in params.stop if s in texts[i]), None)
                    if stop_hit:
                        piece = piece[: len(piece) - (len(texts[i]) - texts[i].index(stop_hit))]
                        finish = "stop"
                    elif step + 1 >= params.max_tokens:
                        finish = "length"
                    elif step + 1 >= len(words):
                        finish = "stop"
                    logprobs = None
                    if params.logprobs is not None:
                        top = tuple((f"alt{k}", -1.0 - k) for k in range(params.logprobs))
                        logprobs = [TokenLogprob(piece, -0.5, top)]
                    deltas.append(ChoiceDelta(i, piece, 1, logprobs, finish))
                    if finish:
                        done.add(i)
                step += 1
                if self.fail_with is not None and step > self.fail_after_chunks:
                    raise self.fail_with
                yield GenerationChunk(len(prompt_token_ids), deltas, len(done) == params.n,
                                      prompt_logprobs if step == 1 else None)
        except (asyncio.CancelledError, GeneratorExit):
            self.aborted.append(request_id)
            raise

    async def check_health(self) -> None:
        if not self.healthy:
            raise EngineUnavailableError("fake engine is dead")
