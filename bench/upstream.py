"""The benchmark's simulated DashScope: a lean HTTP/1.1 server on raw asyncio.

    python -m bench.upstream --host 127.0.0.1 --port 0 --frames 40 --frame-bytes 16 \
        --interval 0.01 --port-file /tmp/port

It serves the same generation (reasoning, one code-interpreter run, answer; see
`bench.content`) on two paths:

- `POST /api/v1/services/aigc/{text,multimodal}-generation/generation`: native SSE frames,
- `POST /compatible-mode/v1/chat/completions`: OpenAI chat chunks, then `data: [DONE]`.

The direct arm of the benchmark measures this server alone, so its cost is the floor every
other arm is compared with. Hence no framework: frames are rendered once per shape and cached
already chunk-encoded, a response is a few `transport.write` calls, and keep-alive connections
are reused. `--interval 0` sends frames back to back (in batches, honouring TCP back-pressure).

Control endpoints for the harness: `POST /bench/config` with `{"frames", "frame_bytes",
"interval"}` changes the shape of later responses; `GET /bench/stats` reports requests served
and streams open. `expected_content` (re-exported from `bench.content`) gives the texts a
complete client must reassemble.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

from bench.content import (
    MIN_FRAMES,
    REQUEST_ID,
    Expected,
    cached_compatible,
    cached_native,
    expected_content,
)

__all__ = ["Expected", "UpstreamSettings", "expected_content", "main", "serve"]

TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
COMPATIBLE_PATH = "/compatible-mode/v1/chat/completions"
CONFIG_PATH = "/bench/config"
STATS_PATH = "/bench/stats"
_MAX_HEAD = 65536
_BATCH = 32  # frames per write when there is no interval: fewer syscalls, same bytes


@dataclass(slots=True)
class UpstreamSettings:
    frames: int = 40
    frame_bytes: int = 16
    interval: float = 0.0


@dataclass(slots=True)
class _Stats:
    requests: int = 0
    open_streams: int = 0


@lru_cache(maxsize=64)
def _chunked(frames: tuple[bytes, ...]) -> tuple[bytes, ...]:
    return tuple(b"%x\r\n%b\r\n" % (len(frame), frame) for frame in frames)


def _head(status: str, content_type: str, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"transfer-encoding: chunked\r\n{extra}\r\n"
    ).encode()


_SSE_NATIVE = _head("200 OK", "text/event-stream;charset=UTF-8", f"x-request-id: {REQUEST_ID}\r\n")
_SSE_COMPATIBLE = _head("200 OK", "text/event-stream")


def _small(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


class _Connection(asyncio.Protocol):
    """One client connection: requests in order, one response at a time (keep-alive)."""

    def __init__(self, settings: UpstreamSettings, stats: _Stats) -> None:
        self._settings = settings
        self._stats = stats
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._writable.set()
        if self._task is not None:
            self._task.cancel()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._task is None:
            self._next_request()

    def _next_request(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                self._fail(b"431 Request Header Fields Too Large")
            return
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(b"411 Length Required")
            return
        length = int(headers.get("content-length", "0") or 0)
        if len(self._buffer) < end + 4 + length:
            return  # the body is still arriving
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        self._close_after = headers.get("connection", "").lower() == "close"
        self._stats.requests += 1
        self._task = asyncio.get_running_loop().create_task(self._respond(method, path, body))
        self._task.add_done_callback(self._responded)

    def _fail(self, status: bytes) -> None:
        if self._transport is not None:
            self._transport.write(b"HTTP/1.1 %b\r\ncontent-length: 0\r\n\r\n" % status)
            self._transport.close()

    def _responded(self, task: asyncio.Task[None]) -> None:
        self._task = None
        if self._transport is None:
            return
        if self._close_after:
            self._transport.close()
        elif self._buffer:
            self._next_request()

    async def _respond(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path in (TEXT_PATH, MULTIMODAL_PATH):
            shape = self._settings
            frames = cached_native(shape.frames, shape.frame_bytes)
            await self._stream(_SSE_NATIVE, frames, shape.interval)
        elif method == "POST" and path == COMPATIBLE_PATH:
            shape = self._settings
            frames = cached_compatible(shape.frames, shape.frame_bytes, _wants_usage(body))
            await self._stream(_SSE_COMPATIBLE, frames, shape.interval)
        elif method == "POST" and path == CONFIG_PATH:
            self._write(_configure(self._settings, body))
        elif method == "GET" and path == STATS_PATH:
            stats = {"requests": self._stats.requests, "open_streams": self._stats.open_streams}
            self._write(_small("200 OK", orjson.dumps(stats)))
        elif method == "GET" and path == "/healthz":
            self._write(_small("200 OK", b'{"ok":true}'))
        else:
            self._write(_small("404 Not Found", b'{"code":"NotFound"}'))

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    async def _stream(self, head: bytes, frames: tuple[bytes, ...], interval: float) -> None:
        chunks = _chunked(frames)
        self._stats.open_streams += 1
        try:
            # The status line, headers and first frame leave together, as a real service's
            # first flush after the model's first token.
            self._write(head + chunks[0])
            if interval > 0:
                for chunk in chunks[1:]:
                    await asyncio.sleep(interval)
                    self._write(chunk)
            else:
                for start in range(1, len(chunks), _BATCH):
                    await self._writable.wait()
                    self._write(b"".join(chunks[start : start + _BATCH]))
            self._write(b"0\r\n\r\n")
        finally:
            self._stats.open_streams -= 1


def _wants_usage(body: bytes) -> bool:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    options = request.get("stream_options") if isinstance(request, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def _configure(settings: UpstreamSettings, body: bytes) -> bytes:
    try:
        update = orjson.loads(body)
        frames = int(update.get("frames", settings.frames))
        frame_bytes = int(update.get("frame_bytes", settings.frame_bytes))
        interval = float(update.get("interval", settings.interval))
        expected_content(frames, frame_bytes)  # validates the shape
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        return _small("400 Bad Request", orjson.dumps({"error": str(exc)}))
    settings.frames, settings.frame_bytes, settings.interval = frames, frame_bytes, interval
    return _small("200 OK", orjson.dumps({"frames": frames, "frame_bytes": frame_bytes}))


async def serve(host: str, port: int, settings: UpstreamSettings) -> asyncio.Server:
    """Start listening; the caller owns the returned server (and its event loop)."""
    stats = _Stats()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _Connection(settings, stats), host, port, backlog=4096, reuse_address=True
    )


def _write_port(path: str, port: int) -> None:
    # Written whole then renamed, so a reader polling for the file never sees half a number.
    target = Path(path)
    temporary = target.with_name(target.name + f".{os.getpid()}.tmp")
    temporary.write_text(str(port), encoding="utf-8")
    temporary.replace(target)


async def _main(args: argparse.Namespace) -> None:
    settings = UpstreamSettings(args.frames, args.frame_bytes, args.interval)
    server = await serve(args.host, args.port, settings)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        _write_port(args.port_file, port)
    else:
        print(port, flush=True)
    # Bounded even if whoever started it forgets to stop it.
    await asyncio.sleep(args.max_seconds)
    server.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--frames", type=int, default=40, help=f"native frames (>= {MIN_FRAMES})")
    parser.add_argument("--frame-bytes", type=int, default=16, help="text characters per frame")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between frames")
    parser.add_argument("--port-file", default="", help="write the bound port here when ready")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        expected_content(args.frames, args.frame_bytes)
    except ValueError as exc:
        print(f"bench.upstream: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
