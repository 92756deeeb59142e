"""The fault matrix: a real proxy in front of a misbehaving DashScope (tests/faulty_upstream.py).

For every fault, what the client sees (status and code before the first byte, an in-band error
and [DONE] after it), how many upstream connections the proxy made (retries only before the
first byte), and that nothing waits longer than the tiny timeouts configured here.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import orjson
import pytest

from proxy.config import ServerSettings
from tests.conftest import CLIENT_KEY, SERVER_KEY, RunningProxy
from tests.contract import check_sse_bytes
from tests.faulty_upstream import (
    Close,
    FaultyUpstream,
    Pause,
    Refuse,
    Reset,
    Script,
    Send,
    Stall,
    answer,
    first_frames,
    frames,
    native_error,
    sse_head,
)

MODEL = "qwen-plus"
PLAIN = frames("plain_text")
NOT_JSON = b"id:2\nevent:result\n:HTTP_STATUS/200\ndata:this is not json\n\n"
CUT_IN_JSON = PLAIN[1][: len(PLAIN[1]) // 2]  # inside the data line's JSON
CUT_BEFORE_END = PLAIN[1][:-2]  # the whole data line, without the blank line ending it
FAST_RETRIES = {"retry_max_wait": 0.05}  # backoff of at most 50 ms


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    headers: httpx.Headers
    body: bytes
    seconds: float

    def error(self) -> dict[str, Any]:
        """The error the client got: the JSON body, or the in-band event of a 200 stream."""
        assert b"Traceback" not in self.body
        if self.status != 200:
            assert self.headers["content-type"] == "application/json"
            error: dict[str, Any] = httpx.Response(self.status, content=self.body).json()["error"]
            assert set(error) == {"message", "type", "param", "code"}
            return error
        in_band = check_sse_bytes(self.body).error  # also: [DONE] comes last, exactly once
        assert in_band is not None, "expected an in-band error"
        return in_band


def ask(url: str, *, stream: bool, timeout: float = 10) -> Outcome:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    started = time.monotonic()
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=timeout,
    )
    return Outcome(
        response.status_code, response.headers, response.content, time.monotonic() - started
    )


@pytest.fixture
def setup(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> Callable[..., tuple[FaultyUpstream, RunningProxy]]:
    """`setup(scripts, **upstream_settings)`: a faulty upstream and a proxy in front of it."""

    def start(scripts: tuple[Script, ...], **settings: Any) -> tuple[FaultyUpstream, RunningProxy]:
        upstream = faulty(*scripts)
        return upstream, proxy_app(upstream.url, **{**FAST_RETRIES, **settings})

    return start


@dataclass(frozen=True, slots=True)
class Fault:
    scripts: tuple[Script, ...]
    status: int  # before the first byte, and always without stream
    code: str
    attempts: int  # upstream connections made
    after_first_frame: bool = False  # a stream is then a 200 with an in-band error
    settings: dict[str, Any] = field(default_factory=dict)


HEAD = Send(sse_head())
FAULTS = {
    "refused": Fault(((Refuse(),),), 502, "upstream_unavailable", attempts=3),
    "reset_before_the_response": Fault(((Reset(),),), 502, "upstream_unavailable", attempts=3),
    "reset_before_the_first_frame": Fault(
        ((HEAD, Pause(0.05), Reset()),), 502, "upstream_unavailable", attempts=3
    ),
    "reset_after_the_first_frame": Fault(
        ((*first_frames(1), Reset()),), 502, "upstream_unavailable", 1, after_first_frame=True
    ),
    # Retried like any timeout before the first byte: three attempts of 0.3 s.
    "stall_before_the_first_frame": Fault(
        ((HEAD, Stall()),), 504, "upstream_timeout", 3, settings={"first_frame_timeout": 0.3}
    ),
    "stall_between_frames": Fault(
        ((*first_frames(1), Stall()),), 504, "upstream_timeout", 1, True, {"read_timeout": 0.3}
    ),
    "truncated_before_the_blank_line": Fault(
        ((HEAD, Send(PLAIN[0]), Send(CUT_BEFORE_END), Close()),), 502, "upstream_truncated", 1, True
    ),
    # The cut frame is not dispatched (as the SSE spec says), so this is no "protocol error".
    "truncated_inside_the_json": Fault(
        ((HEAD, Send(PLAIN[0]), Send(CUT_IN_JSON), Close()),), 502, "upstream_truncated", 1, True
    ),
    # A protocol error is a 502, so it is retried like one before the first byte.
    "non_json_first_frame": Fault(
        ((HEAD, Send(NOT_JSON), Close()),), 502, "upstream_protocol_error", attempts=3
    ),
    "non_json_later_frame": Fault(
        ((*first_frames(1), Send(NOT_JSON), Close()),), 502, "upstream_protocol_error", 1, True
    ),
    "total_timeout_mid_stream": Fault(
        (answer(gap=0.1),), 504, "total_timeout", 1, True, {"total_timeout": 0.35}
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
def test_fault_matrix(setup: Callable[..., Any], fault: Fault, stream: bool) -> None:
    upstream, proxy = setup(fault.scripts, retries=2, **fault.settings)
    outcome = ask(proxy.url, stream=stream)
    error = outcome.error()
    if stream and fault.after_first_frame:
        assert outcome.status == 200
    else:
        assert outcome.status == fault.status
        assert "x-should-retry" not in outcome.headers  # worth retrying later
    assert error["code"] == fault.code
    assert len(upstream.connections) == fault.attempts
    assert retries_total(proxy) == fault.attempts - 1
    assert outcome.seconds < 2
    assert proxy.active == 0


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_unknown_event_names_are_read_as_result_frames(
    setup: Callable[..., Any], stream: bool
) -> None:
    renamed = [f.replace(b"event:result", b"event:surprise") for f in PLAIN]
    ping = Send(b"event:ping\ndata:\n\n")  # no data at all: nothing to translate
    _, proxy = setup(((HEAD, ping, *map(Send, renamed), Close()),))
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 200
    reference = ask(setup((answer(),))[1].url, stream=stream)
    assert message_of(outcome, stream) == message_of(reference, stream)


def message_of(outcome: Outcome, stream: bool) -> dict[str, Any]:
    if stream:
        result = check_sse_bytes(outcome.body)
        assert result.error is None
        return result.message
    message: dict[str, Any] = orjson.loads(outcome.body)["choices"][0]["message"]
    return message


def retries_total(proxy: RunningProxy) -> float:
    text = httpx.get(f"{proxy.url}/metrics").text
    name = "dashscope_proxy_upstream_retries_total "
    line = next(x for x in text.splitlines() if x.startswith(name))
    return float(line.split()[-1])


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_a_500_then_success_is_retried_once(setup: Callable[..., Any], stream: bool) -> None:
    upstream, proxy = setup(((Send(native_error(500, "InternalError")),), answer()))
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 200
    assert b'"finish_reason":"stop"' in outcome.body
    assert len(upstream.connections) == 2
    assert retries_total(proxy) == 1


def test_retry_after_is_honoured(
    setup: Callable[..., Any], sdk_for: Callable[..., openai.OpenAI]
) -> None:
    busy = Send(native_error(429, "Throttling.RateQuota", retry_after="1"))
    upstream, proxy = setup(((busy,), answer()), retry_max_wait=5)
    started = time.monotonic()
    stream = sdk_for(proxy.url).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert [c.choices[0].finish_reason for c in stream if c.choices][-1] == "stop"
    assert 0.95 <= time.monotonic() - started < 2.5
    assert len(upstream.connections) == 2


def test_retry_after_above_the_cap_waits_only_retry_max_wait(setup: Callable[..., Any]) -> None:
    busy = Send(native_error(429, "Throttling.RateQuota", retry_after="100"))
    upstream, proxy = setup(((busy,), answer()), retry_max_wait=0.2)
    outcome = ask(proxy.url, stream=False)
    assert outcome.status == 200
    assert 0.2 <= outcome.seconds < 1.5
    assert len(upstream.connections) == 2


def test_retry_after_beyond_the_budget_is_answered_at_once(setup: Callable[..., Any]) -> None:
    busy = Send(native_error(429, "Throttling.RateQuota", retry_after="3"))
    upstream, proxy = setup(((busy,), answer()), retry_max_wait=10, retry_budget=1)
    outcome = ask(proxy.url, stream=True)
    assert outcome.status == 429
    assert outcome.error()["code"] == "Throttling.RateQuota"
    assert outcome.headers["retry-after"] == "3"  # the SDK may wait and try again itself
    assert outcome.seconds < 1
    assert len(upstream.connections) == 1


@pytest.mark.parametrize(
    ("response", "exception"),
    [
        (native_error(429, "Throttling.AllocationQuota"), openai.RateLimitError),
        (native_error(401, "InvalidApiKey"), openai.AuthenticationError),
    ],
    ids=["quota_429", "bad_key_401"],
)
def test_final_errors_are_not_retried(
    setup: Callable[..., Any],
    sdk_for: Callable[..., openai.OpenAI],
    response: bytes,
    exception: type[openai.APIStatusError],
) -> None:
    upstream, proxy = setup(((Send(response),), answer()), retries=3)
    with pytest.raises(exception) as caught:
        sdk_for(proxy.url).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(upstream.connections) == 1
    assert retries_total(proxy) == 0


def test_first_frame_stalls_are_retried_within_the_budget(setup: Callable[..., Any]) -> None:
    # Attempts of 0.3 s each; a retry starts only if it fits in the 0.5 s budget: two in all.
    upstream, proxy = setup(
        ((HEAD, Stall()),), first_frame_timeout=0.3, retries=5, retry_budget=0.5
    )
    outcome = ask(proxy.url, stream=True)
    assert outcome.status == 504
    assert outcome.error()["code"] == "upstream_timeout"
    assert len(upstream.connections) == 2
    assert outcome.seconds < 0.5 + 0.3 + 0.3


@pytest.fixture
def full_backlog() -> Iterator[str]:
    """A loopback port whose accept queue is full: connection attempts hang (Linux drops the
    SYN), as with a firewalled DashScope."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(4)]
        try:
            for sock in fillers:
                sock.setblocking(False)
                sock.connect_ex(listener.getsockname())
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            for sock in fillers:
                sock.close()


