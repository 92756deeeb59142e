"""Appends traffic records as JSON lines without ever hurting the proxy.

Requests only put a finished record on a bounded queue (never blocking, never raising). One
thread redacts, serialises and writes. A slow, full, read-only or vanished disk costs records,
not requests: what cannot be queued or written is counted and reported in the app log.

A write cut short (a full disk, a file-size limit) leaves part of a line behind. Before the
next record goes to that file, the writer cuts the file back to its last whole line, so a
record counted as written is always one readable line, never glued onto a torn one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import stat
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from proxy.traffic.redact import Redactor

log = logging.getLogger("proxy.traffic")

STDOUT = "stdout"
_REPORT_EVERY = 30.0  # seconds between two app-log reports of lost records
_STOP = object()
_TAIL_BLOCK = 64 * 1024  # bytes read at a time, from the end, looking for the last newline


class TrafficWriter:
    def __init__(
        self,
        path: str,
        *,
        redactor: Redactor,
        max_bytes: int = 50 * 1024 * 1024,
        retention: int = 5,
        queue_size: int = 10_000,
    ) -> None:
        self._path = None if path == STDOUT else Path(path)
        self._redactor = redactor
        self._max_bytes = max_bytes
        self._retention = retention
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="traffic-writer", daemon=True)
        self._file: BinaryIO | None = None
        self._regular = True
        self._size = 0
        self._reported_at = -_REPORT_EVERY  # the first loss is reported at once
        self._lock = threading.Lock()  # counters change on the loop thread and the writer's
        self.written = 0
        self.dropped = 0

    def start(self) -> TrafficWriter:
        self._thread.start()
        return self

    def submit(self, record: Mapping[str, object], secrets: Iterable[str] = ()) -> None:
        try:
            self._queue.put_nowait((record, tuple(secrets)))
        except queue.Full:
            self._lost("the traffic-log queue is full")

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop. Records still queued after `timeout` are lost."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("traffic log: the writer did not drain in %.0f s", timeout)
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            record, secrets = item
            try:
                line = orjson.dumps(self._redactor.redact(record, secrets)) + b"\n"
            except (TypeError, ValueError, RecursionError) as exc:
                # A client's body may nest deeper than redaction or JSON can follow: that record
                # is lost, the writer goes on.
                self._lost(f"a record could not be serialised ({exc.__class__.__name__})")
                continue
            self._write(line)
        self._close_file()

    def _write(self, line: bytes) -> None:
        try:
            if self._path is None:
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()
            else:
                self._write_file(line)
        except (OSError, ValueError) as exc:
            self._close_file()
            self._lost(f"writing failed ({exc.__class__.__name__}: {exc})")
            return
        self.written += 1  # on a file, only once the line is flushed whole

    def _write_file(self, line: bytes) -> None:
        assert self._path is not None
        if self._file is not None and self._regular and not self._path.exists():
            self._close_file()  # deleted (with its directory?) since it was opened: start anew
        if self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._path.open("ab")
            # Pipes and devices can neither tell their size nor be rotated (nor be repaired).
            self._regular = stat.S_ISREG(os.fstat(self._file.fileno()).st_mode)
            self._size = _cut_torn_tail(self._path, self._file) if self._regular else 0
        if self._regular and self._size and self._size + len(line) > self._max_bytes:
            self._rotate()
            return self._write_file(line)
        try:
            self._file.write(line)
            self._file.flush()
        except BaseException:
            # Part of the line may be on disk: the file is opened (and its tail cut) anew
            # before the next record.
            self._close_file()
            raise
        self._size += len(line)
        return None

    def _rotate(self) -> None:
        """path -> path.1 -> path.2 ...; the oldest beyond `retention` is deleted."""
        assert self._path is not None
        self._close_file()
        oldest = self._path.with_name(f"{self._path.name}.{self._retention}")
        oldest.unlink(missing_ok=True)
        for n in range(self._retention - 1, 0, -1):
            older = self._path.with_name(f"{self._path.name}.{n}")
            if older.exists():
                older.rename(self._path.with_name(f"{self._path.name}.{n + 1}"))
        if self._retention > 0:
            self._path.rename(self._path.with_name(f"{self._path.name}.1"))
        else:
            self._path.unlink(missing_ok=True)

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _lost(self, why: str) -> None:
        with self._lock:
            self.dropped += 1
            now = time.monotonic()
            report = now - self._reported_at >= _REPORT_EVERY
            if report:
                self._reported_at = now
        if report:
            log.warning("traffic log: %s; %d record(s) lost so far", why, self.dropped)


def _cut_torn_tail(path: Path, file: BinaryIO) -> int:
    """Cut `file` (`path`, opened for appending) back to its last whole line; its size.

    A torn line is what a failed write left: no record was counted for it, and the next one
    appended to it would be unreadable too. Shrinking a file needs no free space."""
    size = os.fstat(file.fileno()).st_size
    end = size
    with path.open("rb") as reader:  # the appending descriptor cannot read
        while end > 0:
            start = max(0, end - _TAIL_BLOCK)
            reader.seek(start)
            newline = reader.read(end - start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
    if end == size:
        return size
    os.ftruncate(file.fileno(), end)
    log.warning("traffic log: cut a torn last line (%d bytes) before appending", size - end)
    return end
