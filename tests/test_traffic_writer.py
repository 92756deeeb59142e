"""The traffic writer: sinks, rotation, and disks that fail while the proxy serves.

Whatever happens to the log, requests succeed; what cannot be written is counted as lost and
reported in the `proxy.traffic` logger.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.config import TrafficLogSettings
from proxy.server.traffic_writer import TrafficWriter
from proxy.traffic.redact import MASK, Redactor
from tests.conftest import TrafficProxy, read_jsonl


def ask(proxy: TrafficProxy, n: int = 0, **fields: Any) -> httpx.Response:
    body = {
        "model": "qwen-plus",
        "messages": [{"role": "user", "content": f"Hello {n}"}],
        "stream": n % 2 == 0,
        **fields,
    }
    headers = {"authorization": "Bearer sk-client-key"}
    # `json.dumps` (not orjson) so that deeply nested test bodies can be sent.
    content = json.dumps(body)
    url = f"{proxy.url}/v1/chat/completions"
    response = httpx.post(url, content=content, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {timeout} s waiting for {what}"
        time.sleep(0.01)


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "traffic-writer"]


def record(n: int, size: int = 150) -> dict[str, Any]:
    return {"n": n, "pad": "x" * size}


def test_the_stdout_sink_writes_one_json_line_per_record(capfd: pytest.CaptureFixture[str]) -> None:
    writer = TrafficWriter("stdout", redactor=Redactor()).start()
    for n in range(3):
        writer.submit({"n": n, "note": "key client-key-XYZ123456"}, ("client-key-XYZ123456",))
    writer.close()
    lines = capfd.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"n": n, "note": f"key {MASK}"} for n in range(3)
    ]
    assert (writer.written, writer.dropped) == (3, 0)


def rotated(path: Path) -> dict[int, Path]:
    """The rotated files next to `path`, by number."""
    return {int(p.name.rsplit(".", 1)[1]): p for p in path.parent.glob(f"{path.name}.*")}


def oldest_first(path: Path) -> list[list[int]]:
    files = [f for _, f in sorted(rotated(path).items(), reverse=True)]
    return [[r["n"] for r in read_jsonl(f)] for f in [*files, path]]


def write_all(path: Path, count: int, *, retention: int) -> TrafficWriter:
    writer = TrafficWriter(str(path), redactor=Redactor(), max_bytes=1024, retention=retention)
    writer.start()
    for n in range(count):
        writer.submit(record(n))
    writer.close()
    assert (writer.written, writer.dropped) == (count, 0)
    return writer


def test_rotation_splits_the_log_on_record_boundaries_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    write_all(path, 60, retention=50)
    numbers = sorted(rotated(path))
    assert len(numbers) >= 5
    assert numbers == list(range(1, len(numbers) + 1))
    for file in [path, *rotated(path).values()]:
        assert file.stat().st_size <= 1024
    chunks = oldest_first(path)  # each file parses line by line: no record is split
    assert [n for chunk in chunks for n in chunk] == list(range(60))  # path.1 is the newest
    assert all(chunks)


def test_rotation_keeps_at_most_retention_files(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    write_all(path, 60, retention=3)
    assert sorted(rotated(path)) == [1, 2, 3]
    kept = [n for chunk in oldest_first(path) for n in chunk]
    assert kept == list(range(60 - len(kept), 60))  # the newest records, none missing


def test_retention_zero_deletes_instead_of_rotating(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    write_all(path, 30, retention=0)
    assert rotated(path) == {}
    kept = [r["n"] for r in read_jsonl(path)]
    assert 0 < len(kept) < 30
    assert kept == list(range(30 - len(kept), 30))


def test_a_record_that_cannot_be_serialised_is_counted_and_the_next_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "traffic.jsonl"
    writer = TrafficWriter(str(path), redactor=Redactor()).start()
    writer.submit({"n": 1, "odd": {1, 2}})  # a set is not JSON
    writer.submit({"n": 2})
    writer.close()
    assert (writer.written, writer.dropped) == (1, 1)
    assert read_jsonl(path) == [{"n": 2}]


# ---- disks that fail while serving ----------------------------------------------------------


def full_disk(tmp_path: Path) -> Path:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    return Path("/dev/full")


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "not-a-dir").write_text("a file where the log directory should be")
    return tmp_path / "not-a-dir" / "traffic.jsonl"


def read_only(tmp_path: Path) -> Path:
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        (directory / "probe").touch()
    except PermissionError:
        return directory / "traffic.jsonl"
    directory.chmod(0o700)
    pytest.skip(
        "running as root, where chmod 0o500 does not stop writes "
        "(the under_a_file case covers an unwritable log path instead)"
    )


@pytest.mark.parametrize("failing", [full_disk, under_a_file, read_only])
def test_failing_disks_never_fail_a_request(
    traffic_proxy: Callable[..., TrafficProxy],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    failing: Callable[[Path], Path],
) -> None:
    proxy = traffic_proxy(TrafficLogSettings(path=str(failing(tmp_path))))
    with caplog.at_level(logging.WARNING, logger="proxy.traffic"):
        for n in range(4):
            ask(proxy, n)  # 200 each, stream and not
        proxy.stop()
    assert (proxy.writer.written, proxy.writer.dropped) == (0, 4)
    warnings = [r for r in caplog.records if r.name == "proxy.traffic"]
    assert warnings, "lost records were not reported in the application log"
    assert warnings[0].levelno == logging.WARNING
    assert "lost" in warnings[0].getMessage()


def test_a_deleted_log_directory_is_created_again(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    path = tmp_path / "logs" / "traffic.jsonl"
    proxy = traffic_proxy(TrafficLogSettings(path=str(path)))
    ask(proxy, 0)
    wait_for(lambda: proxy.writer.written == 1, "the first record to be written")
    shutil.rmtree(path.parent)
    later = ask(proxy, 1)
    proxy.stop()
    assert path.exists(), "the deleted log directory was not created again"
    assert [r["id"] for r in read_jsonl(path)] == [later.headers["x-proxy-request-id"]]


def test_a_record_too_deep_to_log_does_not_stop_the_writer(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    path = tmp_path / "traffic.jsonl"
    proxy = traffic_proxy(TrafficLogSettings(path=str(path)))
    deep: Any = "bottom"
    for _ in range(600):  # orjson reads this much nesting; `metadata` is then dropped
        deep = [deep]
    ask(proxy, 1, metadata={"deep": deep})
    later = ask(proxy, 2)
    proxy.stop()
    assert proxy.writer.written + proxy.writer.dropped == 2
    ids = [r["id"] for r in read_jsonl(path)] if path.exists() else []
    assert later.headers["x-proxy-request-id"] in ids


def read_pipe(fd: int) -> bytes:
    data = b""
    while True:
        try:
            piece = os.read(fd, 65536)
        except BlockingIOError:
            return data
        if not piece:
            return data
        data += piece


def test_a_writer_stuck_on_a_pipe_costs_records_not_requests(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    fifo = tmp_path / "traffic.jsonl"
    os.mkfifo(fifo)  # with no reader, the writer thread blocks in open()
    proxy = traffic_proxy(TrafficLogSettings(path=str(fifo), queue_size=2))
    try:
        for n in range(6):
            ask(proxy, n)
        # One record held by the stuck thread (at most), two queued, the rest lost.
        assert proxy.writer.dropped >= 6 - 2 - 1
        assert proxy.writer.written == 0
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # unblocks the writer's open()
    try:
        proxy.stop()
        read_pipe(reader)
    finally:
        os.close(reader)
    assert proxy.writer.written + proxy.writer.dropped == 6
    assert writer_threads() == []


def test_records_reach_a_named_pipe(tmp_path: Path) -> None:
    # Like a container's /dev/stdout when it is a pipe: not seekable, still a fine sink.
    fifo = tmp_path / "traffic.pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        writer = TrafficWriter(str(fifo), redactor=Redactor()).start()
        writer.submit({"n": 1})
        writer.submit({"n": 2})
        writer.close()
        data = read_pipe(reader)
    finally:
        os.close(reader)
    assert (writer.written, writer.dropped) == (2, 0)
    assert [json.loads(line) for line in data.splitlines()] == [{"n": 1}, {"n": 2}]
