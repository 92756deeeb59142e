"""Profile the proxy's streaming hot path: one proxy worker between a zero-delay upstream and a
load driver, each in its own process (pinned to separate cores when there are two or more).

    python -m bench.profile_hot_path --frames 2000 --concurrency 8 --requests 64
    python -m bench.profile_hot_path --profiler pyinstrument --out bench/.work/before
    python -m bench.profile_hot_path --profiler py-spy --traffic-log bench/.work/traffic.jsonl

It reports translated chunks per second, time to first `data:` byte, and the proxy's RSS, and
writes the profile (and a text summary of its top entries) under `bench/.work/`. The driver
speaks raw HTTP/1.1 over asyncio streams so that it costs far less CPU than the proxy it
measures; it checks every stream ends with `data: [DONE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.procs import cpu_seconds, cpu_split, free_port, interrupt, pin, rss_bytes
from bench.spy import start_spy, stop_spy, top_frames
from bench.stats import percentile

WORK = Path(__file__).resolve().parent / ".work" / "hot_path"
NATIVE_PATH = "/api/v1/services/aigc/text-generation/generation"
CHAT_PATH = "/v1/chat/completions"
KEY = "sk-fake-bench"
_DONE = b"data: [DONE]"
_LAST_CHUNK = b"\r\n0\r\n\r\n"
_START_TIMEOUT = 20.0


@dataclass(slots=True)
class Options:
    frames: int
    frame_bytes: int
    concurrency: int
    requests: int
    seconds: float
    profiler: str
    traffic_log: str
    out: Path
    direct: bool
    upstream_module: str
    rate: int
    interval: float
    think: float


@dataclass(slots=True)
class Result:
    """One client request's outcome as the driver saw it."""

    chunks: int
    first_byte: float  # seconds from sending the request to the first `data:` bytes
    done: bool


@dataclass(slots=True)
class Run:
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0
    rss_idle_kb: int = 0
    rss_peak_kb: int = 0
    # CPU seconds each process (proxy, upstream, driver) used during the measured part.
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_split: dict[str, tuple[float, float]] = field(default_factory=dict)  # user, system
    cores: dict[str, float] = field(default_factory=dict)  # busy share of each core


def _parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_hot_path")
    parser.add_argument("--frames", type=int, default=2000, help="upstream frames per stream")
    parser.add_argument("--frame-bytes", type=int, default=16, help="text per upstream frame")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=64, help="streams in all")
    parser.add_argument("--seconds", type=float, default=120.0, help="hard limit for the run")
    parser.add_argument(
        "--profiler", choices=("none", "pyinstrument", "py-spy", "cprofile"), default="none"
    )
    parser.add_argument(
        "--traffic-log", default="", help="[traffic_log] path for the proxy; empty: off"
    )
    parser.add_argument("--out", type=Path, default=WORK / "profile", help="profile file stem")
    parser.add_argument(
        "--direct", action="store_true", help="drive the upstream itself, without the proxy"
    )
    parser.add_argument("--upstream-module", default="bench.upstream")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument(
        "--interval", type=float, default=0.0, help="upstream seconds between frames (0: none)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="random pause up to this between a client's streams",
    )
    args = parser.parse_args(argv)
    return Options(
        frames=args.frames,
        frame_bytes=args.frame_bytes,
        concurrency=args.concurrency,
        requests=args.requests,
        seconds=args.seconds,
        profiler=args.profiler,
        traffic_log=args.traffic_log,
        out=args.out,
        direct=args.direct,
        upstream_module=args.upstream_module,
        rate=args.rate,
        interval=args.interval,
        think=args.think,
    )


def _wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise SystemExit(f"profile_hot_path: {what} did not start in {_START_TIMEOUT:g} s")


