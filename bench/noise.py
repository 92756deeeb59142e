"""Whether a run is a reference: how much of the machine's CPU other work took while it ran.

The whole-run share comes from `bench.machine.noise` (exact: every child is reaped by then).
`Sampler` adds a share per second, so a burst of other work shows where it fell; while the
run goes on, its children are alive and their CPU time is read from /proc.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import busy_cpu_seconds
from bench.procs import _children  # the same walk of /proc as procs' own figures

# Above this share of the machine's CPU (all cores) used by other processes, a run is noisy:
# its figures are not a reference and do not replace the published ones.
NOISY_SHARE = 0.10

# On a shared virtual machine the hypervisor takes time from the cores ("steal" in
# /proc/stat) in bursts of seconds. At c=256 the proxy's core runs near full, so a round that
# lost 7 % of that core's time had a p99 first byte of 115 ms against 14 ms for one that lost
# none (same code, minutes apart): such a round measures the host, and is run again.
REDO_STEAL_ABOVE = 0.03  # share of the arms' core's time taken as steal during a round
REDO_LIMIT = 2  # times at most


def is_noisy(results: dict[str, Any]) -> bool | None:
    """The run's mark; for results written before the mark existed, from the share they kept
    (None: not known)."""
    if isinstance(results.get("noisy"), bool):
        return bool(results["noisy"])
    share = results.get("meta", {}).get("machine_noise", {}).get("other_cpu_share")
    return share > NOISY_SHARE if isinstance(share, int | float) else None


def _tree_seconds(pid: int, with_children: bool) -> float:
    """CPU time of `pid`, of the children it has reaped and (if asked) of its live children:
    what the process tree has used, continuous as its children come and go."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for each in [pid, *(_children(pid) if with_children else ())]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime
    return total


def _reaped_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _own_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


class Sampler:
    """Once a second, the share of the machine's CPU that processes outside the run used.

    `live` names the run's live children (pid, whether it has workers of its own to count).
    A child reaped between two reads would be counted twice or not at all, so a sample during
    which the reaped total changed is taken again at the next tick.
    """

    def __init__(self, live: Callable[[], list[tuple[int, bool]]], period: float = 1.0) -> None:
        self._live = live
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="noise-sampler", daemon=True)
        self.shares: list[float] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join(5)
        return self.shares

    def _own(self) -> float | None:
        """CPU time of the harness and of every process it started, reaped or not; None if a
        child was reaped while it was read."""
        reaped = _reaped_seconds()
        live = sum(_tree_seconds(pid, workers) for pid, workers in self._live())
        return _own_seconds() + reaped + live if _reaped_seconds() == reaped else None

    def _loop(self) -> None:
        cores = len(os.sched_getaffinity(0))
        last = (time.monotonic(), busy_cpu_seconds(), self._own())
        while not self._stop.wait(self._period):
            now = (time.monotonic(), busy_cpu_seconds(), self._own())
            if now[2] is None or last[2] is None:
                last = now
                continue
            foreign = (now[1] - last[1]) - (now[2] - last[2])
            share = foreign / ((now[0] - last[0]) * cores)
            self.shares.append(round(min(max(share, 0.0), 1.0), 3))
            last = now
