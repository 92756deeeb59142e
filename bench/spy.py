"""py-spy for `bench/profile_hot_path.py`: attach to a process, stop, and read the collapsed
stacks into a table of the functions with the most samples."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.procs import interrupt, pin


def top_frames(collapsed: Path, limit: int = 25) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    rows = [f"{samples} samples; top by own time (own%, incl%):"]
    for name, count in own.most_common(limit):
        rows.append(f"  {100 * count / samples:5.1f} {100 * total[name] / samples:5.1f}  {name}")
    return "\n".join(rows)


def start_spy(pid: int, rate: int, out: Path, cpu: int) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` at `rate` per second into `out` (collapsed stacks), on `cpu`."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [found, "record", "--pid", str(pid), "--rate", str(rate)]
    command += ["--format", "raw", "--nonblocking", "-o", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pin(spy.pid, cpu)
    time.sleep(1.0)  # py-spy attaches before the load starts
    return spy


def stop_spy(spy: subprocess.Popen[bytes]) -> None:
    interrupt(spy)
