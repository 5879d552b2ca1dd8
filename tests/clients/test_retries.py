"""Retries: 429/503 with Retry-After or jittered backoff, bounded by max_retries; no retry on 4xx."""

from __future__ import annotations

import httpx
import pytest

from icegrt_client import (BadRequestError, ConnectionError, IceGrtClient, RateLimitError, RequestTimeoutError,
                           ServerError)
from icegrt_client.config import RetryPolicy, parse_retry_after
from tests.clients.helpers import AD, BASE_URL, POLICIES, Script, compliance, envelope, ok


def client_for(script: Script, **kwargs) -> IceGrtClient:
    return IceGrtClient(BASE_URL, transport=script.transport(), **kwargs)


def test_429_with_retry_after_then_200(sleeps):
    script = Script(envelope(429, "slow down", type="rate_limit_error", headers={"Retry-After": "2"}),
                    ok(compliance()))
    result = client_for(script).ads.check(AD)
    assert result.id == "adchk-1"
    assert sleeps == [2.0]
    assert len(script.requests) == 2
    assert script.requests[0].content == script.requests[1].content  # the same POST, resent


def test_503_until_retries_run_out_raises_server_error(sleeps):
    script = Script(envelope(503, "engine loading", type="service_unavailable", code="engine_unavailable"))
    with pytest.raises(ServerError) as caught:
        client_for(script, max_retries=3).ads.check(AD)
    err = caught.value
    assert (err.status, err.code, err.message) == (503, "engine_unavailable", "engine loading")
    assert len(script.requests) == 4 and len(sleeps) == 3
    # Equal jitter: each wait lies in [step/2, step] with step = 0.5, 1, 2.
    for wait, step in zip(sleeps, (0.5, 1.0, 2.0)):
        assert step / 2 <= wait <= step


def test_429_exhausted_raises_rate_limit_error_with_retry_after(sleeps):
    script = Script(envelope(429, "over the limit", type="rate_limit_error", headers={"Retry-After": "1"}))
    with pytest.raises(RateLimitError) as caught:
        client_for(script, max_retries=1).ads.check(AD)
    assert caught.value.retry_after == "1"
    assert sleeps == [1.0]


def test_400_is_not_retried_and_carries_param(sleeps):
    script = Script(envelope(400, "ad.body: body must contain text", param="ad.body", code="invalid_value"),
                    ok(compliance()))
    with pytest.raises(BadRequestError) as caught:
        client_for(script).ads.check({"body": " "})
    assert caught.value.param == "ad.body" and caught.value.code == "invalid_value"
    assert caught.value.status == 400
    assert len(script.requests) == 1 and sleeps == []


def test_max_retries_zero_sends_once(sleeps):
    script = Script(envelope(503, "busy", type="service_unavailable"))
    with pytest.raises(ServerError):
        client_for(script, max_retries=0).ads.policies()
    assert len(script.requests) == 1 and sleeps == []


def test_500_is_not_retried(sleeps):
    script = Script(envelope(500, "internal server error", type="internal_error"))
    with pytest.raises(ServerError):
        client_for(script).ads.check(AD)
    assert len(script.requests) == 1


def test_connection_errors_are_retried_for_get_only(sleeps):
    script = Script(httpx.ConnectError("refused"), ok(POLICIES))
    assert client_for(script).ads.policies()[0].id == "health_claims"
    assert len(script.requests) == 2 and len(sleeps) == 1

    post = Script(httpx.ReadError("reset"), ok(compliance()))
    with pytest.raises(ConnectionError) as caught:
        client_for(post).ads.check(AD)  # the server may have acted: a POST is not resent
    assert BASE_URL in caught.value.message
    assert len(post.requests) == 1


def test_read_timeout_is_a_timeout_error(sleeps):
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeoutError) as caught:
        client_for(script, timeout=3).ads.check(AD)
    assert "3 s" in caught.value.message
    assert isinstance(caught.value, ConnectionError)


def test_connect_errors_exhaust_retries_on_get(sleeps):
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(ConnectionError) as caught:
        client_for(script, max_retries=2).ads.policies()
    assert not isinstance(caught.value, RequestTimeoutError)
    assert len(script.requests) == 3


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("0.5", 0.5), ("0", 0.0), (None, None),
                                                  ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("-1", None),
                                                  ("nan", None), ("inf", None)])
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_policy_decisions():
    policy = RetryPolicy(max_retries=2)
    assert policy.next_delay(0, "POST", 429, "7") == 7.0
    assert policy.next_delay(0, "POST", 503, "600") == policy.max_retry_after
    assert policy.next_delay(2, "POST", 503, "1") is None  # retries used up
    assert policy.next_delay(0, "POST", 400) is None
    assert policy.next_delay(0, "POST", 502) is None
    assert policy.next_delay(0, "POST", None) is None
    assert policy.next_delay(0, "GET", None) is not None
    assert policy.next_delay(0, "DELETE", None) is None
    big = RetryPolicy(max_retries=20)
    assert all(big.next_delay(n, "GET", 503) <= big.max_backoff for n in range(20))
