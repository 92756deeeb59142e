"""`dashscope-proxy serve | demo | logs`: the command line.

A mistake the user can fix (a bad flag, a config file that is missing, unreadable or invalid, a
port that is taken) is one line on stderr and an exit code from `EXIT_CODES`, never a
traceback. docs/operations.md lists the same codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import NoReturn

from proxy import __version__
from proxy.cli.web.command import add_web_parser, run_web
from proxy.config import ENVIRONMENT, ConfigError, Settings, check_exposure, load_settings
from proxy.inspect.commands import add_logs_parser, run_logs

PROG = "dashscope-proxy"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANNOT_LISTEN = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C before the server took the signal over, as shells count it

_EXITS = (
    (EXIT_OK, "stopped as asked (SIGTERM or Ctrl-C, after the drain)"),
    (EXIT_FAILED, "the demo's sample request failed"),
    (EXIT_USAGE, "usage or config error: a bad flag, or a config file that is missing,"),
    (None, "unreadable or invalid (the message names the flag or key)"),
    (EXIT_CANNOT_LISTEN, "cannot listen: the port is in use, or the address is not this machine's"),
    (EXIT_INTERRUPTED, "Ctrl-C before serving started, or during the demo's sample request"),
)
EXIT_CODES = "exit codes:\n" + "".join(
    f"  {'' if code is None else code:>3}  {text}\n" for code, text in _EXITS
)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line: what is wrong, and where to look next."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    port = int(text) if text.strip().isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return port


def _host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _environment_help() -> str:
    defaults = Settings()
    width = max(map(len, ENVIRONMENT))
    lines = ["environment (overrides the config file; the flags override both):"]
    for name, (section, key) in ENVIRONMENT.items():
        listed = isinstance(getattr(getattr(defaults, section), key), tuple)
        lines.append(f"  {name:<{width}}  [{section}] {key}{', comma-separated' if listed else ''}")
    return "\n".join(lines) + "\n"


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser, and the demo's (whose flags depend on each other)."""
    parser = _Parser(
        prog=PROG,
        description="OpenAI-compatible streaming proxy for DashScope's native protocol.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the proxy",
        epilog=f"{_environment_help()}\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--config", metavar="FILE", help="TOML config (see config.example.toml)")
    serve.add_argument("--host", type=_host, help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="listen port (default 8000; 0: any free one)")

    demo = commands.add_parser(
        "demo",
        help="run the proxy in front of the built-in DashScope simulator and send a sample request",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the proxy and simulator running to try your own client against them",
    )
    demo.add_argument("--port", type=_port, help="proxy port with --serve (default 8000)")
    add_web_parser(add_logs_parser(commands))
    return parser, demo


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config, os.environ)
    server = settings.server
    if args.host is not None:
        server = replace(server, host=args.host)
    if args.port is not None:
        server = replace(server, port=args.port)
    return replace(settings, server=server)


def _fail(code: int, message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        check_exposure(settings)
    except ConfigError as exc:
        return _fail(EXIT_USAGE, f"config error: {exc}")
    for note in settings.deprecations:  # one line each, before the server's own log
        print(f"{PROG}: config warning: {note}", file=sys.stderr)
    from proxy.server.app import create_app
    from proxy.server.applog import configure_logging
    from proxy.server.serving import CannotListen, serve_forever

    configure_logging(settings.server.log_level)
    try:
        serve_forever(create_app(settings), settings.server, settings.upstream.max_connections)
    except CannotListen as exc:
        return _fail(EXIT_CANNOT_LISTEN, str(exc))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from proxy.cli.demo import run_demo
    from proxy.server.serving import CannotListen

    # The demo prints its own story; request lines and client chatter would clutter it.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_demo(serve=args.serve, port=args.port)
    except CannotListen as exc:
        return _fail(EXIT_CANNOT_LISTEN, str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    parser, demo = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.port is not None and not args.serve:
        demo.error("--port applies only with --serve")
    try:
        if args.command == "logs" and args.logs_command == "web":
            return run_web(args)
        if args.command == "logs":
            return run_logs(args, clock=time.time, sleep=time.sleep)
        if args.command == "demo":
            return _demo(args)
        return _serve(args)
    except KeyboardInterrupt:  # Ctrl-C while starting up, or during the demo's request
        return EXIT_INTERRUPTED
