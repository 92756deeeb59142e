"""`dashscope-proxy logs {list,show,tail,replay,stats,export}`: arguments and what each does.

The log file is `--path`, else `[traffic_log] path` from the same `--config FILE` and
environment that `serve` reads. Exit codes: 0 done (replay: matches), 1 nothing found (replay:
differs), 2 a usage problem (no log file configured, an ambiguous id, nothing to replay).
Clocks come in as arguments (`clock`, `sleep`), so `--since` and `tail -f` are testable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from rich.console import Console, RenderableType
from rich.text import Text

from proxy.config import ConfigError, load_settings
from proxy.inspect.export import DEFAULT_BASE_URL, FORMATS, export
from proxy.inspect.files import Follower, LogRead, Record, log_files, read_log
from proxy.inspect.query import Filter, parse_since, resolve, select, started_at
from proxy.inspect.render import make_console, replay_view, rows_table, stats_view, trimmed
from proxy.inspect.render_show import show_view
from proxy.inspect.replay import ReplayUnavailable, replay
from proxy.inspect.stats import compute_stats

PROG = "dashscope-proxy logs"
STDOUT_SINK = "stdout"
DEMO_TRAFFIC_LOG = "dashscope-proxy-demo.jsonl"  # written by `dashscope-proxy demo`


class LogsError(Exception):
    """A problem the user can fix; the message says how. `code` is the exit status."""

    def __init__(self, message: str, code: int = 2, details: RenderableType | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


def source_options() -> argparse.ArgumentParser:
    """`--config FILE | --path FILE`: which log a `logs` command reads (a parent parser)."""
    source = argparse.ArgumentParser(add_help=False)
    where = source.add_mutually_exclusive_group()
    where.add_argument(
        "--config", metavar="FILE", help="the config `serve` takes; its [traffic_log] path is read"
    )
    where.add_argument(
        "--path", metavar="FILE", help="the traffic log file (FILE.1 .. FILE.N are read too)"
    )
    return source


def add_logs_parser(commands: argparse._SubParsersAction[Any]) -> argparse._SubParsersAction[Any]:
    """`logs` and its subcommands, under the command line's parser (whatever its class); the
    subcommands' action, where a command living elsewhere (`logs web`) adds itself."""
    source = source_options()
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--status", type=int, metavar="N", help="only this HTTP status")
    filters.add_argument(
        "--errors", action="store_true", help="only errors: status >= 400, error or cancelled"
    )
    filters.add_argument("--model", metavar="M", help="only this model")
    filters.add_argument("--since", metavar="WHEN", help="10m, 2h, 1d, or an ISO time")
    filters.add_argument(
        "--grep", metavar="TEXT", help="case-insensitive, in messages, reasoning, code, answers"
    )
    filters.add_argument(
        "--key",
        metavar="NAME",
        help="only exchanges made with this proxy key (name or fingerprint)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="JSON instead of a rendering")

    logs = commands.add_parser("logs", help="inspect the traffic log ([traffic_log] path)")
    sub: argparse._SubParsersAction[Any] = logs.add_subparsers(
        dest="logs_command", required=True, metavar="COMMAND"
    )
    listing = sub.add_parser(
        "list", parents=[source, filters, as_json], help="exchanges, newest first"
    )
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="default 50; 0: all")
    show = sub.add_parser("show", parents=[source, as_json], help="one exchange, for a person")
    show.add_argument("id", help="an exchange id; a unique prefix is enough")
    tail = sub.add_parser("tail", parents=[source, filters], help="the latest exchanges")
    tail.add_argument("-n", type=int, default=10, metavar="N", help="how many (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new exchanges")
    tail.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    again = sub.add_parser(
        "replay", parents=[source], help="re-translate captured frames; compare with the record"
    )
    again.add_argument("id", help="an exchange id; a unique prefix is enough")
    stats = sub.add_parser(
        "stats", parents=[source, as_json], help="counts, error rates, latencies, tokens, cost"
    )
    stats.add_argument("--since", metavar="WHEN", help="10m, 2h, 1d, or an ISO time")
    out = sub.add_parser(
        "export",
        parents=[source, filters],
        help="exchanges, oldest first, as JSON lines, CSV, HAR or curl commands",
    )
    out.add_argument("--format", required=True, choices=FORMATS, help="what to print")
    out.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help=f"the proxy's address in HAR and curl (default {DEFAULT_BASE_URL})",
    )
    out.add_argument("--limit", type=int, default=0, metavar="N", help="the newest N (0: all)")
    return sub