def test_connect_timeout_is_a_504(
    full_backlog: str, proxy_app: Callable[..., RunningProxy]
) -> None:
    proxy = proxy_app(full_backlog, connect_timeout=0.2, retries=0)
    outcome = ask(proxy.url, stream=True)
    assert outcome.status == 504
    assert outcome.error()["code"] == "upstream_timeout"
    assert outcome.seconds < 1.5


# ---- regressions: each of these was a bug when this file was written ----------------------


def test_no_response_head_is_bounded_by_first_frame_timeout(setup: Callable[..., Any]) -> None:
    # Accepts the connection and the request, then sends nothing at all, not even a status line.
    _, proxy = setup(((Stall(),),), first_frame_timeout=0.3, read_timeout=2, retries=0)
    outcome = ask(proxy.url, stream=True)
    assert outcome.status == 504
    assert outcome.error()["code"] == "upstream_timeout"
    assert outcome.seconds < 1.2, "waited read_timeout, not first_frame_timeout"


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_total_timeout_bounds_a_silent_upstream(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy], stream: bool
) -> None:
    upstream = faulty((*first_frames(1), Stall()))
    server = ServerSettings(keepalive_interval=0)
    proxy = proxy_app(upstream.url, server=server, total_timeout=0.3, read_timeout=2)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.error()["code"] == "total_timeout"
    assert outcome.seconds < 1.2, "waited read_timeout, not total_timeout"


