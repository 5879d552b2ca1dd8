"""Canned server answers and a scripted `httpx.MockTransport` for the SDK's unit tests."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from icegrt_client import NotFoundError

BASE_URL = "http://icegrt.test"

# `client.openai` needs the SDK's optional `openai` extra; the project's environment has it, the SDK's
# clean venv (test_sdk_alone.py) does not.
needs_openai = pytest.mark.skipif(importlib.util.find_spec("openai") is None,
                                  reason="the openai extra is not installed (pip install './clients[openai]')")

# Tests of how the project uses the SDK (`icegrt ads`): skipped where the SDK is installed alone, which
# test_sdk_alone.py checks by torch's absence (the project's own metadata may lie in the checkout).
needs_the_project = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                       reason="needs the icegrt project and its dependencies, not only the SDK")

AD = {"headline": "Miracle drops", "body": "Our drops cure diabetes in 30 days.", "call_to_action": "Buy now"}

# Exactly the shape of DESIGN.md section 3 for POST /v1/ads/compliance.
COMPLIANCE = {
    "id": "adchk-1",
    "object": "ad.compliance",
    "created": 1764200000,
    "model": "SmolLM2-135M-Instruct",
    "compliant": False,
    "violations": [{
        "policy_id": "health_claims",
        "policy": "Unsubstantiated health or cure claims",
        "severity": "high",
        "evidence": [{"text": "cure diabetes", "start": 10, "end": 23}],
        "explanation": "Claims to cure a disease.",
    }],
    "analysis": "Not compliant: 1 policy violation.",
    "suggested_revision": {
        "headline": "Herbal drops",
        "body": "Our drops are part of a balanced routine.",
        "call_to_action": "Learn more",
        "changes": [{"before": "cure diabetes in 30 days", "after": "are part of a balanced routine",
                     "reason": "no cure claims"}],
    },
    "revision_compliant": True,
    "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020},
}

POLICIES = {"object": "list", "data": [{
    "id": "health_claims", "name": "Unsubstantiated health or cure claims", "description": "No cure claims.",
    "severity": "high", "violating_examples": ["Cures diabetes.", "Reverses ageing."],
    "compliant_examples": ["Supports wellbeing.", "May help sleep."], "detector": True,
}]}


def compliance(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(COMPLIANCE), **changes}


def envelope(status: int, message: str, *, param: str | None = None, code: str | None = None,
             type: str = "invalid_request_error", headers: dict[str, str] | None = None) -> httpx.Response:  # noqa: A002
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return httpx.Response(status, json=body, headers=headers)


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A mock server that answers each request with the next scripted reply (a response, an
    exception to raise, or a function of the request) and records the requests."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) else reply

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def sse(*events: Any) -> httpx.Response:
    text = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return httpx.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})


@contextmanager
def endpoint(what: str) -> Iterator[None]:
    """Skip the test when the server answers 404 "no such route": that endpoint is not merged yet."""
    try:
        yield
    except NotFoundError as exc:
        if exc.message == "no such route":
            pytest.skip(f"{what} is not served yet (404 no such route)")
        raise
