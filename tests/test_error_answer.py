"""DashScope's answers that are no event stream made into the client's error
(proxy/core/error_answer.py), the one mapping both the proxy and `logs replay` use."""

from __future__ import annotations

import pytest

from proxy.core.error_answer import ErrorAnswer, answered, error_of, is_event_stream
from proxy.core.errors import UpstreamError, UpstreamRedirect


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            ErrorAnswer(401, "application/json", b'{"code":"InvalidApiKey","message":"No."}'),
            (401, "InvalidApiKey", "No."),
        ),
        (  # a gateway's event-stream body: the frame's own status counts
            ErrorAnswer(
                429,
                "text/event-stream;charset=UTF-8",
                b'event:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling","message":"Wait."}\n\n',
            ),
            (429, "Throttling", "Wait."),
        ),
        (  # an event-stream body without a frame: read as the body it is
            ErrorAnswer(503, "text/event-stream", b""),
            (503, "upstream_error", "upstream error"),
        ),
        (ErrorAnswer(500, "text/plain", b"  busy  "), (500, "upstream_error", "busy")),
        (  # DashScope's JSON error on a 200: the status its code implies
            ErrorAnswer(200, "application/json", b'{"code":"InvalidParameter","message":"bad"}'),
            (400, "InvalidParameter", "bad"),
        ),
    ],
)
def test_dashscopes_error_becomes_the_clients_error(
    answer: ErrorAnswer, expected: tuple[int, str, str]
) -> None:
    error = error_of(answer)
    assert isinstance(error, UpstreamError)
    assert (error.status, error.code, error.message) == expected


def test_a_redirect_is_the_proxys_502_naming_where_it_points_and_what_to_fix() -> None:
    error = error_of(ErrorAnswer(302, "text/html", b"", "https://elsewhere.test/" + "x" * 500))
    assert isinstance(error, UpstreamRedirect)
    assert (error.status, error.code, error.retryable) == (502, "upstream_redirect", False)
    assert "302" in error.message
    assert "base_url" in error.message
    assert "https://elsewhere.test/" + "x" * 177 + ";" in error.message  # cut at 200
    nowhere = error_of(ErrorAnswer(301, "", b""))
    assert "redirecting to nowhere" in nowhere.message


@pytest.mark.parametrize(
    ("content_type", "body", "named"),
    [
        ("text/html; charset=utf-8", b"<html>data: {}</html>", "text/html; charset=utf-8"),
        ("application/json", b'{"output": {}}', "application/json"),  # JSON, but no error
        ("", b"", "no content type"),
    ],
)
def test_a_2xx_that_is_no_event_stream_is_a_502_saying_what_came(
    content_type: str, body: bytes, named: str
) -> None:
    error = error_of(ErrorAnswer(200, content_type, body))
    assert not isinstance(error, UpstreamError)  # the proxy's code, not DashScope's
    assert (error.status, error.code) == (502, "upstream_not_an_event_stream")
    assert f"200 with {named} instead of an event stream" in error.message


def test_only_a_2xx_event_stream_is_the_stream_asked_for() -> None:
    assert is_event_stream(200, "text/event-stream;charset=UTF-8")
    assert not is_event_stream(200, "application/json")
    assert not is_event_stream(400, "text/event-stream")


def test_the_raised_error_keeps_its_answer_and_the_heads_request_id() -> None:
    answer = ErrorAnswer(429, "application/json", b'{"code":"Throttling","message":"Wait."}')
    error = answered(answer, request_id="from-the-head", retry_after=2.0)
    assert (error.answer, error.request_id, error.retry_after) == (answer, "from-the-head", 2.0)
    masked = error.masked(str.upper)
    assert (masked.answer, masked.message) == (answer, "WAIT.")
    own = b'{"code":"Throttling","message":"Wait.","request_id":"from-the-body"}'
    assert answered(ErrorAnswer(429, "application/json", own), request_id="x").request_id == (
        "from-the-body"
    )


def test_the_head_adds_nothing_to_the_proxys_own_502s() -> None:
    redirect = ErrorAnswer(302, "", b"", "https://elsewhere.test/")
    error = answered(redirect, request_id="from-the-head", retry_after=2.0)
    assert (error.answer, error.request_id, error.retry_after) == (redirect, None, None)
