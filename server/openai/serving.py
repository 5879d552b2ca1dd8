"""Chat and text completions, tokenize and detokenize: OpenAI (and vLLM) requests in, engine
calls, OpenAI responses out."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from inference.engine import Engine, EngineRequestError, GenerationChunk, GenerationParams, TokenLogprob
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
    ChatMessage,
    ChatTokenLogprob,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    TokenizeRequest,
    TokenizeResponse,
    TopLogprob,
    Usage,
)
from server.openai.streams import gather_all, merge, start_all
from server.openai.tools import ToolCalling, ToolCallRequest, template_tool_calls

CHAT_ROUTE = "/v1/chat/completions"
COMPLETIONS_ROUTE = "/v1/completions"
ROLE_FOR_TEMPLATE = {"developer": "system"}


@dataclass(frozen=True)
class PromptRequest:
    """One prompt of a text completion, ready for the engine."""

    token_ids: list[int]
    text: str | None
    """The prompt's text, for `echo` (None without echo)."""
    params: GenerationParams
    request_id: str


def _template_message(message: ChatMessage) -> dict[str, Any]:
    """`message` as vLLM hands it to the chat template: content as a string ("" for none), and the
    name, an assistant's tool calls and a tool result's call id when given."""
    out: dict[str, Any] = {"role": ROLE_FOR_TEMPLATE.get(message.role, message.role), "content": message.text()}
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = template_tool_calls(message.tool_calls)
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _template_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [_template_message(m) for m in messages]


def _named(param: str, exc: EngineRequestError) -> EngineRequestError:
    """`exc` naming `param` (the engine does not know which request field held what it refused)."""
    if exc.param is None:
        exc.param = param
    return exc


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
        out.top_logprobs.append(dict(t.top) if t.logprob is not None else None)
        out.text_offset.append(offset)
        offset += len(t.token)
    return out


def _echoed(
    req: CompletionRequest, prompt: PromptRequest, text: str, logprobs: list[TokenLogprob] | None,
    prompt_logprobs: list[TokenLogprob] | None, first: bool,
) -> tuple[str, list[TokenLogprob] | None]:
    """A choice's text and log probabilities with `echo` applied, as vLLM's server does: the prompt
    (and its tokens' log probabilities) before the first output; with ``max_tokens=0`` only the
    prompt (the one token generated to get there is not shown, though usage counts it)."""
    if not req.echo or (not first and req.max_tokens != 0):
        return text, logprobs
    shown = [] if req.max_tokens == 0 else logprobs or []
    echoed = [*(prompt_logprobs or []), *shown] if first else shown
    prefix = prompt.text if first else ""
    return prefix + ("" if req.max_tokens == 0 else text), echoed if logprobs is not None else None


def _usage(*results: GenerationResult) -> Usage:
    prompt_tokens = sum(r.prompt_tokens for r in results)
    completion_tokens = sum(r.completion_tokens for r in results)
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 total_tokens=prompt_tokens + completion_tokens)


@dataclass(frozen=True)
class ChatPlan:
    """A chat completion ready for the engine."""

    prompt_ids: list[int]
    params: GenerationParams
    tools: ToolCallRequest | None
    """How the reply is read for tool calls; None: plain text."""


