"""The upstream's HTTP/1.1, sans-I/O: the request's bytes, and the response parser over every
way a network can split a response."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.core.http1 import ProtocolError, ResponseParser, request_bytes

SSE = b'id:1\nevent:result\ndata:{"n":1}\n\nid:2\nevent:result\ndata:{"n":2}\n\n'


def chunked(*pieces: bytes, tail: bytes = b"0\r\n\r\n") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + tail


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
RESPONSE = HEAD + chunked(SSE[:20], SSE[20:31], SSE[31:])


def parse(data: bytes, cuts: list[int] | None = None) -> tuple[ResponseParser, bytes]:
    parser = ResponseParser()
    points = sorted({0, *(cuts or []), len(data)})
    body = b"".join(parser.feed(data[a:b]) for a, b in itertools.pairwise(points))
    return parser, body


@given(st.lists(st.integers(0, len(RESPONSE)), max_size=12))
def test_any_split_of_a_chunked_response_gives_the_same_head_and_body(cuts: list[int]) -> None:
    parser, body = parse(RESPONSE, cuts)
    assert body == SSE
    assert parser.done
    assert parser.head is not None
    assert parser.head.status == 200
    assert parser.head.headers["content-type"] == "text/event-stream"
    assert parser.head.keep_alive


def test_a_read_of_many_chunks_is_one_piece_of_body() -> None:
    parser = ResponseParser()
    assert parser.feed(HEAD) == b""
    assert parser.feed(chunked(b"a", b"b", b"c", tail=b"")) == b"abc"
    assert not parser.done
    assert parser.feed(b"0\r\n\r\n") == b""
    assert parser.done


def test_chunk_extensions_and_trailers_are_skipped() -> None:
    data = HEAD + b"3;name=value\r\nabc\r\n0\r\nx-trailer: 1\r\nx-more: 2\r\n\r\n"
    parser, body = parse(data)
    assert (body, parser.done) == (b"abc", True)


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        (b"zz\r\n", "bad chunk size"),
        (b"\r\n", "bad chunk size"),
        (b"3\r\nabcd\r\n", "longer than its size"),
        (b"1" * 5000, "chunk-size line too long"),
        (b"3\r\nabc\r\n0\r\n\r\nextra", "after the end"),
    ],
)
def test_malformed_chunks_are_refused(tail: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        parse(HEAD + tail)


def test_a_long_unfinished_chunk_line_is_refused_even_when_it_comes_in_pieces() -> None:
    parser = ResponseParser()
    parser.feed(HEAD + b"3\r\nabc\r\n")
    for _ in range(4):
        parser.feed(b"f" * 1000)
    with pytest.raises(ProtocolError, match="too long"):
        parser.feed(b"f" * 1000)


def test_a_content_length_body_ends_at_its_length() -> None:
    head = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 7\r\n\r\n"
    parser, body = parse(head + b'{"a":1}', [len(head) + 3])
    assert (body, parser.done) == (b'{"a":1}', True)
    assert parser.head is not None
    assert parser.head.status == 400
    assert parser.head.reason == "Bad Request"
    with pytest.raises(ProtocolError, match="after the end"):
        parser.feed(b"x")
    assert parser.feed(b"") == b""
    parser.eof()  # fine after a whole response


def test_more_body_than_the_content_length_is_refused() -> None:
    with pytest.raises(ProtocolError, match="more body"):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc")


def test_an_empty_body_is_done_with_the_head() -> None:
    for head in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
    ):
        parser, body = parse(head)
        assert (body, parser.done) == (b"", True)


def test_a_body_without_framing_ends_with_the_connection() -> None:
    parser, body = parse(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n\r\n<html>", [20])
    assert body == b"<html>"
    assert not parser.done
    assert parser.head is not None
    assert not parser.head.keep_alive
    parser.eof()
    assert parser.done


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "in the response head"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "in the response body"),
        (HEAD + b"3\r\nab", "in the response body"),
    ],
)
def test_a_connection_that_ends_early_is_an_error(data: bytes, says: str) -> None:
    parser, _ = parse(data)
    with pytest.raises(ProtocolError, match=says):
        parser.eof()


def test_an_interim_answer_is_skipped() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    parser, body = parse(data)
    assert parser.head is not None
    assert (parser.head.status, body) == (200, b"ok")


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", True),
    ],
)
def test_keep_alive_follows_the_version_and_connection_header(
    head: bytes, keep_alive: bool
) -> None:
    parser, _ = parse(head)
    assert parser.head is not None
    assert parser.head.keep_alive is keep_alive


def test_repeated_headers_are_joined() -> None:
    parser, _ = parse(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
    assert parser.head is not None
    assert parser.head.headers["x-a"] == "1, 2"


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"HTTP/2 200 OK", "bad status line"),
        (b"HTTP/1.1 abc OK", "bad status line"),
        (b"HTTP/1.1", "bad status line"),
        (b"HTTP/1.1 099 Low", "bad status"),
        (b"HTTP/1.1 200 OK\r\nno colon", "bad header line"),
        (b"HTTP/1.1 200 OK\r\n folded: x", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nname : x", "bad header line"),
        (b"HTTP/1.1 200 OK\r\n: x", "bad header line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip", "unsupported transfer coding"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1", "bad Content-Length"),
    ],
)
def test_malformed_heads_are_refused(head: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        parse(head + b"\r\n\r\n")


def test_a_head_larger_than_the_limit_is_refused_whole_or_in_pieces() -> None:
    big = b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 200
    with pytest.raises(ProtocolError, match="too large"):
        ResponseParser(max_head=100).feed(big + b"\r\n\r\n")
    parser = ResponseParser(max_head=100)
    parser.feed(big[:90])
    with pytest.raises(ProtocolError, match="too large"):
        parser.feed(big[90:])


def test_identity_then_chunked_is_chunked() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n"
    _, body = parse(head + chunked(b"ok"))
    assert body == b"ok"


def test_a_request_is_one_piece_of_bytes() -> None:
    data = request_bytes("POST", "/api/v1/x", "h.example", [("X-A", "1")], b'{"a":1}')
    assert data == (
        b'POST /api/v1/x HTTP/1.1\r\nHost: h.example\r\nContent-Length: 7\r\nX-A: 1\r\n\r\n{"a":1}'
    )


@pytest.mark.parametrize(
    "header", [("X-A", "1\r\nX-Evil: 2"), ("X-A\n", "1"), ("", "1"), ("X:A", "1"), ("X", "\0")]
)
def test_a_header_that_would_break_the_head_is_refused(header: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        request_bytes("POST", "/", "h", [header], b"")
