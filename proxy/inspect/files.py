"""Reading the traffic log: the live file, its rotated predecessors, and what is appended next.

The writer rotates `path` -> `path.1` (newest) -> ... -> `path.N` (oldest), so reading all
records in order means reading `path.N` first and `path` last. A line that is not a JSON object
with an `id` is skipped and counted, never fatal: a log is evidence, and one torn line (a crash
mid-write, a hand edit) must not hide the rest.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A line that is not a traffic record: file name and 1-based line number."""

    file: str
    line: int


@dataclass(slots=True)
class LogRead:
    records: list[Record] = field(default_factory=list)
    corrupt: list[Corrupt] = field(default_factory=list)

    def extend(self, other: LogRead) -> None:
        self.records.extend(other.records)
        self.corrupt.extend(other.corrupt)


def log_files(path: str | Path) -> list[Path]:
    """The existing files of the log, oldest first: `path.N` .. `path.1`, then `path`."""
    base = Path(path)
    rotated: list[tuple[int, Path]] = []
    for candidate in base.parent.glob(glob.escape(base.name) + ".*"):
        suffix = candidate.name[len(base.name) + 1 :]
        if suffix.isdigit() and candidate.is_file():
            rotated.append((int(suffix), candidate))
    files = [file for _, file in sorted(rotated, reverse=True)]
    if base.is_file():
        files.append(base)
    return files


def parse_record(line: bytes) -> Record | None:
    """The record on one line, or None when the line is not one."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value
    return None


def parse_lines(lines: list[bytes], file: str, first_line: int, into: LogRead) -> None:
    for number, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        record = parse_record(line)
        if record is None:
            into.corrupt.append(Corrupt(file, number))
        else:
            into.records.append(record)


def read_log(path: str | Path, *, live: bool = True) -> LogRead:
    """Every record of the log in file order (oldest file first), and the lines skipped;
    without the live file itself when `live` is false."""
    read = LogRead()
    files = log_files(path)
    if not live:
        files = [file for file in files if file != Path(path)]
    for file in files:
        try:
            data = file.read_bytes()
        except FileNotFoundError:  # rotated away between listing and reading
            continue
        parse_lines(data.split(b"\n"), file.name, 1, read)
    return read


class Follower:
    """Reads what is appended to the live file, across rotation and truncation.

    `poll()` returns the complete lines written since the last call. When the file is replaced
    (rotation renames it, the writer creates a new one) the rest of the old file is read first,
    then the new one from its start; when it is truncated, reading starts over. A line still
    being written (no newline yet) waits for the next poll.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._pending = b""
        self._line = 0

    def poll(self) -> LogRead:
        read = LogRead()
        if self._file is not None:
            self._drain(read)
            if self._replaced():
                self._close()
        if self._file is None and self._open():
            self._drain(read)
        return read

    def close(self) -> None:
        self._close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _open(self) -> bool:
        try:
            self._file = self._path.open("rb")
        except OSError:
            return False  # not created yet, or between a rotation's rename and the next write
        stat = os.fstat(self._file.fileno())
        self._identity = (stat.st_dev, stat.st_ino)
        self._pending = b""
        self._line = 0
        return True

    def _replaced(self) -> bool:
        assert self._file is not None
        try:
            stat = os.stat(self._path)
        except OSError:
            return True
        if (stat.st_dev, stat.st_ino) != self._identity:
            return True
        if stat.st_size < self._file.tell():  # truncated in place: start over
            self._file.seek(0)
            self._pending = b""
            self._line = 0
        return False

    def _drain(self, read: LogRead) -> None:
        assert self._file is not None
        data = self._file.read()
        if not data:
            return
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        parse_lines(lines, self._path.name, self._line + 1, read)
        self._line += len(lines)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
