"""`dashscope-proxy logs web [--host H] [--port P] [--token T]`: its flags, and serving it.

Loopback by default. Anywhere else the pages would show every prompt and answer to whoever
reaches the port, so a non-loopback address needs a token (`--token`, or the environment's
`DASHSCOPE_PROXY_LOGS_TOKEN`, which keeps it out of the process list).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from proxy.config import is_loopback
from proxy.inspect.commands import PROG, LogsError, log_path, source_options
from proxy.inspect.files import log_files

TOKEN_ENV = "DASHSCOPE_PROXY_LOGS_TOKEN"
DEFAULT_PORT = 8001
MIN_TOKEN = 16
EXIT_CANNOT_LISTEN = 3  # as `serve`: the address cannot be bound


def add_web_parser(sub: argparse._SubParsersAction[Any]) -> None:
    web = sub.add_parser(
        "web",
        parents=[source_options()],
        help="a read-only page over the log: list, live tail, exchanges, plots",
        description="Serve read-only pages over the traffic log (127.0.0.1 by default).",
    )
    web.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    web.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"listen port (default {DEFAULT_PORT})"
    )
    web.add_argument(
        "--token",
        metavar="T",
        help=f"required from every visitor (default ${TOKEN_ENV}); needed off loopback; "
        f"at least {MIN_TOKEN} characters",
    )


def check_bind(host: str, token: str | None) -> None:
    """Refuse what would expose the log: raises LogsError with what to do instead."""
    if token is not None and len(token) < MIN_TOKEN:
        raise LogsError(f"--token must have at least {MIN_TOKEN} characters")
    if token is None and not is_loopback(host):
        raise LogsError(
            f"refusing to serve the traffic log on {host} without a token: anyone who can "
            f"reach the port would read every prompt and answer. Pass --token T (or set "
            f"{TOKEN_ENV}), or keep the default --host 127.0.0.1"
        )


def run_web(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    token = args.token or environ.get(TOKEN_ENV) or None
    try:
        check_bind(args.host, token)
        path = log_path(args, environ)
    except LogsError as exc:
        print(f"{PROG} web: {exc}", file=sys.stderr)
        return exc.code
    from proxy.cli.web.app import create_web_app
    from proxy.server.serving import CannotListen, listen, uvicorn_config

    try:
        sockets = listen(args.host, args.port)
    except CannotListen as exc:
        print(f"{PROG} web: {exc}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    import uvicorn

    for sock in sockets:  # connections wait in the backlog from now: the address printed works
        sock.listen(128)
    port = sockets[0].getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    hint = " (open it once with ?token=T)" if token else ""
    print(f"{PROG} web: {path} on http://{shown}:{port}/{hint}; Ctrl-C stops", file=sys.stderr)
    if not log_files(path):
        print(f"{PROG} web: nothing recorded at {path} yet; the list fills in", file=sys.stderr)
    app = create_web_app(path, token=token, clock=time.time)
    uvicorn.Server(uvicorn_config(app, args.host, port, log_level="warning")).run(sockets=sockets)
    return 0
