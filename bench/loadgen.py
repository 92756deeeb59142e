"""The load generator, run in its own process: `python -m bench.loadgen PLAN.json OUT.json`.

A plan names the arms (where to send what) and one of three kinds of load:

- `latency`: for each concurrency level, `rounds` rounds; in each round every arm in turn
  (the order rotates per round, so drift hits all arms alike) serves `per_round` requests
  from `concurrency` keep-alive connections in a closed loop, kept out of step (`Pacing`).
  One warm-up request per connection first, not counted.
- `throughput`: per arm, `concurrency` connections in a closed loop for `duration` seconds;
  chunks per second over the whole window, every stream verified.
- `hold`: `streams` requests opened at `ramp` per second against one arm; once every one has
  its first byte the generator writes `ready_file` (the harness then samples memory), and
  then waits for all of them to finish.

Every response is checked byte for byte (`bench.verify`); every wait has a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.client import Connection, ConnectionDropped, Response
from bench.content import Expected, expected_content
from bench.machine import stolen_ticks
from bench.procs import cpu_seconds
from bench.stats import summary_ms
from bench.verify import Outcome, examine

_MAX_ERRORS_KEPT = 5


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    port: int
    path: str
    dialect: str  # bench.verify.NATIVE or OPENAI
    expect_code: bool
    headers: dict[str, str]
    body: bytes
    host: str = "127.0.0.1"

    @classmethod
    def from_plan(cls, spec: dict[str, Any]) -> Arm:
        return cls(
            name=spec["name"],
            port=int(spec["port"]),
            path=spec["path"],
            dialect=spec["dialect"],
            expect_code=bool(spec["expect_code"]),
            headers={"content-type": "application/json", **spec.get("headers", {})},
            body=orjson.dumps(spec["body"]),
            host=spec.get("host", "127.0.0.1"),
        )


@dataclass(slots=True)
class Tally:
    """Outcomes of one arm at one load, kept as samples until summarised."""

    ttfb: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    chunks: int = 0
    ok: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    # Responses kept whole until the round ends, then checked (None: at once): the load
    # generator shares its core with the simulator, and at c=256 checking took 3-5 % of that
    # core while the round ran (0.1-0.17 s of CPU per 512 responses), delaying reads it times.
    deferred: list[Response] | None = None

    def check_deferred(self, expected: Expected, arm: Arm, keep_gaps: bool = True) -> None:
        for response in self.deferred or ():
            self.add(examine(response, expected, arm.dialect, arm.expect_code), keep_gaps)
        self.deferred = None

    def add(self, outcome: Outcome, keep_gaps: bool = True) -> None:
        if not outcome.ok:
            self.fail(outcome.error)
            return
        self.ok += 1
        self.chunks += outcome.chunks
        self.ttfb.append(outcome.ttfb)
        self.ttft.append(outcome.ttft)
        self.total.append(outcome.total)
        if keep_gaps:
            self.gaps.extend(outcome.gaps)

    def merge(self, other: Tally) -> None:
        self.ttfb += other.ttfb
        self.ttft += other.ttft
        self.total += other.total
        self.gaps += other.gaps
        self.chunks += other.chunks
        self.ok += other.ok
        self.failed += other.failed
        self.retried += other.retried
        self.errors += other.errors[: max(0, _MAX_ERRORS_KEPT - len(self.errors))]

    def fail(self, error: str) -> None:
        self.failed += 1
        if len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(error)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.ok + self.failed,
            "ok": self.ok,
            "failed": self.failed,
            "retried": self.retried,
            "errors": self.errors,
            "chunks": self.chunks,
            "ttfb_ms": summary_ms(self.ttfb),
            "ttft_ms": summary_ms(self.ttft),
            "total_ms": summary_ms(self.total),
            "gap_ms": summary_ms(self.gaps),
        }


@dataclass(slots=True)
class CpuUse:
    """CPU time spent while one arm's requests ran, warm-up included: the simulator's (it
    serves every arm of a level in turn, so only this arm's batches count) and this
    process's own (the client side)."""

    upstream_pid: int | None
    upstream_s: float = 0.0
    upstream_waited_s: float = 0.0
    loadgen_s: float = 0.0
    requests: int = 0

    @contextlib.contextmanager
    def measure(self, requests: int) -> Iterator[None]:
        upstream, waited = _scheduled(self.upstream_pid)
        own = time.process_time()
        yield
        self.loadgen_s += time.process_time() - own
        upstream_after, waited_after = _scheduled(self.upstream_pid)
        self.upstream_s += upstream_after - upstream
        self.upstream_waited_s += waited_after - waited
        self.requests += requests

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "upstream_s": round(self.upstream_s, 4),
            "upstream_waited_s": round(self.upstream_waited_s, 4),
            "loadgen_s": round(self.loadgen_s, 4),
        }