@dataclass(slots=True)
class _Context:
    args: argparse.Namespace
    path: str
    out: Console
    err: Console
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def run_logs(
    args: argparse.Namespace,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    environ: Mapping[str, str] | None = None,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    err = err or make_console(stderr=True)
    try:
        path = log_path(args, os.environ if environ is None else environ)
        context = _Context(args, path, out or make_console(), err, clock, sleep)
        return _COMMANDS[args.logs_command](context)
    except LogsError as exc:
        err.print(Text(f"{PROG}: {exc}"), soft_wrap=True)  # one line, whatever the width
        if exc.details is not None:
            err.print(trimmed(exc.details))
        return exc.code
    except KeyboardInterrupt:  # Ctrl-C, as `tail -f` expects it
        return 0
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def log_path(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    if args.path:
        return str(args.path)
    try:
        configured = load_settings(args.config, environ).traffic_log.path
    except ConfigError as exc:
        raise LogsError(f"config error: {exc}") from None
    if configured == STDOUT_SINK:
        raise LogsError(
            "[traffic_log] path is stdout here, so there is no file to read: "
            "pass --path FILE (or --config FILE with a file path)"
        )
    if not configured and args.config is None and os.path.exists(DEMO_TRAFFIC_LOG):
        # Nothing configured, but `dashscope-proxy demo` left its log here: the first thing a
        # new user wants to look at.
        return DEMO_TRAFFIC_LOG
    if not configured:
        raise LogsError(
            "no traffic log file: set [traffic_log] path in the config "
            "(--config FILE, or DASHSCOPE_PROXY_TRAFFIC_LOG), or pass --path FILE"
        )
    return configured


def _read(context: _Context) -> list[Record]:
    if not log_files(context.path):
        raise LogsError(f"no traffic log at {context.path} (nothing recorded yet?)", code=1)
    read = read_log(context.path)
    _report_corrupt(context, read)
    return read.records


def _report_corrupt(context: _Context, read: LogRead) -> None:
    if not read.corrupt:
        return
    where = ", ".join(f"{c.file}:{c.line}" for c in read.corrupt[:5])
    more = ", ..." if len(read.corrupt) > 5 else ""
    context.err.print(Text(f"{PROG}: skipped {len(read.corrupt)} corrupt line(s): {where}{more}"))


def _filter(context: _Context) -> Filter:
    args = context.args
    return Filter(
        status=getattr(args, "status", None),
        errors=bool(getattr(args, "errors", False)),
        model=getattr(args, "model", None),
        since=_since(context),
        grep=getattr(args, "grep", None) or None,
        key=getattr(args, "key", None) or None,
    )


def _since(context: _Context) -> float | None:
    since = getattr(context.args, "since", None)
    if not since:
        return None
    try:
        return parse_since(since, context.clock())
    except ValueError as exc:
        raise LogsError(str(exc)) from None


def _write_json(context: _Context, value: Any, *, indent: bool = False) -> None:
    option = orjson.OPT_INDENT_2 if indent else 0
    context.out.file.write(orjson.dumps(value, option=option).decode() + "\n")


def _list(context: _Context) -> int:
    records = _read(context)
    matching = select(records, _filter(context))
    limit = context.args.limit
    shown = matching[:limit] if limit > 0 else matching
    if context.args.json:
        for record in shown:
            _write_json(context, record)
        return 0
    if not shown:
        context.err.print(Text(f"{PROG}: no matching exchanges in {len(records)}"))
        return 0
    context.out.print(trimmed(rows_table(shown)))
    if len(shown) < len(matching):
        context.err.print(Text(f"{len(shown)} of {len(matching)} shown (--limit N, 0 for all)"))
    return 0


def _one(context: _Context) -> Record:
    records = _read(context)
    found = resolve(records, context.args.id)
    if not found:
        raise LogsError(f"no exchange with an id starting {context.args.id!r}", code=1)
    if len(found) > 1:
        raise LogsError(
            f"{context.args.id!r} matches {len(found)} exchanges; give more of the id",
            details=rows_table(found),
        )
    return found[0]


def _show(context: _Context) -> int:
    record = _one(context)
    if context.args.json:
        _write_json(context, record, indent=True)
    else:
        context.out.print(trimmed(show_view(record)))
    return 0


def _replay(context: _Context) -> int:
    record = _one(context)
    try:
        result = replay(record)
    except ReplayUnavailable as exc:
        raise LogsError(f"nothing to replay in {record['id']}: {exc}") from None
    context.out.print(trimmed(replay_view(result, record["id"])))
    return 0 if result.matches else 1


def _stats(context: _Context) -> int:
    since = _since(context)
    records = [r for r in _read(context) if since is None or started_at(r) >= since]
    stats = compute_stats(records)
    if context.args.json:
        _write_json(context, stats, indent=True)
    else:
        context.out.print(trimmed(stats_view(stats, context.args.since)))
    return 0


def _tail(context: _Context) -> int:
    args = context.args
    if not args.follow and not log_files(context.path):
        raise LogsError(f"no traffic log at {context.path} (nothing recorded yet?)", code=1)
    where = _filter(context)
    with Follower(context.path) as follower:
        live = follower.poll()  # opened first: what is rotated meanwhile is read twice, not lost
        seen = {record["id"] for record in live.records}
        read = read_log(context.path, live=False)
        read.records = [r for r in read.records if r["id"] not in seen]
        read.extend(live)
        _report_corrupt(context, read)
        recent = sorted((r for r in read.records if where.matches(r)), key=started_at)
        width = context.out.width if args.follow else None
        context.out.print(
            trimmed(rows_table(recent[-args.n :] if args.n > 0 else [], fixed_width=width))
        )
        if args.follow:
            _follow(follower, context, where)
    return 0


def _follow(follower: Follower, context: _Context, where: Filter) -> None:
    """Print exchanges as they are appended, until Ctrl-C (KeyboardInterrupt, here from the
    injected `sleep`, as from the real one)."""
    while True:
        context.sleep(context.args.interval)
        new = follower.poll()
        _report_corrupt(context, new)
        matching = [r for r in new.records if where.matches(r)]
        if matching:
            context.out.print(
                trimmed(rows_table(matching, header=False, fixed_width=context.out.width))
            )


def _export(context: _Context) -> int:
    args = context.args
    chosen = select(_read(context), _filter(context), args.limit)
    chosen.reverse()  # oldest first, as a HAR's entries and a replay script go
    context.out.file.write(export(chosen, args.format, base_url=args.base_url))
    if not chosen:
        context.err.print(Text(f"{PROG}: no matching exchanges"))
    return 0


_COMMANDS: dict[str, Callable[[_Context], int]] = {
    "list": _list,
    "show": _show,
    "tail": _tail,
    "replay": _replay,
    "stats": _stats,
    "export": _export,
}
