"""Ad-compliance routes (thin)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from server.ads import serving
from server.ads.protocol import AdComplianceRequest, AdComplianceResponse, PolicyList
from server.generation import cancel_on_disconnect
from server.limits import GENERATES
from server.state import ServerState

router = APIRouter()


@router.post(serving.ROUTE, response_model=AdComplianceResponse, openapi_extra=GENERATES)
async def ads_compliance(body: AdComplianceRequest, request: Request):
    state = ServerState.of(request)
    engine = state.ready_engine(body.model)
    request_id = f"adchk-{uuid.uuid4().hex}"
    work = serving.check(engine, body, request_id, default_mode=state.settings.ads_mode,
                         task_format=state.ad_task_format(body.model))
    return await cancel_on_disconnect(work, request.receive, serving.ROUTE)


@router.get("/v1/ads/policies", response_model=PolicyList)
async def ads_policies() -> PolicyList:
    return serving.policy_list()
