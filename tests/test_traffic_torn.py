"""A full disk must not leave a torn record behind (issue 15, item 11).

The disk fills for real: a child process lowers its own file-size limit (RLIMIT_FSIZE) so
that a write stops mid-record, as on a full disk, then raises it again, as when space
returns. Every record the writer counts as written must then be one readable line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import read_jsonl

resource = pytest.importorskip("resource")

# Run in a child: the limit applies to the whole process that sets it.
CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys, time
    from proxy.server.traffic_writer import TrafficWriter
    from proxy.traffic.redact import Redactor

    path, prefix = sys.argv[1], sys.argv[5]
    limit, before, after = map(int, sys.argv[2:5])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    if prefix:
        with open(path, "wb") as file:
            file.write(prefix.encode())
    writer = TrafficWriter(path, redactor=Redactor()).start()

    def settle(count):
        deadline = time.monotonic() + 10
        while writer.written + writer.dropped < count and time.monotonic() < deadline:
            time.sleep(0.01)

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))  # the disk is full from here
    for n in range(before):
        writer.submit({"n": n, "pad": "x" * 150})
    settle(before)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is back
    for n in range(before, before + after):
        writer.submit({"n": n, "pad": "x" * 150})
    writer.close()
    print(json.dumps({"written": writer.written, "dropped": writer.dropped}))
    """
)


def fill_the_disk(
    path: Path, *, limit: int, before: int, after: int, prefix: str = ""
) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(limit), str(before), str(after), prefix],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    counts: dict[str, int] = json.loads(done.stdout.splitlines()[-1])
    return counts


def test_a_record_cut_by_a_full_disk_is_not_left_for_the_next_to_join(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    # Records are 172 bytes: the limit stops the third mid-line.
    counts = fill_the_disk(path, limit=400, before=5, after=3)
    records = read_jsonl(path)  # every line one complete JSON object
    assert counts["dropped"] >= 3, counts  # the third record onwards did not fit
    assert len(records) == counts["written"] == 5 + 3 - counts["dropped"]
    assert [r["n"] for r in records] == [0, 1, 5, 6, 7]


def test_a_torn_tail_left_by_an_earlier_process_is_cut_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    whole = json.dumps({"n": -1}) + "\n"
    counts = fill_the_disk(
        path, limit=1 << 30, before=1, after=1, prefix=whole + '{"n": -2, "pad": "xx'
    )
    assert counts == {"written": 2, "dropped": 0}
    assert [r["n"] for r in read_jsonl(path)] == [-1, 0, 1]