def _scheduled(pid: int | None) -> tuple[float, float]:
    """How long the process's main thread has run on a core and waited for one (/proc's
    schedstat, in ns): one batch of the simulator's work is a few ms of CPU time, below the
    10 ms tick of /proc/PID/stat. The simulator does all its work on that thread."""
    if pid:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/schedstat").read_text().split()
            return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    return 0.0, 0.0


async def _exchange(conn: Connection, arm: Arm, time_limit: float) -> tuple[Response, bool]:
    """One request; retried once if a reused connection was closed under it before any
    byte came back (the server's keep-alive timer and our request crossed)."""
    reused = conn.is_open
    try:
        return await conn.request("POST", arm.path, arm.body, arm.headers, time_limit), False
    except (ConnectionDropped, ConnectionResetError, BrokenPipeError):
        if not reused:
            raise
    return await conn.request("POST", arm.path, arm.body, arm.headers, time_limit), True


async def _one(
    conn: Connection, arm: Arm, expected: Expected, time_limit: float, tally: Tally, gaps: bool
) -> None:
    try:
        response, retried = await _exchange(conn, arm, time_limit)
    except (TimeoutError, ConnectionDropped, OSError) as exc:
        tally.fail(f"{type(exc).__name__}: {exc}")
        return
    tally.retried += retried
    if tally.deferred is not None:
        tally.deferred.append(response)
    else:
        tally.add(examine(response, expected, arm.dialect, arm.expect_code), gaps)


@dataclass(frozen=True, slots=True)
class Pacing:
    """How the connections of a closed loop are kept out of step.

    With streams of equal length, connections that start together also end together, and the
    next requests then all arrive in the same millisecond, every time: the arm would be
    measured on bursts of `c` simultaneous requests, not on `c` open streams. So connection i
    first waits i/c of `stagger` (one stream's length), and after each stream a random pause
    of up to `think` seconds keeps the phases from locking again.
    """

    stagger: float = 0.0
    think: float = 0.0
    seed: int = 0


async def _closed_loop(
    conns: Sequence[Connection],
    arm: Arm,
    expected: Expected,
    *,
    count: int | None,
    until: float | None,
    time_limit: float,
    tally: Tally,
    gaps: bool = True,
    pacing: Pacing = Pacing(),
) -> None:
    """Each connection sends its next request as soon as the last one ended (after the
    pacing's pause), until `count` requests were started or the deadline `until` passed."""
    started = 0
    chance = random.Random(pacing.seed)

    def more() -> bool:
        return (count is None or started < count) and (until is None or time.monotonic() < until)

    async def worker(n: int, conn: Connection) -> None:
        nonlocal started
        await asyncio.sleep(pacing.stagger * n / len(conns))
        while more():
            started += 1
            await _one(conn, arm, expected, time_limit, tally, gaps)
            if pacing.think > 0 and more():
                await asyncio.sleep(chance.uniform(0, pacing.think))

    await asyncio.gather(*(worker(n, conn) for n, conn in enumerate(conns)))


# The arms share one core. An arm that fell behind (LiteLLM at c=256 spends seconds after
# its last response on deferred work: logging callbacks, cleanup) would otherwise still be
# running when the next arm's round starts, and that arm's tail would be LiteLLM's backlog.
SETTLE_WINDOW = 0.5  # seconds between two readings of the arm processes' CPU time
SETTLE_IDLE = 0.03  # at most this much CPU time in a window counts as idle (6 % of a core)
SETTLE_LIMIT = 60.0  # give up waiting after this long; the round's figure then says so


def _share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total, 3) if total else None