@contextlib.contextmanager
def _process(
    command: list[str], cpu: int, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` pinned to `cpu`, its output in `log` (a pipe nobody reads would stall it)."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=cwd)
    pin(process.pid, cpu)
    try:
        yield process
    finally:
        interrupt(process)


@contextlib.contextmanager
def _upstream(options: Options) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port_file = WORK / "upstream.port"
    port_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        options.upstream_module,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--frames",
        str(options.frames),
        "--frame-bytes",
        str(options.frame_bytes),
        "--interval",
        str(options.interval),
        "--port-file",
        str(port_file),
        "--max-seconds",
        str(options.seconds + 60),
    ]
    with _process(command, cpu=1, log=WORK / "upstream.log") as process:
        _wait_for(lambda: port_file.exists() and port_file.read_text().strip(), "the upstream")
        yield process, int(port_file.read_text())


def _config(upstream_port: int, options: Options) -> Path:
    path = WORK / "proxy.toml"
    traffic_log = options.traffic_log
    # One upstream connection per concurrent stream, beyond the default pool of 200.
    connections = max(200, options.concurrency + 16)
    path.write_text(
        f'[upstream]\nbase_url = "http://127.0.0.1:{upstream_port}"\n'
        f"max_connections = {connections}\n\n"
        f'[server]\nlog_level = "warning"\n\n'
        f"[traffic_log]\npath = {orjson.dumps(traffic_log).decode()}\n"
    )
    return path


def _proxy_command(options: Options, config: Path, port: int) -> list[str]:
    serve = ["-m", "proxy", "serve", "--config", str(config), "--host", "127.0.0.1"]
    serve += ["--port", str(port)]
    if options.profiler == "pyinstrument":
        html = str(options.out.with_suffix(".html"))
        return [sys.executable, "-m", "pyinstrument", "-r", "html", "-o", html, *serve]
    if options.profiler == "cprofile":  # call counts: how many calls a request makes
        return [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(options.out.with_suffix(".prof")),
            *serve,
        ]
    return [sys.executable, *serve]


def _healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _cpu_busy() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per CPU: loopback networking runs in softirqs that no process is
    charged for, so a process's own CPU time understates how busy its core is."""
    busy: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values]
            idle = ticks[3] + ticks[4]
            busy[name] = (sum(ticks[:8]) - idle, sum(ticks[:8]))
    return busy


def _request(port: int, direct: bool) -> bytes:
    if direct:
        path = NATIVE_PATH
        body = orjson.dumps(
            {
                "model": "qwen3-max-preview",
                "input": {"messages": [{"role": "user", "content": "bench"}]},
                "parameters": {"incremental_output": True, "result_format": "message"},
            }
        )
        extra = b"x-dashscope-sse: enable\r\naccept: text/event-stream\r\n"
    else:
        path = CHAT_PATH
        body = orjson.dumps(
            {
                "model": "qwen3-max-preview",
                "messages": [{"role": "user", "content": "bench"}],
                "stream": True,
                "enable_code_interpreter": True,
                "enable_thinking": True,
            }
        )
        extra = b""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"authorization: Bearer {KEY}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
    ).encode()
    return head + extra + b"\r\n" + body


async def _stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes) -> Result:
    """One request on a kept-alive connection; counts `data:` frames without parsing them."""
    sent = time.perf_counter()
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer: {head[:300]!r}")
    chunks, first, tail = 0, 0.0, b""
    while True:
        data = await reader.read(65536)
        if not data:
            break
        if not first and b"data:" in tail + data:
            first = time.perf_counter() - sent
        window = tail + data
        # Counting in the overlap too would count a frame twice: count only what ends in data.
        chunks += window.count(b"data:") - tail.count(b"data:")
        tail = window[-64:]
        if window.endswith(_LAST_CHUNK) or tail.endswith(_LAST_CHUNK):
            break
    done = _DONE in tail or _DONE in data[-64:]
    return Result(chunks=chunks - (1 if done else 0), first_byte=first, done=done)


async def _worker(
    port: int, req: bytes, budget: list[int], results: list[Result], think: float = 0.0
) -> None:
    """Streams one after another on one connection; `think` keeps concurrent clients out of
    step, as independent users are, instead of arriving in bursts."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0:
            budget[0] -= 1
            results.append(await _stream(reader, writer, req))
            if think > 0:
                await asyncio.sleep(random.uniform(0, think))
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _drive(options: Options, port: int, pids: dict[str, int]) -> Run:
    """Warm up with one stream, then run the measured ones; `pids` are watched for CPU and
    (the proxy's) memory."""
    run = Run()
    pid = pids.get("proxy")
    req = _request(port, options.direct)
    # A warm-up round at full concurrency: imports, caches and the proxy's upstream
    # connections are set up before the clock starts, as in a server that has been running.
    warm: list[Result] = []
    warm_budget = [options.concurrency]
    await asyncio.gather(
        *(_worker(port, req, warm_budget, warm) for _ in range(options.concurrency))
    )
    if pid is not None:
        run.rss_idle_kb = rss_bytes(pid) // 1024
    budget = [options.requests]
    cpu = {name: cpu_seconds(each) for name, each in pids.items()}
    split = {name: cpu_split(each) for name, each in pids.items()}
    cores = _cpu_busy()
    started = time.perf_counter()
    workers = [
        asyncio.ensure_future(_worker(port, req, budget, run.results, options.think))
        for _ in range(options.concurrency)
    ]
    watch = asyncio.gather(*workers)
    while not watch.done():
        if pid is not None:
            run.rss_peak_kb = max(run.rss_peak_kb, rss_bytes(pid) // 1024)
        await asyncio.wait([watch], timeout=0.2)
    await watch
    run.elapsed = time.perf_counter() - started
    run.cpu = {name: cpu_seconds(each) - cpu[name] for name, each in pids.items()}
    for name, each in pids.items():
        user, system = cpu_split(each)
        run.cpu_split[name] = (user - split[name][0], system - split[name][1])
    for name, (busy, total) in _cpu_busy().items():
        before_busy, before_total = cores[name]
        run.cores[name] = (busy - before_busy) / max(1, total - before_total)
    return run


def _report(options: Options, run: Run) -> str:
    chunks = sum(r.chunks for r in run.results)
    firsts = [r.first_byte * 1000 for r in run.results]
    incomplete = sum(1 for r in run.results if not r.done)
    target = "upstream (direct)" if options.direct else "proxy"
    lines = [
        f"{target}: {len(run.results)} streams x {options.frames} frames, "
        f"concurrency {options.concurrency}, traffic log {options.traffic_log or 'off'}, "
        f"profiler {options.profiler}",
        f"  chunks/s       {chunks / run.elapsed:,.0f}  ({chunks} chunks in {run.elapsed:.2f} s)",
        f"  first data ms  p50 {percentile(firsts, 50):.2f}  p99 {percentile(firsts, 99):.2f}",
    ]
    if run.rss_idle_kb:
        growth = (run.rss_peak_kb - run.rss_idle_kb) / options.concurrency
        lines.append(
            f"  proxy RSS KB   warm idle {run.rss_idle_kb}  peak {run.rss_peak_kb}  "
            f"({growth:.1f} per concurrent stream)"
        )
    used = ", ".join(f"{name} {100 * cpu / run.elapsed:.0f}%" for name, cpu in run.cpu.items())
    lines.append(f"  CPU of a core  {used}")
    busy = ", ".join(f"{name} {100 * share:.0f}%" for name, share in run.cores.items())
    lines.append(f"  cores busy     {busy}")
    if run.cpu.get("proxy"):
        lines.append(f"  proxy          {chunks / run.cpu['proxy']:,.0f} chunks per CPU second")
        user, system = run.cpu_split.get("proxy", (0.0, 0.0))
        per = 1000 / max(1, len(run.results))
        lines.append(
            f"  proxy CPU/req  {run.cpu['proxy'] * per:.2f} ms "
            f"(user {user * per:.2f}, system {system * per:.2f})"
        )
    if incomplete and not options.direct:
        lines.append(f"  WARNING: {incomplete} stream(s) did not end with data: [DONE]")
    return "\n".join(lines)


def _profile_proxy(
    options: Options, upstream: subprocess.Popen[bytes], port: int
) -> tuple[Run, str]:
    listen = free_port()
    command = _proxy_command(options, _config(port, options), listen)
    # Outside the checkout, `-m proxy` imports whichever `proxy` PYTHONPATH names first (a
    # scratch copy with a change to measure), else the installed one.
    with _process(command, cpu=0, log=WORK / "proxy.log", cwd=WORK) as proxy:
        _wait_for(lambda: _healthy(listen) or proxy.poll() is not None, "the proxy")
        if proxy.poll() is not None:
            raise SystemExit(f"the proxy exited; see {WORK / 'proxy.log'}")
        spy = (
            start_spy(proxy.pid, options.rate, options.out.with_suffix(".txt"), cpu=1)
            if options.profiler == "py-spy"
            else None
        )
        try:
            pids = {"proxy": proxy.pid, "upstream": upstream.pid, "driver": os.getpid()}
            drive = _drive(options, listen, pids)
            run = asyncio.run(asyncio.wait_for(drive, options.seconds))
        finally:
            if spy is not None:
                stop_spy(spy)
    summary = ""
    if options.profiler == "py-spy":
        summary = top_frames(options.out.with_suffix(".txt"))
    elif options.profiler == "pyinstrument":
        summary = f"pyinstrument profile: {options.out.with_suffix('.html')}"
    return run, summary


def main(argv: Sequence[str] | None = None) -> int:
    options = _parse(argv)
    if options.traffic_log and options.traffic_log != "stdout":
        options.traffic_log = str(Path(options.traffic_log).resolve())
    WORK.mkdir(parents=True, exist_ok=True)
    options.out = options.out.resolve()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    pin(os.getpid(), 1)
    with _upstream(options) as (upstream, port):
        if options.direct:
            pids = {"upstream": upstream.pid, "driver": os.getpid()}
            run = asyncio.run(asyncio.wait_for(_drive(options, port, pids), options.seconds))
            summary = ""
        else:
            run, summary = _profile_proxy(options, upstream, port)
    report = _report(options, run)
    print(report)
    if summary:
        print(summary)
        options.out.with_suffix(".summary").write_text(report + "\n" + summary + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
