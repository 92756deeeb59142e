"""Where a serving proxy's CPU goes, by event-loop callback and by stage of a frame.

Not imported by anything: Python imports `sitecustomize` at startup from the path, so with
this directory first on PYTHONPATH and PROBE_OUT set, each `serve` process the benchmark starts
probes itself and writes `<PROBE_OUT>.<pid>` when it exits: its CPU time,
then one line per kind of work (thread CPU nanoseconds, calls, kind), largest first. The
kinds are what each asyncio callback ran (a socket read, by the protocol it belongs to; a
task step, by the coroutine and the line it resumed from) and, nested inside those, the
stages of a frame (`~` lines: the chunked-body parser, the SSE decoder, the translation, the
socket writes). For example, over a quick run (each proxy it starts writes its own file; the
results go elsewhere, as a probed run is no reference):

    PROBE_OUT=/tmp/probe PYTHONPATH=bench/probe:. python -m bench --quick --no-litellm \
        --out /tmp/probed

Each wrapped call costs about a microsecond more, so read shares, not absolute figures. The
probe wraps asyncio's own loop, written in Python; uvloop's callbacks are C and cannot be
wrapped, so a probed proxy serves on asyncio's loop (uvloop made unimportable, which `[server]
loop = "auto"` falls back from): the shares are that loop's.
"""

from __future__ import annotations

import asyncio.events
import asyncio.selector_events
import atexit
import collections
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_OUT = os.environ.get("PROBE_OUT", "")
_spent: collections.defaultdict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
_clock = time.thread_time_ns
_STAGES = (
    ("proxy.server.upstream_http", "Connection", "data_received"),
    ("proxy.core.http1", "ResponseParser", "feed"),
    ("proxy.server.upstream_stream", "UpstreamStream", "_decode"),
    ("proxy.core.translation", "Translation", "feed"),
)


def _counted(kind: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        start = _clock()
        try:
            return call(*args, **kwargs)
        finally:
            spent = _spent[kind]
            spent[0] += 1
            spent[1] += _clock() - start

    return counted


def _kind(handle: asyncio.events.Handle) -> str:
    callback: Any = handle._callback  # type: ignore[attr-defined]
    name = getattr(callback, "__qualname__", type(callback).__name__)
    owner = getattr(callback, "__self__", None)
    if owner is None:
        return str(name)
    protocol = getattr(owner, "_protocol", None)
    if protocol is not None:
        return f"{name}[{type(protocol).__name__}]"
    if isinstance(owner, asyncio.Task):
        return f"task:{_resumed_at(owner)}"
    return f"{type(owner).__name__}.{name}"


def _resumed_at(task: asyncio.Task[Any]) -> str:
    """The task's coroutine and where its innermost awaiting frame was suspended."""
    coroutine: Any = task.get_coro()
    name, where = getattr(coroutine, "__qualname__", "?"), "start"
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None)
        if frame is not None:
            where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
        coroutine = getattr(coroutine, "cr_await", None)
    return f"{name}@{where}"


def _install() -> None:
    run = asyncio.events.Handle._run
    staged = False

    def probed(handle: asyncio.events.Handle) -> None:
        nonlocal staged
        if not staged:  # the app is imported before the loop runs its first callback
            staged = True
            _stage()
        start = _clock()
        try:
            run(handle)
        finally:
            spent = _spent[_kind(handle)]
            spent[0] += 1
            spent[1] += _clock() - start

    # Assigned through setattr: typeshed knows neither the private transport class nor a
    # function with `Handle._run`'s signature standing in for the method.
    setattr(asyncio.events.Handle, "_run", probed)  # noqa: B010
    transport: Any = getattr(asyncio.selector_events, "_SelectorSocketTransport")  # noqa: B009
    transport.write = _counted("~socket writes", transport.write)
    atexit.register(_write)


def _stage() -> None:
    for module, cls, method in _STAGES:
        found = getattr(sys.modules.get(module), cls, None)
        if found is not None:
            setattr(found, method, _counted(f"~{cls}.{method}", getattr(found, method)))


def _write() -> None:
    lines = [f"process_cpu_ns {time.process_time_ns()}"]
    for kind, (calls, spent) in sorted(_spent.items(), key=lambda item: -item[1][1]):
        lines.append(f"{spent} {calls} {kind}")
    with open(f"{_OUT}.{os.getpid()}", "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


# Only the proxy's `serve`: the simulator and the load generator run unprobed.
if _OUT and "serve" in sys.argv:
    sys.modules["uvloop"] = None  # type: ignore[assignment]  # `import uvloop` raises ImportError
    _install()