async def _settle(pids: Sequence[int]) -> float:
    """Wait until the processes on the arm core are idle; return the seconds waited."""
    if not pids:
        return 0.0
    began = time.monotonic()
    used = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() - began < SETTLE_LIMIT:
        await asyncio.sleep(SETTLE_WINDOW)
        now = sum(cpu_seconds(pid) for pid in pids)
        if now - used <= SETTLE_IDLE:
            break
        used = now
    return time.monotonic() - began


def _connections(arm: Arm, concurrency: int) -> list[Connection]:
    return [Connection(arm.host, arm.port) for _ in range(concurrency)]


async def _latency(plan: dict[str, Any], arms: list[Arm], expected: Expected) -> dict[str, Any]:
    levels = [await _level(plan, level, arms, expected) for level in plan["levels"]]
    return {"kind": "latency", "levels": levels}


async def _level(
    plan: dict[str, Any], level: dict[str, Any], arms: list[Arm], expected: Expected
) -> dict[str, Any]:
    time_limit = float(plan.get("timeout", 60))
    budget = float(plan.get("arm_budget", 120))
    concurrency, rounds, per_round = level["concurrency"], level["rounds"], level["per_round"]
    pacing = Pacing(level.get("stagger", 0.0), level.get("think", 0.0))
    names = level.get("arms")
    level_arms = [arm for arm in arms if names is None or arm.name in names]
    pools = {arm.name: _connections(arm, concurrency) for arm in level_arms}
    tallies = {arm.name: Tally() for arm in level_arms}
    cpu = {arm.name: CpuUse(plan.get("upstream_pid")) for arm in level_arms}
    spent = dict.fromkeys(tallies, 0.0)
    # Each round's own TTFB figures, and the arm that ran just before it: a tail that comes
    # from one round (a slow arm's leftovers on the shared core) shows here, not in the total.
    per_round_figures: dict[str, list[dict[str, Any]]] = {arm.name: [] for arm in level_arms}
    before: str | None = None
    quiet = [int(pid) for pid in plan.get("arm_pids", ())]
    for arm in level_arms:  # warm-up: opens the connections, fills caches; not counted
        await _settle(quiet)
        with cpu[arm.name].measure(concurrency):
            await _closed_loop(
                pools[arm.name], arm, expected, count=concurrency, until=None,
                time_limit=time_limit, tally=Tally(), pacing=pacing,
            )  # fmt: skip
    redo_above = plan.get("redo_steal_above")
    redo_limit = int(plan.get("redo_limit", 0))
    arm_cpus = [int(n) for n in plan.get("arm_cpus", ())]
    for round_no in range(rounds):
        shift = round_no % len(level_arms)
        for arm in level_arms[shift:] + level_arms[:shift]:
            for attempt in range(redo_limit + 1):
                if spent[arm.name] > budget:
                    break  # a slow arm may not hold up the whole run
                settled = await _settle(quiet)
                began, steal, tally = time.monotonic(), stolen_ticks(arm_cpus), Tally(deferred=[])
                with cpu[arm.name].measure(per_round):
                    await _closed_loop(
                        pools[arm.name], arm, expected, count=per_round, until=None,
                        time_limit=time_limit, tally=tally,
                        pacing=Pacing(pacing.stagger, pacing.think, seed=round_no),
                    )  # fmt: skip
                    took = time.monotonic() - began
                    share = _share(steal, stolen_ticks(arm_cpus))
                    checking = time.process_time()
                    tally.check_deferred(expected, arm)
                    checked = time.process_time() - checking
                spent[arm.name] += took
                stolen = redo_above is not None and share is not None and share > redo_above
                redo = stolen and attempt < redo_limit and not tally.failed  # failures stay
                per_round_figures[arm.name].append({
                    "round": round_no, "after": before, "seconds": round(took, 3),
                    "settled_s": round(settled, 3), "steal_share": share, "discarded": redo,
                    "check_cpu_s": round(checked, 3),
                    "ttfb_ms": summary_ms(tally.ttfb),
                })  # fmt: skip
                before = arm.name
                if not redo:
                    tallies[arm.name].merge(tally)
                    break
    for pool in pools.values():
        for conn in pool:
            conn.close()
    arms_summary = {name: tally.summary() for name, tally in tallies.items()}
    for name, seconds in spent.items():
        arms_summary[name]["seconds"] = round(seconds, 3)
        arms_summary[name]["over_budget"] = seconds > budget
        arms_summary[name]["cpu"] = cpu[name].summary()
        arms_summary[name]["rounds"] = per_round_figures[name]
    return {"concurrency": concurrency, "arms": arms_summary}


