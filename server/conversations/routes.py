"""Conversation routes: thin wrappers that hand requests to `ConversationServing`."""

from __future__ import annotations

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse

from server.conversations.protocol import (
    AssistantReply,
    Conversation,
    ConversationDeleted,
    CreateConversationRequest,
    PostMessageRequest,
)
from server.conversations.quotas import Quotas
from server.conversations.serving import ROUTE, ConversationServing
from server.generation import cancel_on_disconnect
from server.limits import GENERATES
from server.state import ServerState
from server.store import Store
from server.tenancy import principal_of

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _serving(request: Request, *, engine: bool = False) -> ConversationServing:
    state = ServerState.of(request)
    quotas = Quotas.from_settings(state.settings)
    if engine:
        ready = state.ready_engine()
        return ConversationServing(Store.of(request), ready.model_id, principal_of(request), ready, quotas)
    return ConversationServing(Store.of(request), state.served_name, principal_of(request), quotas=quotas)


@router.post("/v1/conversations", response_model=Conversation)
async def create_conversation(request: Request, body: CreateConversationRequest | None = Body(None)):
    return await _serving(request).create(body or CreateConversationRequest())


@router.post(ROUTE, response_model=AssistantReply, openapi_extra=GENERATES)
async def post_message(conversation_id: str, body: PostMessageRequest, request: Request):
    serving = _serving(request, engine=True)
    turn = await serving.prepare(conversation_id, body)
    if body.stream:
        events = await cancel_on_disconnect(serving.stream(turn), request.receive, ROUTE)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await cancel_on_disconnect(serving.reply(turn), request.receive, ROUTE)


@router.get("/v1/conversations/{conversation_id}", response_model=Conversation)
async def get_conversation(conversation_id: str, request: Request):
    return await _serving(request).get(conversation_id)


@router.delete("/v1/conversations/{conversation_id}", response_model=ConversationDeleted)
async def delete_conversation(conversation_id: str, request: Request):
    return await _serving(request).delete(conversation_id)
