"""Error mapping: status -> exception class, with the envelope's fields and the request id."""

from __future__ import annotations

import httpx
import pytest

from icegrt_client import (AuthenticationError, BadRequestError, IceGrtClient, IceGrtError, NotFoundError,
                           RateLimitError, ServerError)
from icegrt_client._calls import DeltaDecoder
from tests.clients.helpers import AD, BASE_URL, Script, envelope


@pytest.mark.parametrize(("status", "cls"), [
    (400, BadRequestError), (413, BadRequestError), (401, AuthenticationError), (404, NotFoundError),
    (429, RateLimitError), (500, ServerError), (503, ServerError), (502, ServerError), (403, IceGrtError),
    (409, IceGrtError),
])
def test_status_maps_to_exception_class(status, cls, sleeps):
    script = Script(envelope(status, f"status {status}", param="x", code="c", type="some_type",
                             headers={"X-Request-Id": "req-42"}))
    with pytest.raises(cls) as caught:
        IceGrtClient(BASE_URL, transport=script.transport(), max_retries=0).ads.check(AD)
    err = caught.value
    assert type(err) is cls
    assert (err.status, err.message, err.type, err.param, err.code) == (status, f"status {status}", "some_type",
                                                                        "x", "c")
    assert err.request_id == "req-42"
    assert str(err) == f"{status} some_type: status {status} (param=x, code=c)"
    assert err.to_dict() == {"message": f"status {status}", "type": "some_type", "param": "x", "code": "c",
                             "status": status}


def test_non_envelope_error_body_keeps_the_text():
    script = Script(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(ServerError) as caught:
        IceGrtClient(BASE_URL, transport=script.transport()).ads.check(AD)
    assert "Bad Gateway" in caught.value.message and caught.value.type is None


def test_route_not_found_is_not_found_error():
    script = Script(envelope(404, "no such route", type="not_found_error"))
    with pytest.raises(NotFoundError, match="no such route"):
        IceGrtClient(BASE_URL, transport=script.transport()).conversations.get("conv-1")


def test_error_event_mid_stream_raises_the_matching_class():
    decoder = DeltaDecoder()
    with pytest.raises(ServerError) as caught:
        decoder.feed('data: {"error":{"message":"engine died","type":"service_unavailable","param":null,'
                     '"code":"engine_unavailable"}}')
    assert caught.value.status == 503 and caught.value.code == "engine_unavailable"


@pytest.mark.parametrize("line", ["data: {not json", "data: [1, 2]", 'data: {"unexpected": true}'])
def test_unreadable_stream_events_are_sdk_errors(line):
    with pytest.raises(IceGrtError) as caught:
        DeltaDecoder().feed(line)
    assert caught.value.type == "invalid_response"
