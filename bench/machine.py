"""What a benchmark run records about the machine it ran on: hardware, versions, and how much
of the CPU other work used meanwhile (a noisy run shows as one)."""

from __future__ import annotations

import os
import platform
import resource
from collections.abc import Collection
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": sorted(os.sched_getaffinity(0)),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("dashscope-proxy", "uvicorn", "starlette", "httpx", "orjson", "uvloop"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _proc_stat(cpus: Collection[int] = ()) -> list[int]:
    """/proc/stat's first eight times (user, nice, system, idle, iowait, irq, softirq, steal)
    summed over the cores `cpus` (all: the machine's own line), in ticks since boot."""
    names = {f"cpu{n}" for n in cpus} or {"cpu"}
    times = [0] * 8
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name in names:
            times = [a + int(b) for a, b in zip(times, values[:8], strict=True)]
    return times


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (all cores), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = _proc_stat()
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def stolen_ticks(cpus: Collection[int] = ()) -> tuple[int, int]:
    """The hypervisor's steal time of the cores `cpus` (all: the machine) since boot, and all
    their time, in ticks (/proc/stat). Steal is time a core wanted to run and the host gave to
    another guest, so an idle core has none; on a shared host a busy core can lose a sixth of
    its time or more, in bursts of seconds."""
    times = _proc_stat(cpus)
    return times[7], sum(times)


def own_cpu_seconds() -> float:
    """CPU time of the harness and every process it started and reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def noise(busy_before: float, own_before: float, seconds: float) -> dict[str, float]:
    """How much of the machine other work used during the run: the figures are only as
    clean as this is small."""
    foreign = (busy_cpu_seconds() - busy_before) - (own_cpu_seconds() - own_before)
    cores = len(os.sched_getaffinity(0))
    return {
        "other_cpu_seconds": round(max(foreign, 0.0), 1),
        "other_cpu_share": round(max(foreign, 0.0) / (seconds * cores), 3),
    }
