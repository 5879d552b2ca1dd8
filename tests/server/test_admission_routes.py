"""Every POST route that runs the model is admission-controlled, and no other route is.

Each POST route is called once on a fake engine (an example body per route, below): a route
that made the engine generate must then be refused with 503 while the server is at its queue
cap, and a route that did not must not. A new POST route fails here until it has an example,
and a new generating route fails until it declares ``openapi_extra=server.limits.GENERATES``.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from server.app import ENDPOINT_FAMILIES
from server.limits import declares_generation
from tests.server.conftest import make_client, wait_ready
from tests.server.fake_engine import FakeEngine

HI = [{"role": "user", "content": "hi"}]
EXAMPLES = {
    "/v1/chat/completions": {"messages": HI, "max_tokens": 4},
    "/v1/completions": {"prompt": "hi", "max_tokens": 4},
    "/v1/ads/compliance": {"ad": {"body": "Buy our shoes today."}, "suggest": False, "mode": "hybrid"},
    "/v1/text-to-table": {"text": "Alice is 34.", "columns": ["name", "age"]},
    "/v1/conversations": {},
    "/v1/conversations/{conversation_id}/messages": {"content": "hi", "max_tokens": 4},
    "/v1/feedback": {"completion_id": "chatcmpl-unknown", "rating": 1},
    "/tokenize": {"prompt": "hi"},
    "/detokenize": {"tokens": [1, 2]},
}
POST_ROUTES = [route for router in ENDPOINT_FAMILIES for route in router.routes
               if isinstance(route, APIRoute) and "POST" in route.methods]


def test_every_post_route_has_an_example_body():
    missing = [route.path for route in POST_ROUTES if route.path not in EXAMPLES]
    assert not missing, f"add an example request body to EXAMPLES for {missing}"


@pytest.mark.parametrize("route", POST_ROUTES, ids=lambda route: route.path)
def test_a_route_is_admission_controlled_exactly_when_it_generates(route):
    engine = FakeEngine(max_model_len=4096)
    with make_client(engine, max_queued_requests=1) as client:
        wait_ready(client)
        path = route.path
        if "{conversation_id}" in path:
            conversation = client.post("/v1/conversations", json={}).json()["id"]
            path = path.replace("{conversation_id}", conversation)
        body = EXAMPLES[route.path]
        first = client.post(path, json=body)
        assert first.status_code < 500, first.text
        generated = bool(engine.calls)
        limiter = client.app.state.limiter
        limiter.in_flight = limiter.max_in_flight  # the server is at its queue cap
        try:
            refused = client.post(path, json=body).status_code == 503
        finally:
            limiter.in_flight = 0
    assert refused == generated, (
        f"POST {route.path} {'runs' if generated else 'does not run'} the model but is "
        f"{'not ' if not refused else ''}admission-controlled: declare openapi_extra=GENERATES on generating routes")
    assert declares_generation(route) == generated
