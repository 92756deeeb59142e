"""Selecting exchanges from the traffic log: rows, filters, id prefixes, `--since` (pure).

Records are read as the contract in docs/traffic-log.md describes them, defensively: a field
that is missing or of an unexpected type reads as unknown, so one odd record never stops a
listing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from proxy.chat.code_runs import CODE_INTERPRETER_TOOL
from proxy.core.errors import InvalidRequest
from proxy.responses.input import input_turns

Record = dict[str, Any]

ERROR_OUTCOMES = frozenset({"error", "cancelled"})
_CHATCMPL = "chatcmpl-"  # the chunk id is the exchange id behind this prefix
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt: int | None
    completion: int | None
    total: int | None
    reasoning: int | None
    cached: int | None
    runs: int


def usage_of(record: Record) -> Usage:
    usage = _dict(record.get("usage"))
    runs = _int(_dict(_dict(usage.get("x_tools")).get("code_interpreter")).get("count"))
    if runs is None:  # usage unknown (an error before any frame): count the recorded runs
        runs = len(code_runs(record))
    return Usage(
        prompt=_int(usage.get("prompt_tokens")),
        completion=_int(usage.get("completion_tokens")),
        total=_int(usage.get("total_tokens")),
        reasoning=_int(_dict(usage.get("completion_tokens_details")).get("reasoning_tokens")),
        cached=_int(_dict(usage.get("prompt_tokens_details")).get("cached_tokens")),
        runs=runs,
    )


def key_label(record: Record) -> str:
    """The proxy key that made the call, by name else fingerprint; "" when none is recorded."""
    key = _dict(record.get("key"))
    return text(key.get("name")) or text(key.get("fingerprint"))


def cost_of(record: Record) -> tuple[Decimal, str] | None:
    """The recorded cost and its currency; None when the record has none (or a broken one)."""
    cost = _dict(record.get("cost"))
    currency = text(cost.get("currency"))
    try:
        amount = Decimal(text(cost.get("amount")))
    except InvalidOperation:
        return None
    return (amount, currency) if currency and amount.is_finite() else None


def timing(record: Record, name: str) -> float | None:
    """`timings_ms[name]`: upstream_first_frame, first_byte or total."""
    return _number(_dict(record.get("timings_ms")).get(name))


def started_at(record: Record) -> float:
    return _number(record.get("started_at")) or 0.0


def status_of(record: Record) -> int | None:
    return _int(record.get("status"))


def choices(record: Record) -> list[dict[str, Any]]:
    return [c for c in _list(_dict(record.get("response")).get("choices")) if isinstance(c, dict)]


def message_of(choice: dict[str, Any]) -> dict[str, Any]:
    return _dict(choice.get("message"))


def code_runs(record: Record) -> list[str]:
    return [text(code) for code in _list(_dict(record.get("response")).get("code_runs"))]


def request_messages(record: Record) -> list[dict[str, Any]]:
    """The conversation the client sent; a Responses API `input` as the messages it became."""
    body = _dict(record.get("request"))
    messages = _list(body.get("messages"))
    if "input" in body and "messages" not in body:
        instructions = body.get("instructions")
        try:
            messages = input_turns(
                body["input"], instructions if isinstance(instructions, str) else None, []
            )
        except InvalidRequest:  # the record of a refused request: nothing to show
            messages = []
    return [m for m in messages if isinstance(m, dict)]


def content_text(content: Any) -> str:
    """A message's content as text: a string, or the text of its parts (others as a tag)."""
    if isinstance(content, str):
        return content
    pieces: list[str] = []
    for part in _list(content):
        part = _dict(part)
        # A chat part names its kind in `type`; a native part (`{"image": url}`) by its key.
        kind = text(part.get("type")) or next((k for k in ("image", "video") if k in part), "")
        if kind == "text" or "text" in part:
            pieces.append(text(part.get("text")))
        elif kind:
            url = text(part.get(kind)) or text(_dict(part.get(kind)).get("url"))
            label = url if len(url) <= 60 else url[:57] + "..."
            pieces.append(f"[{kind}{': ' + label if label else ''}]")
    return "\n".join(pieces)


def tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [call for call in _list(message.get("tool_calls")) if isinstance(call, dict)]


def is_code_run_call(record: Record, call: dict[str, Any]) -> bool:
    """Whether a response tool call shows one of DashScope's own interpreter runs."""
    prefix = text(_dict(record.get("translation")).get("call_id_prefix"))
    if prefix and text(call.get("id")).startswith(prefix):
        return True
    return text(_dict(call.get("function")).get("name")) == CODE_INTERPRETER_TOOL and not prefix


def is_error(record: Record) -> bool:
    """An HTTP error, an error in the stream, or a client that went away."""
    status = status_of(record)
    return (status is not None and status >= 400) or record.get("outcome") in ERROR_OUTCOMES


def _search_pieces(record: Record) -> Iterator[str]:
    for message in request_messages(record):
        yield content_text(message.get("content"))
        yield text(message.get("reasoning_content"))
        for call in tool_calls(message):
            yield text(_dict(call.get("function")).get("arguments"))
    for choice in choices(record):
        message = message_of(choice)
        yield text(message.get("reasoning_content"))
        yield text(message.get("content"))
        for call in tool_calls(message):
            yield text(_dict(call.get("function")).get("arguments"))
    yield from code_runs(record)


def search_text(record: Record) -> str:
    """What `--grep` searches: request messages, reasoning, code, tool-call arguments, answers."""
    return "\n".join(piece for piece in _search_pieces(record) if piece)


@dataclass(frozen=True, slots=True)
class Filter:
    status: int | None = None
    errors: bool = False
    model: str | None = None
    since: float | None = None  # Unix time
    grep: str | None = None
    key: str | None = None  # a proxy key's name or fingerprint

    def matches(self, record: Record) -> bool:
        if self.key is not None and not _made_by(record, self.key):
            return False
        if self.status is not None and status_of(record) != self.status:
            return False
        if self.errors and not is_error(record):
            return False
        if self.model is not None and record.get("model") != self.model:
            return False
        if self.since is not None and started_at(record) < self.since:
            return False
        return self.grep is None or self.grep.casefold() in search_text(record).casefold()


def _made_by(record: Record, wanted: str) -> bool:
    key = _dict(record.get("key"))
    names = (text(key.get("name")), text(key.get("fingerprint")).lower())
    return bool(wanted) and (wanted in names or wanted.lower() == names[1])


def newest_first(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=started_at, reverse=True)


def select(records: Iterable[Record], where: Filter, limit: int | None = None) -> list[Record]:
    """Matching records, newest first; at most `limit` (None or 0: all)."""
    chosen = newest_first(r for r in records if where.matches(r))
    return chosen[:limit] if limit else chosen


def parse_since(value: str, now: float) -> float:
    """`10m`, `2h`, `1d`, `1w`, `30s` before `now`, or an ISO time (local when no zone)."""
    match = _DURATION.match(value)
    if match:
        return now - float(match.group(1)) * _SECONDS[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"--since {value!r}: give a duration like 10m, 2h, 1d or an ISO time "
            "like 2025-01-31T09:00"
        ) from None
    return moment.timestamp()  # a naive time is taken as local time


def resolve(records: Sequence[Record], prefix: str) -> list[Record]:
    """The records whose id starts with `prefix` (a `chatcmpl-` id works too), one per id,
    newest first. Exactly one element means the prefix identifies an exchange."""
    wanted = prefix.strip().removeprefix(_CHATCMPL)
    if not wanted:
        return []
    found: dict[str, Record] = {}
    for record in newest_first(records):
        exchange_id = text(record.get("id"))
        if exchange_id == wanted:
            return [record]
        if exchange_id.startswith(wanted):
            found.setdefault(exchange_id, record)
    return list(found.values())
