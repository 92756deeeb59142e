"""Where a request's CPU goes: py-spy's collapsed stacks of the proxy, sorted into the jobs of an
exchange (server HTTP, routing, translation, upstream client, socket writes, ...).

    python -m bench.breakdown bench/.work/c1.txt [more.txt ...]

Each sample goes to the innermost frame of its stack that names a job, so a metric updated
while a record is built counts as metrics, and h11's or anyio's frames count for whoever called
them (uvicorn, or the upstream client). Socket writes, reads and the event loop's poll
(`select`) are their own rows: on a virtual machine a `send()` that wakes a process on the
other core takes tens of microseconds of wall time, most of which is not the proxy's CPU.
"""

from __future__ import annotations

import argparse
import collections
import re
from collections.abc import Sequence
from pathlib import Path

# (job, pattern on one frame "function (file:line)"), tried from the innermost frame outwards.
_JOBS: tuple[tuple[str, str], ...] = (
    ("poll for network events (select)", r"^EpollSelector\.select|^_PollLikeSelector"),
    ("socket writes (send)", r"_SelectorSocketTransport\.write|sock_sendall|_SelectorTransport"),
    ("socket reads (recv)", r"_read_ready__data_received|_read_ready__get_buffer"),
    ("OpenTelemetry", r"proxy/server/telemetry|opentelemetry/"),
    ("metrics", r"proxy/server/metrics\.py|prometheus_client/"),
    ("app log", r"proxy/server/applog\.py|logging/__init__\.py|proxy/cli/logfmt"),
    ("traffic record", r"proxy/traffic/|proxy/server/traffic_writer\.py|proxy/core/cost\.py"),
    ("SSE decoding", r"proxy/core/sse\.py"),
    ("request body and JSON parse", r"^_body \(proxy/server/routes|^_json \(proxy/server/exchange"),
    ("request translation", r"\.translate \(proxy/|proxy/chat/request|proxy/responses/request"),
    (
        "keep-alives and deadlines",
        r"proxy/server/heartbeat\.py|UpstreamStream\._(wait|due|sleep|arm|timer_over)"
        r"|UpstreamStream\.stop_in|stop_at",
    ),
    (
        "upstream client (request, connection pool, HTTP/1.1)",
        r"httpx/|httpcore/|proxy/server/upstream|proxy/core/http1\.py",
    ),
    ("stream translation", r"proxy/core/|proxy/chat/|proxy/responses/"),
    ("admission", r"proxy/server/lifecycle\.py"),
    ("exchange end (close, hand the record off)", r"Exchange\.ended|Exchange\._record"),
    ("server HTTP (uvicorn)", r"uvicorn/|proxy/server/connections\.py"),
    (
        "routing and middleware (Starlette, ASGI)",
        r"starlette/|proxy/server/(observe|lane|serving)\.py",
    ),
    ("exchange (routes, stream body, attempts)", r"proxy/server/"),
    # Last: h11, anyio and sniffio frames count for whoever called them (server or client).
    ("event loop", r"asyncio/|selectors\.py|contextlib"),
)
_COMPILED = tuple((job, re.compile(pattern)) for job, pattern in _JOBS)
OTHER = "other"


def job_of(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        for job, pattern in _COMPILED:
            if pattern.search(frame):
                return job
    return OTHER


def breakdown(collapsed: str) -> tuple[int, collections.Counter[str]]:
    """Samples in all, and per job."""
    jobs: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        jobs[job_of(stack.split(";"))] += count
    return samples, jobs


POLL = _JOBS[0][0]


def table(
    named: Sequence[tuple[str, str]], requests: Sequence[int] | None = None, rate: int = 1000
) -> str:
    """A markdown table, one column per profile: each job's share of the samples, and with
    `requests` (how many each profile's run served) its milliseconds of busy time per request
    (py-spy samples busy threads `rate` times a second). The poll's samples, the wait for
    the network, are left out of the shares."""
    columns = [breakdown(text) for _, text in named]
    columns = [(samples - jobs.pop(POLL, 0), jobs) for samples, jobs in columns]
    order = [job for job, _ in _JOBS] + [OTHER]
    head = "| job | " + " | ".join(name for name, _ in named) + " |"
    rows = [head, "|---|" + "---:|" * len(named)]
    for job in order:
        cells = []
        for i, (samples, jobs) in enumerate(columns):
            cell = f"{100 * jobs[job] / samples if samples else 0.0:.1f} %"
            if requests is not None:
                cell += f" ({1000 * jobs[job] / rate / requests[i]:.2f} ms)"
            cells.append(cell)
        if any(jobs[job] for _, jobs in columns):
            rows.append(f"| {job} | " + " | ".join(cells) + " |")
    totals = (
        [f"{1000 * samples / rate / requests[i]:.2f} ms" for i, (samples, _) in enumerate(columns)]
        if requests is not None
        else []
    )
    if totals:
        rows.append("| busy time per request, all jobs | " + " | ".join(totals) + " |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__)
    parser.add_argument("profiles", nargs="+", type=Path, help="py-spy raw (collapsed) files")
    parser.add_argument("--requests", type=int, nargs="*", help="requests each run served")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    args = parser.parse_args(argv)
    named = [(p.stem, p.read_text()) for p in args.profiles]
    print(table(named, args.requests, args.rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
