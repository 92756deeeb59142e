"""The traffic log as the pages read it: the files `logs list` reads, read again only when one
of them changed, and the `list` filters taken from a query string."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from proxy.inspect.files import LogRead, Record, log_files, parse_lines, read_log
from proxy.inspect.query import Filter, parse_since

Signature = tuple[tuple[str, int, int, int], ...]


class LogSource:
    """The records of one log, kept between requests. While only the live file grows (the
    live tail's case), only the lines appended since are read; when a file is rotated,
    replaced or truncated, everything is read again."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._files: Signature | None = None  # the rotated files, and the live file's inode
        self._offset = 0  # how far the live file has been read: complete lines only
        self._line = 0
        self._read = LogRead()

    def read(self) -> LogRead:
        with self._lock:
            files, size = _state(self.path)
            if files != self._files or size < self._offset:
                self._read = read_log(self.path, live=False)
                self._offset = self._line = 0
                self._files = files
            self._read_live()
            # A copy: a request still filtering the last one must not see it grow.
            return LogRead(list(self._read.records), list(self._read.corrupt))

    def _read_live(self) -> None:
        """The complete lines appended to the live file since the last read; a line still
        being written waits for the next."""
        live = Path(self.path)
        try:
            with live.open("rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:  # not written yet, or rotated away: the next read sees it
            return
        end = data.rfind(b"\n") + 1
        lines = data[:end].split(b"\n")[:-1]
        parse_lines(lines, live.name, self._line + 1, self._read)
        self._offset += end
        self._line += len(lines)


def _state(path: str) -> tuple[Signature, int]:
    """What must not change for appended lines to be all that is new: the rotated files as
    they are, the live file's identity; and the live file's size (which may only grow)."""
    live = Path(path)
    stats = []
    for file in log_files(path):
        try:
            stat = os.stat(file)
        except OSError:  # rotated away since it was listed: the next read sees the change
            continue
        if file == live:
            stats.append((file.name, stat.st_ino, 0, 0))
        else:
            stats.append((file.name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    size = live.stat().st_size if live.is_file() else 0
    return tuple(stats), size


class BadFilter(ValueError):
    """A filter value the page cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Query:
    """The filters as given (to fill the form and build links) and as a `Filter`."""

    given: dict[str, str]
    where: Filter


# Every `Filter` field is a query parameter of the same name; these need converting, the rest
# (model, grep, and any filter `logs list` gains) are text.
FILTER_NAMES = tuple(field.name for field in dataclasses.fields(Filter))


def parse_query(params: Mapping[str, str], clock: Callable[[], float]) -> Query:
    given = {name: params.get(name, "").strip() for name in FILTER_NAMES}
    values: dict[str, object] = {}
    for name, raw in given.items():
        if not raw:
            continue
        if name == "since":
            try:
                values[name] = parse_since(raw, clock())
            except ValueError as exc:
                raise BadFilter(str(exc).removeprefix("--")) from None
        elif name == "status":
            if not raw.isdigit():
                raise BadFilter(f"status {raw!r}: give an HTTP status such as 429")
            values[name] = int(raw)
        elif name == "errors":
            values[name] = raw not in ("0", "false", "off")
        else:
            values[name] = raw
    return Query(given, Filter(**values))  # type: ignore[arg-type]


def models(records: list[Record]) -> list[str]:
    return sorted({model for r in records if isinstance(model := r.get("model"), str) and model})