def test_a_non_finite_retry_after_is_not_a_500(setup: Callable[..., Any]) -> None:
    busy = Send(native_error(429, "Throttling.RateQuota", retry_after="inf"))
    limit = ServerSettings(max_concurrent_streams=1)
    _, proxy = setup(((busy,),), retries=0, server=limit)
    first, second = ask(proxy.url, stream=True), ask(proxy.url, stream=True)
    # Was: 500 "internal error", and the slot was never released, so the next one got a 503.
    assert (first.status, second.status) == (429, 429)
    assert proxy.active == 0


def _echoing_error(status: int, content_type: bytes) -> bytes:
    """An upstream (or a gateway in front of it) whose error page echoes the request head."""
    body = (
        f"bad request\nPOST /api/v1/services/aigc/text-generation/generation\n"
        f"Authorization: Bearer {SERVER_KEY}\nX-Forwarded-Key: {CLIENT_KEY}\n"
    ).encode()
    return (
        f"HTTP/1.1 {status} Oops\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Content-Type: "
        + content_type
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )


@pytest.mark.parametrize("content_type", [b"text/plain", b"text/html"])
@pytest.mark.parametrize("stream", [True, False])
def test_an_upstream_text_that_echoes_keys_reaches_the_client_masked(
    setup: Callable[..., Any], content_type: bytes, stream: bool
) -> None:
    """A non-JSON error body is quoted in the client's error message: never with a key in it."""
    _, proxy = setup(((Send(_echoing_error(400, content_type)), Close()),))
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 400
    message = outcome.error()["message"]
    assert "bad request" in message  # the upstream's words still help
    assert SERVER_KEY not in message
    assert CLIENT_KEY not in message
    assert "[redacted]" in message


def test_an_in_band_upstream_error_that_echoes_a_key_is_masked(
    setup: Callable[..., Any],
) -> None:
    frame = (
        b"event:error\n:HTTP_STATUS/500\ndata:"
        + orjson.dumps({"code": "InternalError", "message": f"failed for Bearer {SERVER_KEY}"})
        + b"\n\n"
    )
    _, proxy = setup(((*first_frames(1), Send(frame), Close()),), retries=0)
    outcome = ask(proxy.url, stream=True)
    assert outcome.status == 200
    message = outcome.error()["message"]
    assert SERVER_KEY not in message
    assert "[redacted]" in message
