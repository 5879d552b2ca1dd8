"""The async client: same calls, retries and errors as the sync one, awaited."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from icegrt_client import AsyncIceGrtClient, BadRequestError, ComplianceResult, ConnectionError, ServerError
from tests.clients.helpers import AD, BASE_URL, POLICIES, Script, compliance, envelope, needs_openai, ok, sse
from tests.clients.test_client import REPLY, chunk


def run(coro):
    return asyncio.run(coro)


def client_for(script: Script, **kwargs) -> AsyncIceGrtClient:
    return AsyncIceGrtClient(BASE_URL, transport=script.transport(), **kwargs)


def test_check_and_policies():
    script = Script(ok(compliance()), ok(POLICIES))

    async def go():
        async with client_for(script, api_key="k") as client:
            return await client.ads.check(AD, policies=["health_claims"]), await client.ads.policies()

    result, policies = run(go())
    assert isinstance(result, ComplianceResult) and result.violations[0].policy_id == "health_claims"
    assert policies[0].id == "health_claims"
    assert script.bodies()[0] == {"ad": AD, "suggest": True, "policies": ["health_claims"]}
    assert script.requests[0].headers["authorization"] == "Bearer k"


def test_429_with_retry_after_then_200(sleeps):
    script = Script(envelope(429, "slow down", headers={"Retry-After": "4"}), ok(compliance()))
    assert run(client_for(script).ads.check(AD)).id == "adchk-1"
    assert sleeps == [4.0] and len(script.requests) == 2


def test_503_exhausted_and_400_not_retried(sleeps):
    busy = Script(envelope(503, "busy", type="service_unavailable"))
    with pytest.raises(ServerError):
        run(client_for(busy, max_retries=2).ads.check(AD))
    assert len(busy.requests) == 3 and len(sleeps) == 2
    bad = Script(envelope(400, "policies: unknown ad policy id", param="policies"))
    with pytest.raises(BadRequestError) as caught:
        run(client_for(bad).ads.check(AD, policies=["nope"]))
    assert caught.value.param == "policies" and len(bad.requests) == 1


def test_connection_error_on_post_is_not_retried(sleeps):
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(ConnectionError):
        run(client_for(script).tables.extract("text"))
    assert len(script.requests) == 1 and sleeps == []


def test_streamed_reply():
    script = Script(sse(chunk("Hello"), chunk(" there"), REPLY, "[DONE]"))

    async def go():
        async with client_for(script) as client:
            stream = await client.conversations.send("conv/1", "hi", stream=True, max_tokens=4)
            deltas = [d async for d in stream]
            return deltas, stream.reply

    deltas, reply = run(go())
    assert deltas == ["Hello", " there"] and reply.id == "msg-2"
    assert script.bodies()[0] == {"max_tokens": 4, "content": "hi", "stream": True}


@needs_openai
def test_openai_handle_is_async():
    import openai

    async def go():
        async with client_for(Script(ok({})), api_key="k", timeout=9) as client:
            return client.openai

    oai = run(go())
    assert isinstance(oai, openai.AsyncOpenAI) and oai.timeout == 9.0 and str(oai.base_url) == f"{BASE_URL}/v1/"
