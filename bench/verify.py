"""Turn one finished response into measurements, and check it is complete byte for byte.

Two stream dialects are read: DashScope's native frames (the direct arm) and OpenAI chat
chunks (the proxy, LiteLLM, and the simulator's compatible mode). The texts a client would
reassemble are compared with what the upstream generated (`bench.content.expected_content`):
any lost, repeated or reordered chunk changes them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.client import Response
from bench.content import Expected

NATIVE = "native"
OPENAI = "openai"


@dataclass(slots=True)
class Outcome:
    ok: bool
    error: str = ""
    ttfb: float = 0.0  # seconds from the request to the first response byte
    ttft: float = 0.0  # ... to the first event carrying generated text (reasoning or answer)
    total: float = 0.0
    chunks: int = 0  # data events carrying a JSON object
    gaps: list[float] = field(default_factory=list)  # between consecutive data events


@dataclass(slots=True)
class _Texts:
    reasoning: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    code: str = ""
    arguments: dict[int, list[str]] = field(default_factory=dict)
    finishes: list[str] = field(default_factory=list)
    done_marker: bool = False
    error: str = ""


def _events(body: bytes) -> list[tuple[int, bytes]]:
    """(offset just past the event, its data payload) for each event with a data line."""
    events: list[tuple[int, bytes]] = []
    start = 0
    while True:
        end = body.find(b"\n\n", start)
        if end < 0:
            return events
        data = [
            line[5:].lstrip(b" ") for line in body[start:end].split(b"\n") if line[:5] == b"data:"
        ]
        if data:
            events.append((end + 2, b"\n".join(data)))
        start = end + 2


def _arrival(response: Response, offset: int) -> float:
    """The time of the read that completed the byte at `offset`."""
    index = bisect.bisect_left(response.reads, offset, key=lambda read: read[1])
    return response.reads[min(index, len(response.reads) - 1)][0]


def _read_native(payload: dict[str, Any], texts: _Texts) -> bool:
    if "output" not in payload:
        texts.error = f"native error frame: {payload.get('code')}"
        return False
    output = payload["output"]
    choice = output["choices"][0]
    message = choice.get("message") or {}
    grew = False
    if message.get("reasoning_content"):
        texts.reasoning.append(message["reasoning_content"])
        grew = True
    if message.get("content"):
        texts.answer.append(message["content"])
        grew = True
    for entry in output.get("tool_info") or ():
        texts.code = entry["code_interpreter"]["code"]  # a cumulative snapshot: keep the last
    if choice.get("finish_reason") not in (None, "null"):
        texts.finishes.append(choice["finish_reason"])
    return grew


def _read_openai(payload: dict[str, Any], texts: _Texts) -> bool:
    if "error" in payload:
        texts.error = f"in-band error: {payload['error']}"
        return False
    grew = False
    for choice in payload.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("reasoning_content"):
            texts.reasoning.append(delta["reasoning_content"])
            grew = True
        if delta.get("content"):
            texts.answer.append(delta["content"])
            grew = True
        for call in delta.get("tool_calls") or ():
            fragment = (call.get("function") or {}).get("arguments") or ""
            texts.arguments.setdefault(call.get("index", 0), []).append(fragment)
        if choice.get("finish_reason"):
            texts.finishes.append(choice["finish_reason"])
    return grew


def _mismatch(texts: _Texts, expected: Expected, dialect: str, expect_code: bool) -> str:
    if texts.error:
        return texts.error
    if "".join(texts.reasoning) != expected.reasoning:
        return "reasoning differs from what the upstream generated"
    if "".join(texts.answer) != expected.answer:
        return "answer differs from what the upstream generated"
    if texts.finishes != ["stop"]:
        return f"finish reasons {texts.finishes}, expected exactly one 'stop'"
    if dialect == OPENAI and not texts.done_marker:
        return "no data: [DONE]"
    if not expect_code:
        return ""
    code = texts.code
    if dialect == OPENAI:
        calls = ["".join(parts) for parts in texts.arguments.values()]
        if len(calls) != 1:
            return f"{len(calls)} tool calls, expected one"
        try:
            code = orjson.loads(calls[0])["code"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return "tool call arguments are not {'code': ...}"
    return "" if code == expected.code else "code differs from what the upstream generated"


def examine(response: Response, expected: Expected, dialect: str, expect_code: bool) -> Outcome:
    """Measurements of one response; `ok` only if it is a complete, exact 200 stream."""
    outcome = Outcome(
        ok=False,
        ttfb=response.first_byte - response.sent,
        total=response.done - response.sent,
    )
    if response.status != 200:
        outcome.error = f"HTTP {response.status}: {bytes(response.body[:200])!r}"
        return outcome
    texts = _Texts()
    reader = _read_native if dialect == NATIVE else _read_openai
    body = bytes(response.body)
    previous = 0.0
    for offset, data in _events(body):
        if data == b"[DONE]":
            texts.done_marker = True
            continue
        arrived = _arrival(response, offset)
        try:
            grew = reader(orjson.loads(data), texts)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            outcome.error = f"unreadable event: {exc!r}"
            return outcome
        if grew and not outcome.ttft:
            outcome.ttft = arrived - response.sent
        if outcome.chunks:
            outcome.gaps.append(arrived - previous)
        previous = arrived
        outcome.chunks += 1
    outcome.error = _mismatch(texts, expected, dialect, expect_code)
    outcome.ok = not outcome.error
    return outcome
