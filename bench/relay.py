"""A byte relay between the load generator and the simulator: the floor of any Python proxy.

It parses nothing and translates nothing: each client connection gets one connection to the
simulator and every read is written to the other side as it came. Its CPU per request is
what two more hops per frame cost in Python's event loop on this machine (a wake-up, a
`recv()` and a `send()` each way), which the proxy pays too before doing any work of its own.
No flow control: only the latency levels (short streams) use it. It runs on the loop the
proxy's `[server] loop = "auto"` picks (uvloop where installed), so the two stay comparable.

`python -m bench.relay --upstream-port N --port 0 --port-file PATH`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from uvicorn.loops.auto import auto_loop_factory


class _Side(asyncio.Protocol):
    """One end of a relayed connection; what it reads goes to `peer` (held until it exists)."""

    def __init__(self, peer: _Side | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer = peer
        self.held: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport subclass under uvloop.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        else:
            self.held.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def link(self, peer: _Side) -> None:
        self.peer = peer
        if self.held and peer.transport is not None:
            peer.transport.write(b"".join(self.held))
        self.held.clear()


class _Client(_Side):
    """The load generator's side: opens its own connection to the simulator."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self._upstream_port = upstream_port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(
                lambda: _Side(peer=self), "127.0.0.1", self._upstream_port
            )
        except OSError:
            if self.transport is not None:
                self.transport.close()
            return
        self.link(upstream)


async def _main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Client(args.upstream_port), "127.0.0.1", args.port, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    args.port_file.write_text(str(port))
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args(argv)
    # uvicorn's own "auto" choice, the one the proxy's `[server] loop = "auto"` makes.
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