class OpenAIServing:
    def __init__(self, engine: Engine, tools: ToolCalling | None = None):
        self.engine = engine
        self.tools = tools or ToolCalling()

    # ---- chat -------------------------------------------------------------------------

    def prepare_chat(self, req: ChatCompletionRequest) -> ChatPlan:
        ensure_model(self.engine, req.model)
        tools = self.tools.plan(req)
        rendered = self.engine.render_chat(_template_messages(req.messages), tools=self.tools.template_tools(req))
        prompt_ids = self.engine.encode(rendered)
        param = "max_completion_tokens" if req.max_completion_tokens else "max_tokens"
        defaults = self.engine.sampling_defaults
        requested = req.token_limit()
        if requested is None and "max_tokens" in defaults:  # the model's max_new_tokens, within the room left
            requested = max(1, min(defaults["max_tokens"], self.engine.max_model_len - len(prompt_ids)))
        max_tokens = output_budget(self.engine, len(prompt_ids), requested, param)
        structured: dict = {}
        if tools is not None:
            structured = tools.generation_fields()  # the tool calls' grammar, or the response_format's
        elif req.response_format and req.response_format.type == "json_schema":
            structured["json_schema"] = req.response_format.json_schema.schema_
        elif req.response_format and req.response_format.type == "json_object":
            structured["json_object"] = True
        logprobs = (req.top_logprobs or 0) if req.logprobs else None
        params = req.generation_params(max_tokens, defaults, n=req.n, logprobs=logprobs, logit_bias=req.logit_bias,
                                       **structured)
        return ChatPlan(prompt_ids, params, tools)

    async def chat(self, req: ChatCompletionRequest, request_id: str) -> ChatCompletionResponse:
        plan = self.prepare_chat(req)
        try:
            result = await collect(self.engine, plan.prompt_ids, plan.params, request_id, CHAT_ROUTE)
        except EngineRequestError as exc:
            if plan.tools is not None:
                plan.tools.blame_grammar_on_tools(exc)
            raise
        top = req.top_logprobs or 0
        choices = []
        for i, c in sorted(result.choices.items()):
            message, finish_reason = AssistantMessage(content=c.text), c.finish_reason
            if plan.tools is not None:
                message, finish_reason = plan.tools.message(c.text, c.token_ids, c.finish_reason, plan.prompt_ids)
            choices.append(ChatChoice(index=i, message=message, logprobs=_chat_logprobs(c.logprobs, top),
                                      finish_reason=finish_reason))
        return ChatCompletionResponse(id=request_id, model=self.engine.model_id, choices=choices, usage=_usage(result))

    async def chat_stream(self, req: ChatCompletionRequest, request_id: str) -> AsyncIterator[str]:
        plan = self.prepare_chat(req)  # errors here, and the engine's own checks, are still 4xx
        try:
            chunks = await started(self.engine.generate(plan.prompt_ids, plan.params, request_id))
        except EngineRequestError as exc:
            if plan.tools is not None:
                plan.tools.blame_grammar_on_tools(exc)
            raise
        return guarded_stream(self._chat_events(req, plan, chunks, request_id), CHAT_ROUTE)

    async def _chat_events(
        self, req: ChatCompletionRequest, plan: ChatPlan, chunks: AsyncIterator[GenerationChunk], request_id: str,
    ) -> AsyncIterator[str]:
        created = int(time.time())
        base = {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": self.engine.model_id}
        for index in range(req.n):
            yield sse({**base, "choices": [{"index": index, "delta": {"role": "assistant", "content": ""}}]})
        timer = GenerationTimer(CHAT_ROUTE)
        result = GenerationResult(prompt_tokens=len(plan.prompt_ids))
        top = req.top_logprobs or 0
        readers = [plan.tools.stream(plan.prompt_ids) for _ in range(req.n)] if plan.tools else None
        async for chunk in chunks:
            timer.tokens(result.add(chunk))
            choices = []
            for delta in chunk.choices:
                finish_reason = delta.finish_reason
                if readers is None:
                    message: dict | None = {"content": delta.text}
                else:  # vLLM's parser: content, or pieces of tool calls; nothing while it holds text back
                    reader = readers[delta.index]
                    message = reader.delta(delta.text, list(delta.token_ids), finish_reason is not None)
                    if message is None and finish_reason is None and delta.logprobs is None:
                        continue
                    if finish_reason is not None:
                        finish_reason = reader.finish_reason(finish_reason)
                choice: dict = {"index": delta.index, "delta": message or {}}
                if delta.logprobs is not None:
                    choice["logprobs"] = _chat_logprobs(delta.logprobs, top).model_dump()
                if finish_reason is not None:
                    choice["finish_reason"] = finish_reason
                choices.append(choice)
            if choices:
                yield sse({**base, "choices": choices})
        timer.finish(result.prompt_tokens, result.completion_tokens)
        if req.stream_options and req.stream_options.include_usage:
            yield sse({**base, "choices": [], "usage": _usage(result).model_dump()})
        yield sse("[DONE]")

    # ---- completions ------------------------------------------------------------------

    def prepare_completion(self, req: CompletionRequest, request_id: str) -> list[PromptRequest]:
        """One engine request per prompt; engine request ids get the prompt's index when there are several."""
        ensure_model(self.engine, req.model)
        prompts = req.prompts()
        return [self._prompt_request(req, prompt, request_id if len(prompts) == 1 else f"{request_id}-{i}")
                for i, prompt in enumerate(prompts)]

    def _prompt_request(self, req: CompletionRequest, prompt: str | list[int], request_id: str) -> PromptRequest:
        try:
            if isinstance(prompt, str):
                prompt_ids, text = self.engine.encode(prompt), prompt
            else:
                prompt_ids, text = list(prompt), self.engine.decode(prompt) if req.echo else None
        except EngineRequestError as exc:
            raise _named("prompt", exc) from exc
        if not prompt_ids:
            raise APIError(400, "the prompt is empty; give at least one token", param="prompt", code="invalid_value")
        room = self.engine.max_model_len - len(prompt_ids)
        if req.max_tokens == 0:  # echo only: vLLM generates one token and shows none
            requested = 1
        else:
            requested = req.max_tokens if req.max_tokens is not None else max(min(16, room), 1)  # OpenAI's default: 16
        max_tokens = output_budget(self.engine, len(prompt_ids), requested, "max_tokens", prompt_param="prompt")
        prompt_logprobs = req.logprobs if req.echo else None
        params = req.generation_params(max_tokens, self.engine.sampling_defaults, n=req.n, logprobs=req.logprobs,
                                       prompt_logprobs=prompt_logprobs, logit_bias=req.logit_bias)
        return PromptRequest(prompt_ids, text, params, request_id)

    async def completion(self, req: CompletionRequest, request_id: str) -> CompletionResponse:
        prompts = self.prepare_completion(req, request_id)
        results = await gather_all([collect(self.engine, p.token_ids, p.params, p.request_id, COMPLETIONS_ROUTE)
                                    for p in prompts])
        choices = []
        for number, (prompt, result) in enumerate(zip(prompts, results)):
            for i, c in sorted(result.choices.items()):
                text, logprobs = _echoed(req, prompt, c.text, c.logprobs, result.prompt_logprobs, first=True)
                choices.append(CompletionChoice(index=number * req.n + i, text=text,
                                                logprobs=_completion_logprobs(logprobs, 0),
                                                finish_reason=c.finish_reason))
        return CompletionResponse(id=request_id, model=self.engine.model_id, choices=choices, usage=_usage(*results))

    async def completion_stream(self, req: CompletionRequest, request_id: str) -> AsyncIterator[str]:
        prompts = self.prepare_completion(req, request_id)
        streams = await start_all([self.engine.generate(p.token_ids, p.params, p.request_id) for p in prompts])
        return guarded_stream(self._completion_events(req, prompts, streams, request_id), COMPLETIONS_ROUTE)

    async def _completion_events(
        self, req: CompletionRequest, prompts: list[PromptRequest], streams: list[AsyncIterator[GenerationChunk]],
        request_id: str,
    ) -> AsyncIterator[str]:
        base = {"id": request_id, "object": "text_completion", "created": int(time.time()), "model": self.engine.model_id}
        timers = [GenerationTimer(COMPLETIONS_ROUTE) for _ in prompts]
        results = [GenerationResult(prompt_tokens=len(p.token_ids)) for p in prompts]
        offsets: dict[int, int] = {}  # text offset of the next token of each choice seen so far, by its index
        async for number, chunk in merge(streams):
            result = results[number]
            timers[number].tokens(result.add(chunk))
            choices = []
            for d in chunk.choices:
                index = number * req.n + d.index
                text, items = _echoed(req, prompts[number], d.text, d.logprobs, result.prompt_logprobs,
                                      first=index not in offsets)
                logprobs = _completion_logprobs(items, offsets.get(index, 0))
                offsets[index] = (logprobs.text_offset[-1] + len(logprobs.tokens[-1]) if logprobs and logprobs.tokens
                                  else offsets.get(index, 0))
                choices.append({"index": index, "text": text, "finish_reason": d.finish_reason,
                                "logprobs": logprobs.model_dump() if logprobs else None})
            if choices:
                yield sse({**base, "choices": choices})
        for timer, result in zip(timers, results):
            timer.finish(result.prompt_tokens, result.completion_tokens)
        if req.stream_options and req.stream_options.include_usage:
            yield sse({**base, "choices": [], "usage": _usage(*results).model_dump()})
        yield sse("[DONE]")

    # ---- tokenize -----------------------------------------------------------------------

    def tokenize(self, req: TokenizeRequest) -> TokenizeResponse:
        """The token ids a completion of `prompt`, or a chat completion of `messages`, would be given."""
        ensure_model(self.engine, req.model)
        if req.messages is not None:
            tools = [tool.template_dict() for tool in req.tools] if req.tools else None
            text = self.engine.render_chat(_template_messages(req.messages), req.add_generation_prompt, tools)
        else:
            text = req.prompt
        try:
            tokens = self.engine.encode(text)
        except EngineRequestError as exc:
            raise _named("messages" if req.messages is not None else "prompt", exc) from exc
        return TokenizeResponse(count=len(tokens), max_model_len=self.engine.max_model_len, tokens=tokens)

    def detokenize(self, req: DetokenizeRequest) -> DetokenizeResponse:
        ensure_model(self.engine, req.model)
        try:
            return DetokenizeResponse(prompt=self.engine.decode(req.tokens))
        except EngineRequestError as exc:
            raise _named("tokens", exc) from exc


def new_request_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"
