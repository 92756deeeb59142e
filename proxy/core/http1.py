"""HTTP/1.1 for the proxy's one kind of upstream call, sans-I/O: a request's bytes, and a
response parser that takes whatever a network read brought and gives back the body bytes in it.

Why not h11 (through httpcore): DashScope sends one HTTP chunk per SSE frame, and h11 makes an
event per chunk, which httpcore and httpx then pass through several layers each; at thousands of
frames a second that was a third of the proxy's CPU (docs/benchmarks.md). Here a network read
of thirty chunks is one `feed()` returning one piece of body. The parser knows what the proxy
needs, no more: a status line, headers, and a body framed by Content-Length, chunked transfer
coding, or the connection's end. It is strict where a mistake would corrupt a stream (chunk
sizes, the CRLF after each chunk, a bounded head) and lenient where nothing depends on it
(chunk extensions and trailers are skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_HEAD = 64 * 1024  # a response head larger than this is refused
_MAX_CHUNK_LINE = 4096  # a chunk-size line (with extensions) longer than this is refused
_HEX_DIGITS = b"0123456789abcdefABCDEF"


class ProtocolError(Exception):
    """The upstream's bytes are not the HTTP/1.1 response they should be."""


@dataclass(frozen=True, slots=True)
class Head:
    """A response's status line and headers (names lower-cased; repeated ones joined by ", ")."""

    status: int
    reason: str
    headers: Mapping[str, str]
    keep_alive: bool  # whether the connection may carry another request after this response


def request_bytes(
    method: str, target: str, host: str, headers: Iterable[tuple[str, str]], body: bytes
) -> bytes:
    """One request, head and body together (one write, one system call).

    Raises ValueError for a header that would break the head (CR, LF or NUL in it): names and
    values come from configuration and forwarded client headers."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    for name, value in headers:
        if _unsafe(name) or _unsafe(value) or not name or ":" in name:
            raise ValueError(f"header {name!r} cannot be sent")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1") + body


def _unsafe(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text


class ResponseParser:
    """One response on one connection. `feed()` the bytes as they come, `eof()` when the
    connection ends; `head` is set once the head is in, `done` once the body is complete."""

    __slots__ = ("_buffer", "_crlf", "_left", "_max_head", "_mode", "_trailers", "done", "head")

    def __init__(self, *, max_head: int = MAX_HEAD) -> None:
        self.head: Head | None = None
        self.done = False
        self._max_head = max_head
        self._buffer = b""  # an unfinished head, or an unfinished chunk-size line
        self._mode = ""  # "length", "chunked" or "close", once the head is in
        self._left = 0  # body bytes still to come (length), or of the current chunk (chunked)
        self._crlf = False  # the CRLF ending a chunk's data is next
        self._trailers = False  # the last chunk came: trailer lines until an empty one

    def feed(self, data: bytes) -> bytes:
        """The body bytes in `data` (b"" if none); raises ProtocolError on a malformed
        response, and on bytes past the end of a response (nothing was asked for them)."""
        if self.head is None:
            data = self._head(data)
            if self.head is None or not data:
                return b""
        if self.done:
            if data:
                raise ProtocolError("bytes after the end of the response")
            return b""
        if self._mode == "chunked":
            return self._chunked(data)
        if self._mode == "close":
            return data
        if len(data) > self._left:
            raise ProtocolError("more body than its Content-Length")
        self._left -= len(data)
        self.done = self._left == 0
        return data

    def eof(self) -> None:
        """The connection ended: fine only after a whole response, or for a body framed by the
        connection's end."""
        if self.done:
            return
        if self.head is not None and self._mode == "close":
            self.done = True
            return
        where = "in the response head" if self.head is None else "in the response body"
        raise ProtocolError(f"the connection ended {where}")

    def _head(self, data: bytes) -> bytes:
        buffer = self._buffer + data if self._buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > self._max_head:
                    raise ProtocolError("response head too large")
                self._buffer = buffer
                return b""
            if end > self._max_head:
                raise ProtocolError("response head too large")
            head, buffer = _parse_head(buffer[:end]), buffer[end + 4 :]
            if 100 <= head.status < 200:  # an interim answer (100 Continue): the real one follows
                continue
            self._buffer = b""
            self._start_body(head)
            return buffer

    def _start_body(self, head: Head) -> None:
        self.head = head
        coding = head.headers.get("transfer-encoding", "").lower()
        length = head.headers.get("content-length")
        if head.status in (204, 304):
            self.done = True
        elif coding:
            if coding.replace(" ", "") not in ("chunked", "identity,chunked"):
                raise ProtocolError(f"unsupported transfer coding {coding!r}")
            self._mode = "chunked"
        elif length is not None:
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length {length[:40]!r}")
            self._mode, self._left = "length", int(length)
            self.done = self._left == 0
        else:
            self._mode = "close"
            self.head = Head(head.status, head.reason, head.headers, keep_alive=False)

    def _chunked(self, data: bytes) -> bytes:
        # The state in locals while the loop runs: a chunk per frame is three turns of it.
        buffer = self._buffer + data if self._buffer else data
        pieces: list[bytes] = []
        pos, size = 0, len(buffer)
        left, crlf, trailers, done = self._left, self._crlf, self._trailers, self.done
        while pos < size and not done:
            if left:
                take = min(left, size - pos)
                pieces.append(buffer[pos : pos + take])
                pos += take
                left -= take
                if not left:  # the CRLF after the data, usually in the same read
                    if buffer.startswith(b"\r\n", pos):
                        pos += 2
                    else:
                        crlf = True
                continue
            end = buffer.find(b"\r\n", pos)
            if end < 0:
                if size - pos > _MAX_CHUNK_LINE:
                    raise ProtocolError("chunk-size line too long")
                break
            line = buffer[pos:end]
            pos = end + 2
            if crlf:
                if line:
                    raise ProtocolError("chunk data longer than its size")
                crlf = False
            elif trailers:
                done = not line  # trailer fields are skipped; an empty line ends them
            else:
                left = _chunk_size(line)
                trailers = left == 0
        self._left, self._crlf, self._trailers, self.done = left, crlf, trailers, done
        if done and pos < size:
            raise ProtocolError("bytes after the end of the response")
        self._buffer = buffer[pos:]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _chunk_size(line: bytes) -> int:
    if 0 < len(line) <= 15 and not line.translate(None, _HEX_DIGITS):
        return int(line, 16)  # the usual line: only the size, no extension, no blanks
    digits = line.split(b";", 1)[0].strip()
    if not digits or len(digits) > 15 or digits.translate(None, _HEX_DIGITS):
        raise ProtocolError(f"bad chunk size {line[:40]!r}")
    return int(digits, 16)


def _parse_head(raw: bytes) -> Head:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0") or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    if not 100 <= status <= 999:
        raise ProtocolError(f"bad status {status}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise ProtocolError(f"bad header line {line[:80]!r}")
        key, value = name.lower(), value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if parts[0] == "HTTP/1.0" else "close" not in connection
    return Head(status, parts[2] if len(parts) > 2 else "", headers, keep_alive)
