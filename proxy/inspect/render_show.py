"""`logs show`: one exchange laid out for a person, top to bottom as it happened: who asked
what, what the model thought, which code the interpreter ran, what came back, and what the
proxy changed on the way."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from proxy.inspect.query import (
    Record,
    choices,
    code_runs,
    content_text,
    cost_of,
    is_code_run_call,
    is_error,
    key_label,
    message_of,
    request_messages,
    started_at,
    text,
    timing,
    tool_calls,
    usage_of,
)
from proxy.inspect.render import duration, local_time, money, status_label
from proxy.inspect.timeline import Segment, timeline

_ROLE_STYLES = {"system": "magenta", "user": "bold blue", "assistant": "bold green"}
SHOWN_ELSEWHERE = frozenset({"model", "messages", "stream", "input", "instructions"})


def show_view(record: Record) -> RenderableType:
    parts: list[RenderableType] = [_header(record)]
    parts.extend(_request(record))
    segments = timeline(record)
    if segments is not None:
        parts.extend(_segments(segments, choices(record)[0]))
    else:
        parts.extend(_folded(record))
    parts.extend(_error(record))
    notes = [text(note) for note in record.get("notes") or () if text(note)]
    if notes:
        parts.append(_rule("notes: dropped or changed fields"))
        parts.extend(Text(f"- {note}") for note in notes)
    return Group(*parts)


def _folded(record: Record) -> list[RenderableType]:
    """Without captured chunks: each choice's reasoning, then the code runs, tool calls and
    answer (the order inside the answer is not recorded)."""
    parts: list[RenderableType] = []
    several = len(choices(record)) > 1
    runs = code_runs(record)
    for number, choice in enumerate(choices(record), 1):
        suffix = f" (choice {choice.get('index', number - 1)})" if several else ""
        message = message_of(choice)
        reasoning = text(message.get("reasoning_content"))
        if reasoning:
            parts += [_rule("reasoning" + suffix), Text(reasoning, style="dim")]
        if number == 1:
            parts.extend(_code_run(n, code) for n, code in enumerate(runs, 1))
        calls = [call for call in tool_calls(message) if not is_code_run_call(record, call)]
        if calls:
            parts += [_rule("tool calls" + suffix), *(_call_line(call) for call in calls)]
        parts += _answer(text(message.get("content")), choice, suffix)
    if not choices(record):
        parts.extend(_code_run(n, code) for n, code in enumerate(runs, 1))
    return parts


def _segments(segments: list[Segment], choice: dict[str, Any]) -> list[RenderableType]:
    """With captured chunks: the answer in the order it was streamed."""
    parts: list[RenderableType] = []
    for segment in segments:
        if segment.kind == "reasoning":
            parts += [_rule("reasoning"), Text(segment.text, style="dim")]
        elif segment.kind == "code":
            parts.append(_code_run(segment.run + 1, segment.text))
        elif segment.kind == "tool_call":
            function = {"name": segment.call["name"], "arguments": segment.text}
            parts += [
                _rule("tool call"),
                _call_line({"id": segment.call["id"], "function": function}),
            ]
        else:
            parts += _answer(segment.text, None, "")
    if not any(segment.kind == "answer" for segment in segments):
        parts += _answer("", None, "")
    parts.append(_finish(choice))
    return parts


def _answer(content: str, choice: dict[str, Any] | None, suffix: str) -> list[RenderableType]:
    parts: list[RenderableType] = [
        _rule("answer" + suffix),
        Text(content) if content else Text("(no content)", style="dim"),
    ]
    if choice is not None:
        parts.append(_finish(choice))
    return parts


def _finish(choice: dict[str, Any]) -> Text:
    return Text(f"finish_reason: {text(choice.get('finish_reason')) or 'none'}", style="dim")


def _rule(title: str) -> RenderableType:
    """A section heading, after a blank line."""
    return Group(Text(""), Rule(Text(title, style="bold"), align="left", style="dim"))


def _who_and_cost(record: Record) -> list[tuple[str, Text | str]]:
    rows: list[tuple[str, Text | str]] = []
    key = record.get("key")
    if isinstance(key, dict) and key_label(record):
        fingerprint = text(key.get("fingerprint"))
        name = text(key.get("name"))
        rows.append(("proxy key", f"{name} ({fingerprint})" if name else fingerprint))
    cost = cost_of(record)
    if cost is not None:
        family = text(record["cost"].get("family"))
        as_of = text(record["cost"].get("prices_as_of"))
        rows.append(("cost", f"{money(*cost)} ({family} prices as of {as_of})"))
    return rows


def _header(record: Record) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    model = text(record.get("model")) or "-"
    stream = record.get("stream")
    mode = "stream" if stream else "non-stream" if stream is False else ""
    rows: list[tuple[str, Text | str]] = [
        ("exchange", Text(text(record.get("id")), style="bold cyan")),
        ("started", local_time(started_at(record))),
        ("model", f"{model} ({mode})" if mode else model),
        ("endpoint", text(record.get("endpoint")) or "-"),
        (
            "status",
            Text(
                status_label(record, always_outcome=True),
                style="bold red" if is_error(record) else "green",
            ),
        ),
    ]
    if text(record.get("upstream_request_id")):
        rows.append(("upstream request", text(record.get("upstream_request_id"))))
    if text(record.get("client_request_id")):
        rows.append(("client request", text(record.get("client_request_id"))))
    rows.append(
        (
            "timings",
            f"upstream first frame {duration(timing(record, 'upstream_first_frame'))}"
            f" · first byte {duration(timing(record, 'first_byte'))}"
            f" · total {duration(timing(record, 'total'))}",
        )
    )
    rows.append(("usage", _usage(record)))
    rows += _who_and_cost(record)
    translation = record.get("translation")
    if isinstance(translation, dict) and text(translation.get("code_format")):
        rows.append(("code runs shown as", text(translation.get("code_format"))))
    options = _options(record)
    if options:
        rows.append(("request options", options))
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _usage(record: Record) -> str:
    usage = usage_of(record)
    if usage.prompt is None and usage.completion is None:
        return f"unknown · interpreter runs {usage.runs}"
    parts = [f"prompt {usage.prompt}"]
    if usage.cached:
        parts[0] += f" (cached {usage.cached})"
    completion = f"completion {usage.completion}"
    if usage.reasoning is not None:
        completion += f" (reasoning {usage.reasoning})"
    parts += [completion, f"total {usage.total}", f"interpreter runs {usage.runs}"]
    return " · ".join(parts)


def _options(record: Record) -> str:
    body = record.get("request")
    if not isinstance(body, dict):
        return ""
    rest = {key: value for key, value in body.items() if key not in SHOWN_ELSEWHERE}
    return ", ".join(f"{key}={_compact(value)}" for key, value in rest.items())


def _compact(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 120 else shown[:117] + "..."


def _request(record: Record) -> list[RenderableType]:
    messages = request_messages(record)
    if not messages:
        return []
    parts: list[RenderableType] = [_rule(f"request: {len(messages)} message(s)")]
    for message in messages:
        role = text(message.get("role")) or "?"
        label = Text(role, style=_ROLE_STYLES.get(role, "bold"))
        if text(message.get("tool_call_id")):
            label.append(f" (result of {text(message.get('tool_call_id'))})", style="dim")
        if text(message.get("name")):
            label.append(f" ({text(message.get('name'))})", style="dim")
        parts.append(label)
        body: list[RenderableType] = []
        content = content_text(message.get("content"))
        if content:
            body.append(Text(content))
        body.extend(_call_line(call) for call in tool_calls(message))
        if body:
            parts.append(Padding(Group(*body), (0, 0, 0, 2), expand=False))
    return parts


def _call_line(call: dict[str, Any]) -> Text:
    function = call.get("function")
    if not isinstance(function, dict):
        function = {}
    line = Text("-> ", style="dim")
    line.append(text(function.get("name")) or "?", style="bold")
    line.append(" " + text(function.get("arguments")))
    if text(call.get("id")):
        line.append(f"  [{text(call.get('id'))}]", style="dim")
    return line


def _code_run(number: int, code: str) -> RenderableType:
    syntax = Syntax(code or "# (no code)", "python", background_color="default", word_wrap=True)
    return Group(
        _rule(f"code interpreter run {number}"), Padding(syntax, (0, 0, 0, 2), expand=False)
    )


OUTCOME_NOTES = {
    "cancelled": "the client went away before the answer was complete",
    "local": "the proxy answered this itself (only its own echoed calls came in); DashScope "
    "was not called",
}


def _error(record: Record) -> list[RenderableType]:
    error = record.get("error")
    outcome = text(record.get("outcome"))
    if not isinstance(error, dict):
        if outcome in OUTCOME_NOTES:
            return [_rule(outcome), Text(OUTCOME_NOTES[outcome], style="yellow")]
        return []
    code = text(error.get("code"))
    kind = text(error.get("type"))
    head = " ".join(part for part in (kind, f"({code})" if code else "") if part)
    line = Text(f"{head}: " if head else "", style="bold red")
    line.append(text(error.get("message")))
    return [_rule("error"), line]
