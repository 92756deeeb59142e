"""Re-running today's translator over a recorded exchange's upstream frames (pure).

The bug-report and regression tool: a record captured with `capture_frames` holds the native
SSE events DashScope sent and the settings the translation ran with (`translation`). Feeding
those frames to the current translation (chat completions or Responses API, as recorded) must
give what the client got: the recorded `chunks` (or Responses events) when they were captured,
otherwise the summarised `response` (choices, code runs, usage). The error the exchange
ended with is compared too: when DashScope answered with no event stream (`upstream_error`: a
non-2xx refusal, a redirect, a 2xx of something else), replay makes the client's error from that
answer again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.chat.code_runs import fenced
from proxy.core.error_answer import ErrorAnswer, error_of
from proxy.core.errors import ProxyError
from proxy.core.sse import SSEEvent
from proxy.core.summary import ExchangeSummary
from proxy.core.wire import Item
from proxy.inspect.query import (
    Record,
    code_runs,
    is_code_run_call,
    message_of,
    text,
    tool_calls,
)
from proxy.traffic.apis import UnknownApi, api_of
from proxy.traffic.record import response_of, usage_of

CAPTURE_HINT = "enable [traffic_log] capture_frames"
_MAX_DIFFERENCES = 8
_MAX_VALUE = 70
# Errors that came from the connection or the proxy, not from a frame DashScope sent: the frames
# before them are replayed, the error itself cannot be.
NOT_FROM_FRAMES = frozenset(
    {"upstream_timeout", "total_timeout", "draining", "upstream_unavailable", "internal_error"}
)


class ReplayUnavailable(Exception):
    """The record holds nothing to replay; the message says why."""


@dataclass(slots=True)
class ReplayResult:
    compared: str  # "chunks", "response", or "error" (DashScope answered with an error only)
    expected_count: int  # recorded chunks, or recorded choices
    actual_count: int
    first_difference: int | None = None  # chunk index, or None when the response differs
    differences: list[str] = field(default_factory=list)  # "path: recorded -> replayed"
    error: str | None = None  # how the replayed translation ended, when it raised
    # The recorded error when replay cannot make it (NOT_FROM_FRAMES), shown as not replayed.
    unreplayed_error: str | None = None

    @property
    def matches(self) -> bool:
        return self.first_difference is None and not self.differences


@dataclass(slots=True)
class _Replayed:
    items: list[Item]
    summary: ExchangeSummary
    error: ProxyError | None


def replay(record: Record) -> ReplayResult:
    _check_replayable(record)
    answer = record.get("upstream_error")
    if isinstance(answer, dict):
        return _replay_answer(record, answer)
    replayed = _run(record, record["frames"])
    recorded_chunks = record.get("chunks")
    if isinstance(recorded_chunks, list):
        result = _compare_chunks(_plain(recorded_chunks), _plain(replayed.items))
    else:
        result = _compare_response(record, replayed)
    result.error = describe(_error_fields(replayed.error, record))
    recorded = record.get("error")
    if _from_frames(record):
        result.differences += differences(recorded, _error_fields(replayed.error, record), "error")
    else:
        result.unreplayed_error = describe(recorded)
    return result


def _check_replayable(record: Record) -> None:
    """Raise ReplayUnavailable unless the record holds something DashScope sent."""
    if record.get("outcome") == "local":
        raise ReplayUnavailable("the proxy answered this exchange itself; DashScope sent nothing")
    ended = describe(record.get("error"))
    ended = f" (it ended with {ended})" if ended else ""
    if "upstream_request" in record and record["upstream_request"] is None:
        raise ReplayUnavailable(f"the exchange never reached DashScope{ended}")
    if isinstance(record.get("upstream_error"), dict):
        return
    frames = record.get("frames")
    if not isinstance(frames, list):
        raise ReplayUnavailable(f"this record has no upstream frames: {CAPTURE_HINT}")
    if not frames:
        raise ReplayUnavailable(f"DashScope sent no frame{ended}")


def _replay_answer(record: Record, answer: dict[str, Any]) -> ReplayResult:
    """DashScope answered with no event stream (a refusal, a redirect, a 2xx of something
    else): the client's error is made from that answer again."""
    try:
        again = ErrorAnswer(
            int(answer["status"]),
            text(answer.get("content_type")),
            text(answer["body"]).encode(),
            text(answer.get("location")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayUnavailable(f"the record's `upstream_error` is incomplete ({exc})") from None
    replayed = _error_fields(error_of(again), record)
    result = ReplayResult("error", 1, 1, error=describe(replayed))
    result.differences = differences(record.get("error"), replayed, "error")
    return result


def _from_frames(record: Record) -> bool:
    error = record.get("error")
    return not (isinstance(error, dict) and error.get("code") in NOT_FROM_FRAMES)


def _error_fields(error: ProxyError | None, record: Record) -> dict[str, Any] | None:
    """The replayed error as the record keeps one; its status too when the record's does."""
    if error is None:
        return None
    fields: dict[str, Any] = {"type": error.type, "code": error.code, "message": error.message}
    recorded = record.get("error")
    if isinstance(recorded, dict) and "status" in recorded:
        fields["status"] = error.status
    return fields


def describe(error: Any) -> str | None:
    """`InvalidParameter (400): message`, for an error as a record keeps one."""
    if not isinstance(error, dict):
        return None
    status = f" ({error['status']})" if isinstance(error.get("status"), int) else ""
    code = text(error.get("code")) or text(error.get("type"))
    return f"{code}{status}: {text(error.get('message'))}"


def _run(record: Record, frames: list[Any]) -> _Replayed:
    settings = record.get("translation")
    if not isinstance(settings, dict):
        raise ReplayUnavailable("this record has no `translation` settings to replay with")
    try:
        translation = api_of(settings).restore(settings)
        events = [
            SSEEvent(
                event=text(f.get("event")) or "message",
                data=text(f.get("data")),
                status=f["status"] if isinstance(f.get("status"), int) else None,
            )
            for f in frames
            if isinstance(f, dict)
        ]
    except UnknownApi as exc:
        raise ReplayUnavailable(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayUnavailable(
            f"the record's `translation` settings are incomplete ({exc})"
        ) from None
    items: list[Item] = []
    error: ProxyError | None = None
    try:
        items.extend(translation.feed(events))
        # A client that left mid-stream, or whose stream the connection or the proxy cut, never
        # got the closing chunks: do not make them.
        cut = record.get("outcome") == "cancelled" or not _from_frames(record)
        if not cut or translation.finished:
            items.extend(translation.finish())
    except ProxyError as exc:
        error = exc
    return _Replayed(items, translation.summary(), error)


def _plain(value: Any) -> Any:
    """As it would be after a trip through the log: JSON types only."""
    return orjson.loads(orjson.dumps(value))


def _compare_chunks(recorded: list[Any], replayed: list[Any]) -> ReplayResult:
    result = ReplayResult("chunks", len(recorded), len(replayed))
    for index, (old, new) in enumerate(zip(recorded, replayed, strict=False)):
        if old != new:
            result.first_difference = index
            result.differences = differences(old, new, f"chunks[{index}]")
            return result
    if len(recorded) != len(replayed):
        index = min(len(recorded), len(replayed))
        result.first_difference = index
        old = recorded[index] if index < len(recorded) else None
        new = replayed[index] if index < len(replayed) else None
        result.differences = [f"chunks[{index}]: {_short(old)} -> {_short(new)}"]
    return result


def _compare_response(record: Record, replayed: _Replayed) -> ReplayResult:
    response = record.get("response")
    if not isinstance(response, dict):
        response = {}
    recorded = {
        "choices": response.get("choices", []),
        "code_runs": response.get("code_runs", []),
        "usage": record.get("usage"),
    }
    now: dict[str, Any] = {**response_of(replayed.summary), "usage": usage_of(replayed.summary)}
    now = _plain(now)
    if record.get("v") == 1:
        recorded, now = _version_1(record, recorded), _version_1(record, now)
    result = ReplayResult("response", len(_as_list(recorded["choices"])), len(now["choices"]))
    result.differences = differences(_plain(recorded), now, "response")
    return result


def _version_1(record: Record, response: dict[str, Any]) -> dict[str, Any]:
    """What a version-1 record's response and today's share. Version 1 folded each message as
    the client saw it, so the interpreter's runs were also in it as the record's `code_format`
    showed them (tool calls, fenced code in the text, a vendor key); today they are only in
    `code_runs`. Search sources were not kept for the Responses API."""
    codes = code_runs(record)
    choices = []
    for choice in _as_list(response["choices"]):
        message = message_of(choice if isinstance(choice, dict) else {})
        texts = {key: text(message.get(key)) for key in ("content", "reasoning_content")}
        for code in codes:
            texts = {key: value.replace(fenced(code), "") for key, value in texts.items()}
        calls = [call for call in tool_calls(message) if not is_code_run_call(record, call)]
        choices.append({**choice, "message": {**texts, "tool_calls": calls}})
    return {**response, "choices": choices}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def differences(old: Any, new: Any, path: str, limit: int = _MAX_DIFFERENCES) -> list[str]:
    """Compact lines `path: recorded -> replayed` for the leaves that differ (at most `limit`,
    then a count of the rest)."""
    found: list[str] = []
    _walk(old, new, path, found)
    if len(found) > limit:
        return [*found[:limit], f"... and {len(found) - limit} more difference(s)"]
    return found


def _walk(old: Any, new: Any, path: str, found: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in new:
                found.append(f"{path}.{key}: {_short(old[key])} -> (absent)")
            elif key not in old:
                found.append(f"{path}.{key}: (absent) -> {_short(new[key])}")
            else:
                _walk(old[key], new[key], f"{path}.{key}", found)
        return
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            if index >= len(old):
                found.append(f"{path}[{index}]: (absent) -> {_short(new[index])}")
            elif index >= len(new):
                found.append(f"{path}[{index}]: {_short(old[index])} -> (absent)")
            else:
                _walk(old[index], new[index], f"{path}[{index}]", found)
        return
    found.append(f"{path}: {_short(old)} -> {_short(new)}")


def _short(value: Any) -> str:
    shown = orjson.dumps(value).decode()
    return shown if len(shown) <= _MAX_VALUE else shown[: _MAX_VALUE - 3] + "..."
