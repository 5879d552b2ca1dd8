"""OpenAI-compatible routes, and vLLM's ``/tokenize`` and ``/detokenize``: thin wrappers that
hand requests to `OpenAIServing`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.generation import cancel_on_disconnect, ensure_model
from server.limits import GENERATES
from server.openai.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionRequest,
    CompletionResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    ModelCard,
    ModelList,
    TokenizeRequest,
    TokenizeResponse,
)
from server.openai.serving import CHAT_ROUTE, COMPLETIONS_ROUTE, OpenAIServing, new_request_id
from server.state import ServerState

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _serving(request: Request, model: str | None) -> OpenAIServing:
    state = ServerState.of(request)
    return OpenAIServing(state.ready_engine(model), state.tool_calling)


@router.post(CHAT_ROUTE, response_model=ChatCompletionResponse, openapi_extra=GENERATES)
async def chat_completions(body: ChatCompletionRequest, request: Request):
    serving = _serving(request, body.model)
    request_id = new_request_id("chatcmpl")
    if body.stream:
        events = await cancel_on_disconnect(serving.chat_stream(body, request_id), request.receive, CHAT_ROUTE)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await cancel_on_disconnect(serving.chat(body, request_id), request.receive, CHAT_ROUTE)


@router.post(COMPLETIONS_ROUTE, response_model=CompletionResponse, openapi_extra=GENERATES)
async def completions(body: CompletionRequest, request: Request):
    serving = _serving(request, body.model)
    request_id = new_request_id("cmpl")
    if body.stream:
        events = await cancel_on_disconnect(serving.completion_stream(body, request_id), request.receive,
                                            COMPLETIONS_ROUTE)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await cancel_on_disconnect(serving.completion(body, request_id), request.receive, COMPLETIONS_ROUTE)


def _cards(request: Request) -> list[ModelCard]:
    """The served names, then each LoRA adapter with the model it sits on as its parent (as vLLM lists them)."""
    state = ServerState.of(request)
    engine = state.ready_engine()
    adapter_paths = {m.name: m.path for m in state.settings.lora_modules}
    cards = [ModelCard(id=name, created=state.started_at, root=str(state.model_path),
                       max_model_len=engine.max_model_len) for name in engine.served_names]
    cards += [ModelCard(id=name, created=state.started_at, root=str(adapter_paths.get(name, name)),
                        parent=engine.model_id, max_model_len=engine.max_model_len) for name in engine.adapters]
    return cards


@router.get("/v1/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    return ModelList(data=_cards(request))


@router.get("/v1/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, request: Request) -> ModelCard:
    card = next((c for c in _cards(request) if c.id == model_id), None)
    if card is None:
        ensure_model(ServerState.of(request).ready_engine(), model_id)  # the 404
    return card


@router.post("/tokenize", response_model=TokenizeResponse)
async def tokenize(body: TokenizeRequest, request: Request) -> TokenizeResponse:
    return _serving(request, body.model).tokenize(body)


@router.post("/detokenize", response_model=DetokenizeResponse)
async def detokenize(body: DetokenizeRequest, request: Request) -> DetokenizeResponse:
    return _serving(request, body.model).detokenize(body)
