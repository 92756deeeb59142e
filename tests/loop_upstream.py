"""An upstream for tests that drive the proxy app by hand in their own event loop: a real
HTTP/1.1 server on loopback, in that same loop, answering each request with what a handler
makes of it (an `httpx.Request` in, an `httpx.Response` out, its stream sent chunked as it
comes). The proxy's own HTTP client then talks to it over a socket, as it talks to DashScope,
while the test's asyncio objects (events a body waits on) stay in one loop.

When the proxy closes the connection mid-body, the handler's stream is closed (`aclose`), as
a server's would be: tests check the proxy lets go of its upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
_SKIPPED = frozenset({"content-length", "transfer-encoding", "connection"})


@contextlib.asynccontextmanager
async def loop_upstream(handler: Handler) -> AsyncIterator[str]:
    """`async with loop_upstream(handler) as base_url:` on 127.0.0.1, an ephemeral port."""
    connections: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            while await _one(handler, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            connections.discard(task)
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


async def _one(
    handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    """Answer one request; False when the client closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return False
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = [tuple(line.split(":", 1)) for line in lines[1:] if line]
    fields = {name.strip().lower(): value.strip() for name, value in headers}
    body = await reader.readexactly(int(fields.get("content-length", "0")))
    request = httpx.Request(
        method,
        f"http://{fields.get('host', 'upstream')}{target}",
        headers=[(n.strip(), v.strip()) for n, v in headers],
        content=body,
    )
    made = handler(request)
    response = await made if inspect.isawaitable(made) else made
    head_lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
    head_lines += [f"{k}: {v}" for k, v in response.headers.items() if k.lower() not in _SKIPPED]
    head_lines += ["transfer-encoding: chunked", "", ""]
    writer.write("\r\n".join(head_lines).encode("latin-1"))
    await _body(response, reader, writer)
    return True


async def _body(
    response: httpx.Response, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """The response's stream, chunked, until it ends or the client goes away."""
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)

    async def send() -> None:
        async for piece in stream:
            if piece:
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    sending = asyncio.ensure_future(send())
    gone = asyncio.ensure_future(reader.read(1))  # b"": the client closed its side
    try:
        await asyncio.wait({sending, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not sending.done():
            sending.cancel()
            raise ConnectionError("the client went away")
        sending.result()
    finally:
        for task in (sending, gone):
            task.cancel()
        await asyncio.gather(sending, gone, return_exceptions=True)
        await stream.aclose()
