"""`dashscope-proxy serve | demo | logs`: the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from proxy import __version__
from proxy.config import ConfigError, Settings, check_exposure, load_settings
from proxy.inspect.commands import add_logs_parser, run_logs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dashscope-proxy",
        description="OpenAI-compatible streaming proxy for DashScope's native protocol.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", metavar="FILE", help="TOML config (see config.example.toml)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8000)")

    demo = commands.add_parser(
        "demo",
        help="run the proxy in front of the built-in DashScope simulator and send a sample request",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the proxy and simulator running to try your own client against them",
    )
    demo.add_argument("--port", type=int, default=0, help="proxy port with --serve (default 8000)")
    add_logs_parser(commands)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config, os.environ)
    server = settings.server
    if args.host:
        server = replace(server, host=args.host)
    if args.port is not None:
        server = replace(server, port=args.port)
    return replace(settings, server=server)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "logs":
        return run_logs(args, clock=time.time, sleep=time.sleep)
    if args.command == "demo":
        from proxy.cli.demo import run_demo

        # The demo prints its own story; request lines and client chatter would clutter it.
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return run_demo(serve=args.serve, port=args.port)
    try:
        settings = _settings(args)
        check_exposure(settings)
    except ConfigError as exc:
        print(f"dashscope-proxy: config error: {exc}", file=sys.stderr)
        return 2
    from proxy.server.app import create_app
    from proxy.server.applog import configure_logging
    from proxy.server.serving import serve_forever

    configure_logging(settings.server.log_level)
    server = settings.server
    serve_forever(
        create_app(settings),
        server.host,
        server.port,
        drain_timeout=server.drain_timeout,
        log_level=server.log_level,
    )
    return 0
