"""One exchange laid out as its timeline, like `logs show`: who asked what, what the model
thought, the code each interpreter run executed (highlighted), the answer, errors, timings,
usage and, when the record has it, cost."""

from __future__ import annotations

import orjson

from proxy.cli.web.highlight import python_block
from proxy.cli.web.html import Html, el
from proxy.cli.web.layout import cost_text, key_text, page, status_class
from proxy.cli.web.plots import timing_bar
from proxy.inspect.query import (
    Record,
    choices,
    code_runs,
    content_text,
    is_code_run_call,
    message_of,
    request_messages,
    started_at,
    text,
    timing,
    tool_calls,
    usage_of,
)
from proxy.inspect.render import duration, local_time, status_label
from proxy.inspect.render_show import OUTCOME_NOTES, SHOWN_ELSEWHERE
from proxy.inspect.timeline import Segment, timeline

# Fields the page shows in their own place; any other top-level field is listed as it is.
_SHOWN = frozenset(
    {
        "v", "id", "upstream_request_id", "client_request_id", "started_at", "endpoint",
        "model", "stream", "status", "outcome", "error", "request", "upstream_request",
        "notes", "translation", "timings_ms", "response", "usage", "frames", "chunks", "cost",
        "key",
    }
)  # fmt: skip


def exchange_page(source: str, record: Record) -> Html:
    exchange_id = text(record.get("id"))
    title = el(
        "h1",
        "Exchange ",
        el("code", exchange_id),
        " ",
        el("span", status_label(record, always_outcome=True), class_=status_class(record)),
    )
    body = [title, el("div", _meta(record), class_="card"), _numbers(record)]
    body += _request(record)
    body.append(el("h2", "Response"))
    body += [_segment(segment, record) for segment in _segments(record)]
    body += _error(record)
    notes = [text(note) for note in record.get("notes") or () if text(note)]
    if notes:
        body += [el("h2", "Notes: dropped or changed fields"), el("ul", *map(_li, notes))]
    raw = orjson.dumps(record, option=orjson.OPT_INDENT_2).decode()
    body.append(el("details", el("summary", "the record as JSON"), el("pre", raw)))
    return page(f"Exchange {exchange_id[:8]}", "", source, *body)


def _li(note: str) -> Html:
    return el("li", note)


def _meta(record: Record) -> Html:
    model = text(record.get("model")) or "-"
    stream = record.get("stream")
    mode = " (stream)" if stream else " (non-stream)" if stream is False else ""
    rows: list[tuple[str, str | Html]] = [
        ("started", local_time(started_at(record))),
        ("model", model + mode),
        ("endpoint", text(record.get("endpoint")) or "-"),
    ]
    for key, label in (
        ("upstream_request_id", "upstream request"),
        ("client_request_id", "client request"),
    ):
        if text(record.get(key)):
            rows.append((label, text(record.get(key))))
    translation = record.get("translation")
    if isinstance(translation, dict) and text(translation.get("code_format")):
        rows.append(("code runs shown as", text(translation.get("code_format"))))
    body = record.get("request")
    if isinstance(body, dict):
        options = [f"{k}={_compact(v)}" for k, v in body.items() if k not in SHOWN_ELSEWHERE]
        if options:
            rows.append(("request options", ", ".join(options)))
    if key_text(record):
        rows.append(("proxy key", key_text(record)))
    cost = record.get("cost")
    if isinstance(cost, dict) and cost_text(cost):
        prices = " ".join(
            text(cost.get(k)) for k in ("family", "prices_as_of") if text(cost.get(k))
        )
        rows.append(("cost", cost_text(cost) + (f" ({prices} prices)" if prices else "")))
    rows += [(key, _compact(value)) for key, value in record.items() if key not in _SHOWN]
    return el(
        "dl", *(Html(el("dt", label) + el("dd", value)) for label, value in rows), class_="meta"
    )


def _compact(value: object) -> str:
    shown = value if isinstance(value, str) else orjson.dumps(value).decode()
    return shown if len(shown) <= 160 else shown[:157] + "..."


def _tile(value: str, label: str) -> Html:
    return el("div", el("b", value), el("span", label), class_="tile")


