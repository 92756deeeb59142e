"""Each upstream timeout bounds exactly what its sentence in config.example.toml says (issue 15,
item 8), against a scripted DashScope (tests/faulty_upstream.py):

- `first_frame_timeout`: from the request sent to the first complete frame, once;
- `read_timeout`: the longest silence between two frames, however many bytes trickle in;
- `total_timeout`: the whole exchange, from the request to the last frame, retries included.

Each test tells the timeouts apart by the error code the client gets (or by the answer
succeeding), never by how long it took: the scripts keep margins of a few tenths of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import RunningProxy
from tests.faulty_upstream import (
    Close,
    FaultyUpstream,
    Pause,
    Script,
    Send,
    Stall,
    Trickle,
    answer,
    first_frames,
    frames,
    native_error,
    sse_head,
)
from tests.test_faults import ask

PLAIN = frames("plain_text")
HEAD = Send(sse_head())
STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])


@pytest.fixture
def setup(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> Callable[..., tuple[FaultyUpstream, RunningProxy]]:
    def start(*scripts: Script, **settings: Any) -> tuple[FaultyUpstream, RunningProxy]:
        upstream = faulty(*scripts)
        return upstream, proxy_app(upstream.url, **{"retries": 0, **settings})

    return start


# ---- read_timeout ---------------------------------------------------------------------------

TRICKLES = {
    # SSE comments every 50 ms: bytes, but never a frame.
    "comments": (Trickle(b": still here\n", times=400, interval=0.05),),
    # One frame, begun and never ended: a byte every 50 ms.
    "a_frame_never_ended": (Send(b"id:2\nevent:result\ndata:"), Trickle(b"x", 400, 0.05)),
}


@STREAMS
@pytest.mark.parametrize("trickle", list(TRICKLES.values()), ids=list(TRICKLES))
def test_read_timeout_fires_while_bytes_trickle_without_a_frame(
    setup: Callable[..., Any], trickle: Script, stream: bool
) -> None:
    """Was: each byte reset the socket's read timeout, so the stream lived until total_timeout."""
    upstream, proxy = setup((*first_frames(1), *trickle), read_timeout=0.5, total_timeout=4)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == (200 if stream else 504)
    error = outcome.error()
    assert error["code"] == "upstream_timeout"
    assert "0.5 s" in error["message"]
    assert upstream.connections[0].peer_closed.wait(2), "the proxy kept the trickle open"
    assert upstream.connections[0].sent < 400 * 13, "the trickle ran to its end"


@STREAMS
def test_read_timeout_does_not_bound_the_wait_for_the_first_frame(
    setup: Callable[..., Any], stream: bool
) -> None:
    """Was: the socket's read timeout was read_timeout from the start, so a first frame (or a
    response head) slower than read_timeout was a 504, whatever first_frame_timeout said."""
    script = (Pause(0.6), HEAD, Pause(0.6), *map(Send, PLAIN), Close())
    _, proxy = setup(script, read_timeout=0.3, first_frame_timeout=5)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 200, outcome.body
    assert b'"finish_reason":"stop"' in outcome.body


@STREAMS
def test_frames_closer_than_read_timeout_keep_a_slow_stream_alive(
    setup: Callable[..., Any], stream: bool
) -> None:
    # Frames 0.25 s apart for about 2 s in all, against a 0.8 s read timeout.
    _, proxy = setup(answer(gap=0.25), read_timeout=0.8)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 200
    assert b'"finish_reason":"stop"' in outcome.body


# ---- first_frame_timeout --------------------------------------------------------------------


@STREAMS
def test_first_frame_timeout_bounds_head_and_first_frame_together(
    setup: Callable[..., Any], stream: bool
) -> None:
    """Was: the limit applied to the response head, then again to the first frame, so a first
    frame at 1.2 s passed a 0.9 s limit."""
    script = (Pause(0.6), HEAD, Pause(0.6), *map(Send, PLAIN), Close())
    upstream, proxy = setup(script, first_frame_timeout=0.9)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 504
    error = outcome.error()
    assert error["code"] == "upstream_timeout"
    assert "0.9 s" in error["message"]
    assert len(upstream.connections) == 1


def test_first_frame_timeout_lets_a_first_frame_within_it_through(
    setup: Callable[..., Any],
) -> None:
    script = (Pause(0.2), HEAD, Pause(0.2), *map(Send, PLAIN), Close())
    _, proxy = setup(script, first_frame_timeout=2)
    assert ask(proxy.url, stream=True).status == 200


# ---- total_timeout --------------------------------------------------------------------------


@STREAMS
def test_total_timeout_bounds_the_wait_for_the_first_frame(
    setup: Callable[..., Any], stream: bool
) -> None:
    """Was: only the frames after the first counted, so a stall before it waited
    first_frame_timeout, then did it again for each retry."""
    upstream, proxy = setup((HEAD, Stall()), first_frame_timeout=2, total_timeout=0.5, retries=1)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 504
    assert outcome.error()["code"] == "total_timeout"
    assert len(upstream.connections) == 1  # no retry past the deadline


def test_total_timeout_starts_no_retry_it_cannot_wait_for(setup: Callable[..., Any]) -> None:
    """Was: the retry waited Retry-After (2 s) past a 0.5 s total_timeout."""
    busy = Send(native_error(500, "InternalError", retry_after="2"))
    upstream, proxy = setup((busy,), answer(), retries=2, retry_max_wait=5, total_timeout=0.5)
    outcome = ask(proxy.url, stream=True)
    assert outcome.status == 500
    assert outcome.error()["code"] == "InternalError"
    assert len(upstream.connections) == 1


@STREAMS
def test_total_timeout_bounds_a_trickling_stream(setup: Callable[..., Any], stream: bool) -> None:
    trickle = Trickle(b": still here\n", times=400, interval=0.05)
    upstream, proxy = setup((*first_frames(1), trickle), read_timeout=5, total_timeout=0.6)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.error()["code"] == "total_timeout"
    assert upstream.connections[0].peer_closed.wait(2)