async def _throughput(plan: dict[str, Any], arms: list[Arm], expected: Expected) -> dict[str, Any]:
    time_limit = float(plan.get("timeout", 120))
    concurrency, duration = int(plan["concurrency"]), float(plan["duration"])
    results = {}
    for arm in arms:
        conns = _connections(arm, concurrency)
        own = time.process_time()
        warm = Tally()
        await _closed_loop(
            conns, arm, expected, count=concurrency, until=None, time_limit=time_limit,
            tally=warm, gaps=False,
        )  # fmt: skip
        tally = Tally()
        began = time.monotonic()
        await _closed_loop(
            conns, arm, expected, count=None, until=began + duration, time_limit=time_limit,
            tally=tally, gaps=False,
        )  # fmt: skip
        elapsed = time.monotonic() - began
        loadgen_cpu = time.process_time() - own
        for conn in conns:
            conn.close()
        summary = tally.summary()
        summary["loadgen_cpu_seconds"] = round(loadgen_cpu, 3)
        summary["seconds"] = round(elapsed, 3)
        summary["chunks_per_s"] = round(tally.chunks / elapsed, 1)
        summary["upstream_frames_per_s"] = round(tally.ok * plan["shape"]["frames"] / elapsed, 1)
        # Everything this process received, warm-up included: over the same span as the
        # arm's CPU time the harness reads around this process.
        summary["all_chunks"] = tally.chunks + warm.chunks
        results[arm.name] = summary
    return {"kind": "throughput", "concurrency": concurrency, "arms": results}


async def _hold(plan: dict[str, Any], arms: list[Arm], expected: Expected) -> dict[str, Any]:
    arm = arms[0]
    time_limit = float(plan.get("timeout", 120))
    streams, ramp = int(plan["streams"]), float(plan["ramp"])
    tally = Tally()
    conns = _connections(arm, streams)
    tasks = []
    began = time.monotonic()
    for n, conn in enumerate(conns):
        # Opening all at once would measure the accept queue, not an open stream's cost.
        await asyncio.sleep(max(0.0, began + n / ramp - time.monotonic()))
        tasks.append(asyncio.create_task(_one(conn, arm, expected, time_limit, tally, False)))
    ready_deadline = time.monotonic() + time_limit
    while time.monotonic() < ready_deadline:
        waiting = sum(1 for conn, task in zip(conns, tasks, strict=True) if _waiting(conn, task))
        if waiting == 0:
            break
        await asyncio.sleep(0.05)
    opened = sum(1 for conn in conns if conn.first_byte_seen)
    ready = {"open": opened, "seconds_to_open": round(time.monotonic() - began, 3)}
    await asyncio.to_thread(Path(plan["ready_file"]).write_bytes, orjson.dumps(ready))
    await asyncio.gather(*tasks)
    for conn in conns:
        conn.close()
    return {"kind": "hold", "arm": arm.name, "ready": ready, "summary": tally.summary()}


def _waiting(conn: Connection, task: asyncio.Task[None]) -> bool:
    return not task.done() and not conn.first_byte_seen


_KINDS = {"latency": _latency, "throughput": _throughput, "hold": _hold}


async def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    arms = [Arm.from_plan(spec) for spec in plan["arms"]]
    expected = expected_content(plan["shape"]["frames"], plan["shape"]["frame_bytes"])
    result = await _KINDS[plan["kind"]](plan, arms, expected)
    result["shape"] = plan["shape"]
    return result


def _raise_fd_limit() -> None:
    # A thousand open streams need a thousand sockets; the soft limit is often 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m bench.loadgen PLAN.json OUT.json", file=sys.stderr)
        return 2
    _raise_fd_limit()
    plan = orjson.loads(Path(args[0]).read_bytes())
    result = asyncio.run(run_plan(plan))
    Path(args[1]).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