def _numbers(record: Record) -> Html:
    usage = usage_of(record)
    tiles = [
        _tile(duration(timing(record, "upstream_first_frame")), "upstream first frame"),
        _tile(duration(timing(record, "first_byte")), "first byte to the client"),
        _tile(duration(timing(record, "total")), "total"),
    ]
    if usage.prompt is not None or usage.completion is not None:
        cached = f", {usage.cached} cached" if usage.cached else ""
        reasoning = f", {usage.reasoning} reasoning" if usage.reasoning is not None else ""
        tiles += [
            _tile(str(usage.prompt if usage.prompt is not None else "-"), "prompt tokens" + cached),
            _tile(
                str(usage.completion if usage.completion is not None else "-"),
                "completion tokens" + reasoning,
            ),
        ]
    tiles.append(_tile(str(usage.runs), "interpreter runs"))
    cost = cost_text(record.get("cost"))
    if cost:
        tiles.append(_tile(cost, "cost"))
    return el("div", el("div", *tiles, class_="tiles"), timing_bar(record), class_="card")


def _request(record: Record) -> list[Html]:
    messages = request_messages(record)
    if not messages:
        return []
    parts = [el("h2", f"Request: {len(messages)} message(s)")]
    for message in messages:
        label = text(message.get("role")) or "?"
        if text(message.get("tool_call_id")):
            label += f" (result of {text(message.get('tool_call_id'))})"
        if text(message.get("name")):
            label += f" ({text(message.get('name'))})"
        content = content_text(message.get("content"))
        calls = [_call(call) for call in tool_calls(message)]
        text_part = el("div", content, class_="text") if content else None
        parts.append(
            el("div", el("div", label, class_="label"), text_part, *calls, class_="segment message")
        )
    return parts


def _call(call: dict[str, object]) -> Html:
    function = call.get("function")
    name = text(function.get("name")) if isinstance(function, dict) else ""
    arguments = text(function.get("arguments")) if isinstance(function, dict) else ""
    call_id = text(call.get("id"))
    return el(
        "div",
        "→ ",
        el("b", name or "?"),
        " ",
        el("code", arguments),
        el("span", f"  [{call_id}]", class_="muted") if call_id else None,
        class_="text",
    )


def _segments(record: Record) -> list[Segment]:
    """In stream order when chunks were captured; else each choice's reasoning, code runs,
    tool calls and answer (the order inside an answer is not recorded)."""
    ordered = timeline(record)
    if ordered is not None:
        if not any(segment.kind == "answer" for segment in ordered):
            ordered.append(Segment("answer"))
        return ordered
    segments: list[Segment] = []
    runs = [Segment("code", code, run) for run, code in enumerate(code_runs(record))]
    for number, choice in enumerate(choices(record)):
        message = message_of(choice)
        if text(message.get("reasoning_content")):
            segments.append(Segment("reasoning", text(message.get("reasoning_content"))))
        segments += runs if number == 0 else []
        for call in tool_calls(message):
            if not is_code_run_call(record, call):
                function = call.get("function")
                name = text(function.get("name")) if isinstance(function, dict) else ""
                arguments = text(function.get("arguments")) if isinstance(function, dict) else ""
                segments.append(
                    Segment("tool_call", arguments, call={"id": text(call.get("id")), "name": name})
                )
        segments.append(Segment("answer", text(message.get("content"))))
    return segments if choices(record) else runs


def _segment(segment: Segment, record: Record) -> Html:
    if segment.kind == "reasoning":
        return _block("reasoning", "Thinking", el("div", segment.text, class_="text"))
    if segment.kind == "code":
        return _block("code", f"Code interpreter run {segment.run + 1}", python_block(segment.text))
    if segment.kind == "tool_call":
        call = {
            "id": segment.call.get("id"),
            "function": {**segment.call, "arguments": segment.text},
        }
        return _block("tool", "Tool call", _call(call))
    finish = [text(c.get("finish_reason")) or "none" for c in choices(record)[:1]]
    shown = (
        el("div", segment.text, class_="text")
        if segment.text
        else el("div", "(no content)", class_="text muted")
    )
    tail = el("div", f"finish_reason: {finish[0]}", class_="muted") if finish else None
    return _block("answer", "Answer", shown, tail)


def _block(kind: str, label: str, *content: Html | None) -> Html:
    return el("div", el("div", label, class_="label"), *content, class_=f"segment {kind}")


def _error(record: Record) -> list[Html]:
    error = record.get("error")
    outcome = text(record.get("outcome"))
    if not isinstance(error, dict):
        if outcome in OUTCOME_NOTES:
            return [_block("error", outcome, el("div", OUTCOME_NOTES[outcome], class_="text"))]
        return []
    code = text(error.get("code"))
    kind = text(error.get("type"))
    head = " ".join(part for part in (kind, f"({code})" if code else "") if part)
    line = el(
        "div", el("b", f"{head}: " if head else ""), text(error.get("message")), class_="text"
    )
    return [_block("error", "Error", line)]
