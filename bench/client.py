"""A minimal keep-alive HTTP/1.1 client on raw asyncio, for the load generator.

Why not httpx or aiohttp: the load generator shares two cores with the upstream and the arm
under test, so every cycle it spends is taken from what it measures. This client does the
least possible work while bytes arrive: it timestamps each read, de-chunks it and appends it.
Parsing the SSE events and checking them waits until the response is complete
(`bench.verify`), and each event's arrival time is recovered from the read timestamps.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


class ConnectionDropped(Exception):
    """The connection closed before the response was complete."""


@dataclass(slots=True)
class Response:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    sent: float = 0.0  # perf_counter when the request was written
    first_byte: float = 0.0  # perf_counter of the first response byte
    done: float = 0.0
    # (perf_counter, body length after this read): arrival times for any body offset.
    reads: list[tuple[float, int]] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.response: Response | None = None
        self.finished: asyncio.Future[Response] | None = None
        self._raw = bytearray()
        self._head_done = False
        self._chunked = False
        self._remaining = -1  # content-length left, or -1 until the end of the connection
        self._chunk_left = 0  # bytes of the current chunk still to come

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        finished, response = self.finished, self.response
        if finished is None or finished.done() or response is None:
            return
        if self._head_done and not self._chunked and self._remaining < 0:
            response.done = time.perf_counter()
            finished.set_result(response)  # a body delimited by the end of the connection
        else:
            finished.set_exception(ConnectionDropped("connection closed mid-response"))

    def start(self, request: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.response = Response()
        self.finished = asyncio.get_running_loop().create_future()
        self._raw.clear()
        self._head_done = False
        self._chunked = False
        self._remaining = -1
        self._chunk_left = 0
        self.response.sent = time.perf_counter()
        self.transport.write(request)
        return self.finished

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        response = self.response
        if response is None or self.finished is None or self.finished.done():
            return
        if not response.first_byte:
            response.first_byte = now
        self._raw += data
        if not self._head_done and not self._parse_head(response):
            return
        complete = self._decode_chunks(response) if self._chunked else self._take_plain(response)
        response.reads.append((now, len(response.body)))
        if complete:
            response.done = now
            self.finished.set_result(response)

    def _parse_head(self, response: Response) -> bool:
        end = self._raw.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self._raw[:end]).decode("latin-1").split("\r\n")
        response.status = int(lines[0].split(" ", 2)[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()
        del self._raw[: end + 4]
        self._head_done = True
        self._chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
        if not self._chunked and "content-length" in response.headers:
            self._remaining = int(response.headers["content-length"])
        return True

    def _take_plain(self, response: Response) -> bool:
        response.body += self._raw
        if self._remaining >= 0:
            self._remaining -= len(self._raw)
        self._raw.clear()
        return self._remaining == 0

    def _decode_chunks(self, response: Response) -> bool:
        raw = self._raw
        while raw:
            if self._chunk_left > 0:
                take = min(self._chunk_left, len(raw))
                response.body += raw[:take]
                del raw[:take]
                self._chunk_left -= take
                if self._chunk_left > 0:
                    return False
                self._chunk_left = -2  # the CRLF after the chunk data
            if self._chunk_left == -2:
                if len(raw) < 2:
                    return False
                del raw[:2]
                self._chunk_left = 0
            line_end = raw.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(raw[:line_end]).split(b";", 1)[0], 16)
            if size == 0:
                # The last chunk; the trailer section is empty for every server measured here.
                if len(raw) < line_end + 4:
                    return False
                del raw[: line_end + 4]
                return True
            del raw[: line_end + 2]
            self._chunk_left = size
        return False


class Connection:
    """One keep-alive connection; `request` reconnects when the server closed it meanwhile."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._protocol: _Protocol | None = None
        self.connects = 0

    @property
    def is_open(self) -> bool:
        return self._protocol is not None and self._protocol.transport is not None

    @property
    def first_byte_seen(self) -> bool:
        """Whether the exchange in progress (or the last one) has had its first byte."""
        protocol = self._protocol
        return (
            protocol is not None
            and protocol.response is not None
            and bool(protocol.response.first_byte)
        )

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Protocol, self.host, self.port)
        self._protocol = protocol
        self.connects += 1

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], time_limit: float
    ) -> Response:
        """One exchange; the clock starts after any reconnect, so connecting is not timed."""
        if not self.is_open:
            await self.connect()
        assert self._protocol is not None
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += f"content-length: {len(body)}\r\n\r\n"
        finished = self._protocol.start(head.encode() + body)
        try:
            return await asyncio.wait_for(finished, time_limit)
        except BaseException:
            self.close()  # a half-read response would poison the next exchange
            raise

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
