"""Text-to-table route (thin)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from server.generation import cancel_on_disconnect
from server.limits import GENERATES
from server.state import ServerState
from server.tables import serving
from server.tables.protocol import TextToTableRequest, TextToTableResponse

router = APIRouter()


@router.post(serving.ROUTE, response_model=TextToTableResponse, openapi_extra=GENERATES)
async def text_to_table(body: TextToTableRequest, request: Request):
    engine = ServerState.of(request).ready_engine(body.model)
    request_id = f"t2t-{uuid.uuid4().hex}"
    return await cancel_on_disconnect(serving.extract(engine, body, request_id), request.receive, serving.ROUTE)
