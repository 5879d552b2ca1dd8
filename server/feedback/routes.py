"""Feedback route: a thin wrapper around `FeedbackServing`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.feedback.protocol import FeedbackCreated, FeedbackRequest
from server.feedback.serving import FeedbackServing
from server.store import Store
from server.tenancy import principal_of

router = APIRouter()


@router.post("/v1/feedback", response_model=FeedbackCreated)
async def submit_feedback(body: FeedbackRequest, request: Request):
    return await FeedbackServing(Store.of(request), principal_of(request)).submit(body)
