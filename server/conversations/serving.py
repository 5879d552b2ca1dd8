"""Conversations: the history lives in the store, is trimmed to the context window for each
reply, and every finished exchange is appended to it.

What is stored, and when: a posted user message and the assistant's reply are stored together,
in one transaction, only after the reply has finished (finish_reason "stop" or "length"; a reply
cut by ``max_tokens`` is stored as such). A request that fails, whose client disconnects, or whose
generation the engine aborts stores nothing, so the history never holds a question without its
answer and a retry starts from the same state. A stream sends the stored reply as its last event
before ``[DONE]``: a client that saw ``[DONE]`` knows the exchange is stored.

Trimming: the prompt is the stored history plus the new message, cut by
`tasks.chat.trim_history` (system message and the most recent whole turns kept) to the context
window less the tokens reserved for the reply (``max_tokens``, or `DEFAULT_REPLY_RESERVE`, or a
quarter of the context if that is smaller). The store keeps every message; only the prompt is
trimmed. A new message that does not fit even alone (with the system message) is a 400 naming
``content``.

Concurrent posts to one conversation are not serialised: each reply is generated from the
history stored when its request arrived, and each exchange is appended as a pair when it finishes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from inference.engine import Engine, GenerationChunk, GenerationParams
from inference.generation import GenerationResult, output_budget
from server.conversations.protocol import (
    AssistantReply,
    Conversation,
    ConversationDeleted,
    ConversationMessage,
    CreateConversationRequest,
    PostMessageRequest,
    ReplyChunk,
    ReplyDelta,
)
from server.conversations.quotas import Quotas
from server.errors import RETRY_AFTER_SECONDS, APIError
from server.generation import collect, guarded_stream, sse, started
from server.metrics import GenerationTimer
from server.openai.protocol import Usage
from server.store import ConversationRecord, MessageRecord, Store, new_id, now
from server.tenancy import Principal
from tasks.chat.history import ContextTooLongError, trim_history

ROUTE = "/v1/conversations/{conversation_id}/messages"
DEFAULT_REPLY_RESERVE = 512
FINISHED = ("stop", "length")


@dataclass(frozen=True)
class Turn:
    """A posted message, ready to generate: its prompt and the id its reply will be stored under."""

    conversation_id: str
    user: MessageRecord
    reply_id: str
    prompt_ids: list[int]
    params: GenerationParams


def _message(record: MessageRecord) -> ConversationMessage:
    return ConversationMessage(id=record.id, role=record.role, content=record.content, created=record.created,
                               finish_reason=record.finish_reason)


def _conversation(record: ConversationRecord) -> Conversation:
    return Conversation(id=record.id, created=record.created, model=record.model, metadata=record.metadata,
                        messages=[_message(m) for m in record.messages])


def reply_reserve(engine: Engine, requested: int | None) -> int:
    """Tokens kept free for the reply when trimming the history."""
    if requested is not None:
        if requested >= engine.max_model_len:
            raise APIError(400, f"max_tokens={requested} leaves no room for a prompt in the context window of "
                           f"{engine.max_model_len} tokens", param="max_tokens", code="context_length_exceeded")
        return requested
    return max(1, min(DEFAULT_REPLY_RESERVE, engine.max_model_len // 4))


class ConversationServing:
    """One request's conversation work, done as `principal` (its tenant's conversations only)."""

    def __init__(self, store: Store, model: str, principal: Principal, engine: Engine | None = None,
                 quotas: Quotas = Quotas()):
        self.store = store
        self.model = model
        self.principal = principal
        self.engine = engine
        self.quotas = quotas

    async def create(self, req: CreateConversationRequest) -> Conversation:
        if req.model and req.model != self.model:
            raise APIError(404, f"model {req.model!r} does not exist; this server serves {self.model!r}",
                           param="model", code="model_not_found")
        self.quotas.check_system(req.system)
        record = await self.store.run(self.store.create_conversation, self.model, req.metadata, req.system,
                                      owner=self.principal.owner, max_conversations=self.quotas.max_conversations)
        return _conversation(record)

    async def get(self, conversation_id: str) -> Conversation:
        record = await self.store.run(self.store.get_conversation, conversation_id, principal=self.principal)
        return _conversation(record)

    async def delete(self, conversation_id: str) -> ConversationDeleted:
        await self.store.run(self.store.delete_conversation, conversation_id, principal=self.principal)
        return ConversationDeleted(id=conversation_id)

    # ---- replies ------------------------------------------------------------------------

    def _prompt(self, history: Sequence[dict[str, str]], reserve: int) -> list[int]:
        engine = self.engine

        def count(messages: list[dict[str, str]]) -> int:
            return len(engine.encode(engine.render_chat(messages)))

        try:
            kept = trim_history(history, count, engine.max_model_len - reserve)
        except ContextTooLongError as exc:
            raise APIError(400, str(exc), param="content", code="context_length_exceeded") from exc
        return engine.encode(engine.render_chat(kept))

    async def prepare(self, conversation_id: str, req: PostMessageRequest) -> Turn:
        """Everything that can fail with a 4xx before generation starts (so a stream fails before its 200)."""
        assert self.engine is not None, "replies need a ready engine"
        reserve = reply_reserve(self.engine, req.max_tokens)
        conversation = await self.store.run(self.store.get_conversation, conversation_id, principal=self.principal)
        await self.quotas.check_message(self.store, self.principal.owner, conversation, req.content)
        user = MessageRecord(new_id("msg"), conversation_id, "user", req.content, now())
        prompt_ids = self._prompt([m.chat() for m in (*conversation.messages, user)], reserve)
        max_tokens = output_budget(self.engine, len(prompt_ids), req.max_tokens, "max_tokens", prompt_param="content")
        return Turn(conversation_id, user, new_id("msg"), prompt_ids, req.generation_params(max_tokens, self.engine.sampling_defaults))

    async def _store_reply(self, turn: Turn, result: GenerationResult) -> AssistantReply:
        choice = result.choices.get(0)
        if choice is None or choice.finish_reason not in FINISHED:
            raise APIError(503, "the engine aborted the generation; nothing was stored, send the message again",
                           code="generation_aborted", retry_after=RETRY_AFTER_SECONDS)
        reply = MessageRecord(
            id=turn.reply_id, conversation_id=turn.conversation_id, role="assistant", content=choice.text,
            created=now(), model=self.engine.model_id, finish_reason=choice.finish_reason,
            prompt_tokens=result.prompt_tokens, completion_tokens=choice.num_tokens,
        )
        await self.store.run(self.store.append_messages, turn.conversation_id, [turn.user, reply],
                             principal=self.principal)
        usage = Usage(prompt_tokens=result.prompt_tokens, completion_tokens=choice.num_tokens,
                      total_tokens=result.prompt_tokens + choice.num_tokens)
        return AssistantReply(id=reply.id, conversation_id=reply.conversation_id, created=reply.created,
                              model=self.engine.model_id, content=reply.content, finish_reason=choice.finish_reason,
                              usage=usage)

    async def reply(self, turn: Turn) -> AssistantReply:
        result = await collect(self.engine, turn.prompt_ids, turn.params, turn.reply_id, ROUTE)
        return await self._store_reply(turn, result)

    async def stream(self, turn: Turn) -> AsyncIterator[str]:
        chunks = await started(self.engine.generate(turn.prompt_ids, turn.params, turn.reply_id))
        return guarded_stream(self._events(turn, chunks), ROUTE)

    async def _events(self, turn: Turn, chunks: AsyncIterator[GenerationChunk]) -> AsyncIterator[str]:
        created = int(time.time())
        timer = GenerationTimer(ROUTE)
        result = GenerationResult(prompt_tokens=len(turn.prompt_ids))
        async for chunk in chunks:
            timer.tokens(result.add(chunk))
            for delta in chunk.choices:
                if delta.text or delta.finish_reason:
                    yield sse(ReplyChunk(id=turn.reply_id, conversation_id=turn.conversation_id, created=created,
                                         model=self.engine.model_id, delta=ReplyDelta(content=delta.text),
                                         finish_reason=delta.finish_reason).model_dump())
        timer.finish(result.prompt_tokens, result.completion_tokens)
        reply = await self._store_reply(turn, result)
        yield sse(reply.model_dump())
        yield sse("[DONE]")
