"""The order things happened in an answer, from its captured chunks (pure).

The folded response keeps one reasoning text and a list of code runs, which loses their order:
the model thinks, runs code, reads the result and thinks again. With `capture_chunks` the
record has the stream itself (chat chunks, or Responses API events), so `logs show` can lay the
answer out as it unfolded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.chat.code_runs import VENDOR_KEY
from proxy.inspect.query import Record, choices, code_runs, is_code_run_call, text, tool_calls


@dataclass(slots=True)
class Segment:
    kind: str  # reasoning, code, tool_call or answer
    text: str = ""  # reasoning or answer text; a code run's final code; a call's arguments
    run: int = 0  # code: the run's number, from 0
    call: dict[str, Any] = field(default_factory=dict)  # tool_call: id and function name


def timeline(record: Record) -> list[Segment] | None:
    """The single choice's answer as segments in stream order; None without captured chunks
    (or with several choices, which interleave)."""
    chunks = record.get("chunks")
    if not isinstance(chunks, list) or len(choices(record)) != 1:
        return None
    if chunks and isinstance(chunks[0], dict) and "type" in chunks[0]:
        return _with_code(_response_segments(chunks), code_runs(record))
    segments: list[Segment] = []
    calls: dict[Any, Segment] = {}  # tool-call index -> its segment
    runs = 0
    for chunk in chunks:
        entries = chunk.get("choices") if isinstance(chunk, dict) else None
        for entry in entries if isinstance(entries, list) else ():
            delta = entry.get("delta") if isinstance(entry, dict) else None
            if not isinstance(delta, dict):
                continue
            _add_text(segments, "reasoning", text(delta.get("reasoning_content")))
            for call in tool_calls(delta):
                segment = calls.get(call.get("index"))
                if segment is None:
                    segment = _new_call(record, call, runs)
                    runs += segment.kind == "code"
                    calls[call.get("index")] = segment
                    segments.append(segment)
                if segment.kind == "tool_call":
                    function = call.get("function")
                    if isinstance(function, dict):
                        segment.text += text(function.get("arguments"))
            for _ in delta.get(VENDOR_KEY) or ():
                segments.append(Segment("code", run=runs))
                runs += 1
            _add_text(segments, "answer", text(delta.get("content")))
    return _with_code(segments, code_runs(record))


def _response_segments(events: list[Any]) -> list[Segment]:
    """The same segments from a Responses API exchange's events (its `chunks`)."""
    segments: list[Segment] = []
    calls: dict[Any, Segment] = {}  # output index -> a function call's segment
    runs = 0
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "response.reasoning_text.delta":
            _add_text(segments, "reasoning", text(event.get("delta")))
        elif kind == "response.output_text.delta":
            _add_text(segments, "answer", text(event.get("delta")))
        elif (
            kind == "response.function_call_arguments.delta" and event.get("output_index") in calls
        ):
            calls[event.get("output_index")].text += text(event.get("delta"))
        elif kind == "response.output_item.added":
            item = event.get("item")
            item_type = item.get("type") if isinstance(item, dict) else None
            if item_type == "code_interpreter_call":
                segments.append(Segment("code", run=runs))
                runs += 1
            elif isinstance(item, dict) and item_type == "function_call":
                call = {"id": text(item.get("call_id")), "name": text(item.get("name"))}
                segment = calls[event.get("output_index")] = Segment("tool_call", call=call)
                segments.append(segment)
    return segments


def _add_text(segments: list[Segment], kind: str, piece: str) -> None:
    if not piece:
        return
    if segments and segments[-1].kind == kind:
        segments[-1].text += piece
    else:
        segments.append(Segment(kind, piece))


def _new_call(record: Record, call: dict[str, Any], runs: int) -> Segment:
    if is_code_run_call(record, call):
        return Segment("code", run=runs)
    function = call.get("function")
    name = text(function.get("name")) if isinstance(function, dict) else ""
    return Segment("tool_call", call={"id": text(call.get("id")), "name": name})


def _with_code(segments: list[Segment], codes: list[str]) -> list[Segment]:
    """Each code segment gets its run's final code; runs the stream never showed on their own
    (shown inside the text, or not at all) go before the answer."""
    placed = set()
    for segment in segments:
        if segment.kind == "code":
            segment.text = codes[segment.run] if segment.run < len(codes) else ""
            placed.add(segment.run)
    missing = [Segment("code", code, run) for run, code in enumerate(codes) if run not in placed]
    if missing:
        answer = next((i for i, s in enumerate(segments) if s.kind == "answer"), len(segments))
        segments[answer:answer] = missing
    return segments
