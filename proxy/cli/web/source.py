"""The traffic log as the pages read it: the files `logs list` reads, read again only when one
of them changed, and the `list` filters taken from a query string."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from proxy.inspect.files import LogRead, Record, log_files, read_log
from proxy.inspect.query import Filter, parse_since

Signature = tuple[tuple[str, int, int, int], ...]


class LogSource:
    """The records of one log, cached until a file of it is added, replaced or grows."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: Signature | None = None
        self._read = LogRead()

    def read(self) -> LogRead:
        with self._lock:
            signature = _signature(log_files(self.path))
            if signature != self._signature:
                self._read = read_log(self.path)
                self._signature = signature
            return self._read


def _signature(files: list[Path]) -> Signature:
    stats = []
    for file in files:
        try:
            stat = os.stat(file)
        except OSError:  # rotated away since it was listed: the next read sees the change
            continue
        stats.append((file.name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(stats)


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
