"""Upstream SSE lines and events are bounded (issue 15, item 6): a line or an event beyond its
limit fails the stream with an in-band error after reading about the limit, not the whole line,
and the decoder holds an unfinished line once, not copied again with every piece."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from proxy.core.errors import FrameTooLarge
from proxy.core.sse import MAX_EVENT, MAX_LINE, SSEDecoder
from tests.conftest import RunningProxy
from tests.faulty_upstream import Close, FaultyUpstream, Send, Trickle, first_frames, sse_head
from tests.test_faults import ask

KIB, MIB = 1024, 1024 * 1024


def feed_until_refused(decoder: SSEDecoder, pieces: list[bytes]) -> int:
    """Bytes fed when the decoder refused (it must refuse)."""
    fed = 0
    for piece in pieces[:-1]:
        fed += len(piece)
        try:
            decoder.feed(piece)
        except FrameTooLarge:
            return fed
    with pytest.raises(FrameTooLarge):
        decoder.feed(pieces[-1])
    return fed + len(pieces[-1])


def test_the_defaults_are_far_above_any_real_frame() -> None:
    assert MAX_LINE == 8 * MIB
    assert MAX_EVENT == 16 * MIB
    assert FrameTooLarge("x").status == 502


def test_a_line_in_pieces_fails_at_the_line_limit() -> None:
    decoder = SSEDecoder(max_line=10 * KIB, max_event=100 * KIB)
    pieces = [b"data:"] + [b"x" * 1000] * 100  # one line of 100 KB, never ended
    fed = feed_until_refused(decoder, pieces)
    assert 10 * KIB < fed <= 10 * KIB + 1000  # refused with the piece that crossed the limit


def test_a_whole_line_in_one_piece_beyond_the_limit_is_refused() -> None:
    decoder = SSEDecoder(max_line=10 * KIB, max_event=100 * KIB)
    feed_until_refused(decoder, [b"data:" + b"x" * 20 * KIB + b"\n\n"])


def test_an_unfinished_line_after_complete_ones_is_measured_from_its_start() -> None:
    decoder = SSEDecoder(max_line=1000, max_event=100 * KIB)
    assert decoder.feed(b"data:1\n\ndata:" + b"x" * 900) != []
    with pytest.raises(FrameTooLarge, match="1000 bytes"):
        decoder.feed(b"x" * 200)


def test_a_line_exactly_at_the_limit_is_read() -> None:
    decoder = SSEDecoder(max_line=1000, max_event=100 * KIB)
    line = b"data:" + b"x" * 995
    events = decoder.feed(line[:500]) + decoder.feed(line[500:] + b"\r") + decoder.feed(b"\n\n")
    assert [len(e.data) for e in events] == [995]


def test_an_event_of_many_lines_fails_at_the_event_limit() -> None:
    decoder = SSEDecoder(max_line=1000, max_event=10 * KIB)
    pieces = [b"data:" + b"x" * 900 + b"\n"] * 20  # 18 KB of data, no blank line yet
    fed = feed_until_refused(decoder, pieces)
    assert 10 * KIB < fed <= 10 * KIB + 2 * 905
    with pytest.raises(FrameTooLarge, match="event"):
        SSEDecoder(max_line=1000, max_event=10 * KIB).feed(b"".join(pieces))


def test_the_event_limit_starts_again_with_each_event() -> None:
    decoder = SSEDecoder(max_line=1000, max_event=2000)
    frame = b"data:" + b"x" * 900 + b"\ndata:" + b"y" * 900 + b"\n\n"  # 1801 bytes of data
    events = [event for _ in range(5) for event in decoder.feed(frame)]
    assert len(events) == 5


def test_an_unfinished_line_is_held_once_not_copied_per_piece() -> None:
    """Was: each piece was appended to a copy of the whole unfinished line, so a 40 MB line
    cost quadratic time and twice its size in memory at every step."""
    size = 4 * MIB
    decoder = SSEDecoder()
    tracemalloc.start()
    try:
        decoder.feed(b"data:")
        for _ in range(size // (64 * KIB)):
            decoder.feed(b"x" * (64 * KIB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size * 1.25, f"peak {peak} bytes for a {size}-byte line"
    assert [len(e.data) for e in decoder.feed(b"\n\n")] == [size]


# ---- through the proxy ----------------------------------------------------------------------

HUGE = 32 * MIB  # the line the upstream would send, in 64 KiB pieces


def endless_line(first: tuple[Send, ...]) -> tuple[Send | Trickle | Close, ...]:
    return (
        *first,
        Send(b"id:9\nevent:result\n:HTTP_STATUS/200\ndata:"),
        Trickle(b"x" * 65536, HUGE // 65536),
        Close(),
    )


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_an_endless_upstream_line_fails_the_stream_at_the_limit(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy], stream: bool
) -> None:
    start = first_frames(1)
    upstream = faulty(endless_line(tuple(s for s in start if isinstance(s, Send))))
    proxy = proxy_app(upstream.url, max_line_bytes=MIB, retries=0)
    outcome = ask(proxy.url, stream=stream, timeout=30)
    assert outcome.status == (200 if stream else 502)
    error = outcome.error()  # in a stream: one in-band error, then [DONE]
    assert error["code"] == "upstream_frame_too_large"
    assert "1048576 bytes" in error["message"]
    connection = upstream.connections[0]
    assert connection.peer_closed.wait(5), "the proxy kept reading"
    assert connection.sent < HUGE, "the whole line was read"
    assert proxy.active == 0


def test_a_first_frame_beyond_the_limit_is_a_502_before_the_first_byte(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> None:
    upstream = faulty(endless_line((Send(sse_head()),)))
    proxy = proxy_app(upstream.url, max_line_bytes=MIB, retries=0)
    outcome = ask(proxy.url, stream=True, timeout=30)
    assert outcome.status == 502
    assert outcome.error()["code"] == "upstream_frame_too_large"
    assert upstream.connections[0].sent < HUGE
