"""DashScope's non-2xx answers made into the client's error (proxy/core/error_answer.py), the
one function both the proxy and `logs replay` use."""

from __future__ import annotations

import pytest

from proxy.core.error_answer import AnsweredError, ErrorAnswer, error_of


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
    ],
)
def test_an_answer_becomes_the_clients_error(
    answer: ErrorAnswer, expected: tuple[int, str, str]
) -> None:
    error = error_of(answer)
    assert (error.status, error.code, error.message) == expected


def test_the_answered_error_keeps_its_answer_and_the_heads_request_id() -> None:
    answer = ErrorAnswer(429, "application/json", b'{"code":"Throttling","message":"Wait."}')
    error = AnsweredError(answer, request_id="from-the-head", retry_after=2.0)
    assert (error.answer, error.request_id, error.retry_after) == (answer, "from-the-head", 2.0)
    masked = error.masked(str.upper)
    assert isinstance(masked, AnsweredError)
    assert (masked.answer, masked.message) == (answer, "WAIT.")
