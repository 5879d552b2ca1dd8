"""Chat and text completions: OpenAI requests in, engine calls, OpenAI responses out."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from inference.engine import Engine, GenerationChunk, GenerationParams, TokenLogprob
from inference.generation import GenerationResult, output_budget
from server.errors import APIError
from server.generation import collect, ensure_model, guarded_stream, sse, started
from server.metrics import GenerationTimer
from server.openai.protocol import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatLogprobs,
    ChatTokenLogprob,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
    TopLogprob,
    Usage,
)

CHAT_ROUTE = "/v1/chat/completions"
COMPLETIONS_ROUTE = "/v1/completions"
ROLE_FOR_TEMPLATE = {"developer": "system"}


def _chat_logprobs(items: list[TokenLogprob] | None, top: int) -> ChatLogprobs | None:
    if items is None:
        return None
    return ChatLogprobs(content=[
        ChatTokenLogprob(
            token=t.token, logprob=t.logprob, bytes=list(t.token.encode()),
            top_logprobs=[TopLogprob(token=tok, logprob=lp, bytes=list(tok.encode())) for tok, lp in t.top[:top]],
        )
        for t in items
    ])


def _completion_logprobs(items: list[TokenLogprob] | None, offset: int) -> CompletionLogprobs | None:
    if items is None:
        return None
    out = CompletionLogprobs()
    for t in items:
        out.tokens.append(t.token)
        out.token_logprobs.append(t.logprob)
        out.top_logprobs.append(dict(t.top))
        out.text_offset.append(offset)
        offset += len(t.token)
    return out


def _usage(result: GenerationResult) -> Usage:
    return Usage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        total_tokens=result.prompt_tokens + result.completion_tokens,
    )


class OpenAIServing:
    def __init__(self, engine: Engine):
        self.engine = engine

    # ---- chat -------------------------------------------------------------------------

    def prepare_chat(self, req: ChatCompletionRequest) -> tuple[list[int], GenerationParams]:
        ensure_model(self.engine, req.model)
        messages = [{"role": ROLE_FOR_TEMPLATE.get(m.role, m.role), "content": m.text()} for m in req.messages]
        prompt_ids = self.engine.encode(self.engine.render_chat(messages))
        param = "max_completion_tokens" if req.max_completion_tokens else "max_tokens"
        max_tokens = output_budget(self.engine, len(prompt_ids), req.token_limit(), param)
        structured: dict = {}
        if req.response_format and req.response_format.type == "json_schema":
            structured["json_schema"] = req.response_format.json_schema.schema_
        elif req.response_format and req.response_format.type == "json_object":
            structured["json_object"] = True
        logprobs = (req.top_logprobs or 0) if req.logprobs else None
        return prompt_ids, req.generation_params(max_tokens, n=req.n, logprobs=logprobs, **structured)

    async def chat(self, req: ChatCompletionRequest, request_id: str) -> ChatCompletionResponse:
        prompt_ids, params = self.prepare_chat(req)
        result = await collect(self.engine, prompt_ids, params, request_id, CHAT_ROUTE)
        top = req.top_logprobs or 0
        choices = [
            ChatChoice(
                index=i,
                message=AssistantMessage(content=c.text),
                logprobs=_chat_logprobs(c.logprobs, top),
                finish_reason=c.finish_reason,
            )
            for i, c in sorted(result.choices.items())
        ]
        return ChatCompletionResponse(id=request_id, model=self.engine.model_id, choices=choices, usage=_usage(result))

    async def chat_stream(self, req: ChatCompletionRequest, request_id: str) -> AsyncIterator[str]:
        prompt_ids, params = self.prepare_chat(req)  # errors here, and the engine's own checks, are still 4xx
        chunks = await started(self.engine.generate(prompt_ids, params, request_id))
        return guarded_stream(self._chat_events(req, prompt_ids, chunks, request_id), CHAT_ROUTE)

    async def _chat_events(
        self, req: ChatCompletionRequest, prompt_ids: list[int], chunks: AsyncIterator[GenerationChunk],
        request_id: str,
    ) -> AsyncIterator[str]:
        created = int(time.time())
        base = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": self.engine.model_id}
        for index in range(req.n):
            yield sse({**base, "choices": [{"index": index, "delta": {"role": "assistant", "content": ""}}]})
        timer = GenerationTimer(CHAT_ROUTE)
        result = GenerationResult(prompt_tokens=len(prompt_ids))
        top = req.top_logprobs or 0
        async for chunk in chunks:
            timer.tokens(result.add(chunk))
            choices = []
            for delta in chunk.choices:
                choice: dict = {"index": delta.index, "delta": {"content": delta.text}}
                if delta.logprobs is not None:
                    choice["logprobs"] = _chat_logprobs(delta.logprobs, top).model_dump()
                if delta.finish_reason is not None:
                    choice["finish_reason"] = delta.finish_reason
                choices.append(choice)
            if choices:
                yield sse({**base, "choices": choices})
        timer.finish(result.prompt_tokens, result.completion_tokens)
        if req.stream_options and req.stream_options.include_usage:
            yield sse({**base, "choices": [], "usage": _usage(result).model_dump()})
        yield sse("[DONE]")

    # ---- completions ------------------------------------------------------------------

    def prepare_completion(self, req: CompletionRequest) -> tuple[list[int], GenerationParams]:
        ensure_model(self.engine, req.model)
        prompt_ids = self.engine.encode(req.prompt) if isinstance(req.prompt, str) else list(req.prompt)
        if not prompt_ids:
            raise APIError(400, "the prompt is empty; give at least one token", param="prompt", code="invalid_value")
        room = self.engine.max_model_len - len(prompt_ids)
        requested = req.max_tokens if req.max_tokens is not None else max(min(16, room), 1)  # OpenAI's default: 16
        max_tokens = output_budget(self.engine, len(prompt_ids), requested, "max_tokens", prompt_param="prompt")
        return prompt_ids, req.generation_params(max_tokens, n=req.n, logprobs=req.logprobs)

    async def completion(self, req: CompletionRequest, request_id: str) -> CompletionResponse:
        prompt_ids, params = self.prepare_completion(req)
        result = await collect(self.engine, prompt_ids, params, request_id, COMPLETIONS_ROUTE)
        choices = [
            CompletionChoice(
                index=i, text=c.text, logprobs=_completion_logprobs(c.logprobs, 0), finish_reason=c.finish_reason
            )
            for i, c in sorted(result.choices.items())
        ]
        return CompletionResponse(id=request_id, model=self.engine.model_id, choices=choices, usage=_usage(result))

    async def completion_stream(self, req: CompletionRequest, request_id: str) -> AsyncIterator[str]:
        prompt_ids, params = self.prepare_completion(req)
        chunks = await started(self.engine.generate(prompt_ids, params, request_id))
        return guarded_stream(self._completion_events(req, prompt_ids, chunks, request_id), COMPLETIONS_ROUTE)

    async def _completion_events(
        self, req: CompletionRequest, prompt_ids: list[int], chunks: AsyncIterator[GenerationChunk], request_id: str
    ) -> AsyncIterator[str]:
        base = {"id": request_id, "object": "text_completion", "created": int(time.time()), "model": self.engine.model_id}
        timer = GenerationTimer(COMPLETIONS_ROUTE)
        result = GenerationResult(prompt_tokens=len(prompt_ids))
        async for chunk in chunks:
            offsets = {i: len(c.text) for i, c in result.choices.items()}
            timer.tokens(result.add(chunk))
            choices = []
            for d in chunk.choices:
                logprobs = _completion_logprobs(d.logprobs, offsets.get(d.index, 0))
                choices.append({"index": d.index, "text": d.text, "finish_reason": d.finish_reason,
                                "logprobs": logprobs.model_dump() if logprobs else None})
            if choices:
                yield sse({**base, "choices": choices})
        timer.finish(result.prompt_tokens, result.completion_tokens)
        if req.stream_options and req.stream_options.include_usage:
            yield sse({**base, "choices": [], "usage": _usage(result).model_dump()})
        yield sse("[DONE]")


def new_request_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"
