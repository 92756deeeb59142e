"""What the benchmark's upstream generates, as pure data: the texts and the rendered frames.

One generation has three parts, in this order: reasoning, one code-interpreter run, the answer.
The same generation is rendered twice: in DashScope's native SSE protocol (what the proxy
consumes) and in DashScope's OpenAI-compatible mode (what LiteLLM consumes), which carries the
reasoning and the answer but drops the code, as the real compatible mode does.

Everything is deterministic in (frames, frame_bytes), so a checker can rebuild the expected
texts with `expected_content` and compare what a client reassembled byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

MODEL = "qwen3-max-preview"
REQUEST_ID = "b3c4d5e6-0000-4bench-8000-000000000001"
COMPLETION_ID = "chatcmpl-bench-0001"
CREATED = 1_700_000_000
INPUT_TOKENS = 100
MIN_FRAMES = 4  # a reasoning frame, the run, an answer frame, the terminal frame
# Quotes, a backslash, a newline and non-ASCII text: every piece exercises JSON escaping and
# UTF-8 on the way through, so a lossy re-encoding breaks byte-exact completeness.
_FILLER = 'tokens "quoted" back\\slash\nnew line, café 数据 '


@dataclass(frozen=True, slots=True)
class Shape:
    """A stream's shape: total native frames and the text characters each frame carries."""

    frames: int
    frame_bytes: int

    def __post_init__(self) -> None:
        if self.frames < MIN_FRAMES:
            raise ValueError(f"frames must be at least {MIN_FRAMES}")
        if self.frame_bytes < 1:
            raise ValueError("frame_bytes must be at least 1")


@dataclass(frozen=True, slots=True)
class Expected:
    """The texts a complete client must reassemble."""

    reasoning: str
    code: str
    answer: str
    reasoning_pieces: int
    answer_pieces: int


def _piece(kind: str, n: int, size: int) -> str:
    # The ordinal makes every piece distinct, so a reordered or repeated chunk shows.
    text = f"{kind}{n} "
    while len(text) < size:
        text += _FILLER
    return text[:size]


def _pieces(shape: Shape) -> tuple[list[str], list[str]]:
    text_frames = shape.frames - 2  # minus the run frame and the terminal frame
    reasoning_count = max(1, text_frames // 2)
    answer_count = text_frames - reasoning_count
    reasoning = [_piece("r", n, shape.frame_bytes) for n in range(reasoning_count)]
    answer = [_piece("a", n, shape.frame_bytes) for n in range(answer_count)]
    return reasoning, answer


def _code(shape: Shape) -> str:
    return f"total = sum(i * i for i in range({shape.frames}))\nprint(total)"


def expected_content(frames: int, frame_bytes: int) -> Expected:
    """The reasoning, code and answer texts the upstream generates for these parameters."""
    shape = Shape(frames, frame_bytes)
    reasoning, answer = _pieces(shape)
    return Expected("".join(reasoning), _code(shape), "".join(answer), len(reasoning), len(answer))


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


# ---- native protocol ----------------------------------------------------------------------


def _native_frame(n: int, data: dict[str, Any]) -> bytes:
    # No space after the colons and a one-line JSON payload, as the service writes them.
    return f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:".encode() + orjson.dumps(data) + b"\n\n"


def _native_usage(output_tokens: int, reasoning_tokens: int, runs: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "total_tokens": INPUT_TOKENS + output_tokens,
        "output_tokens": output_tokens,
        "input_tokens": INPUT_TOKENS,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
    }
    if runs:
        usage["plugins"] = {"code_interpreter": {"count": runs}}
    return usage


def native_frames(shape: Shape) -> list[bytes]:
    """Every native SSE event of the generation, in order; the last one finishes it."""
    reasoning, answer = _pieces(shape)
    snapshot = [{"code_interpreter": {"code": _code(shape)}, "type": "code_interpreter"}]
    steps: list[tuple[str, str, bool, str]] = [(r, "", False, "null") for r in reasoning]
    steps.append(("", "", True, "null"))
    steps.extend(("", a, True, "null") for a in answer)
    steps.append(("", "", True, "stop"))
    frames, output_tokens, reasoning_tokens = [], 0, 0
    for n, (think, say, ran, finish) in enumerate(steps, start=1):
        output_tokens += _tokens(think) + _tokens(say)
        reasoning_tokens += _tokens(think)
        message = {"content": say, "reasoning_content": think, "role": "assistant"}
        output: dict[str, Any] = {"choices": [{"message": message, "finish_reason": finish}]}
        if ran:  # `tool_info` is a cumulative snapshot, repeated on every later frame
            output["tool_info"] = snapshot
        data = {
            "output": output,
            "usage": _native_usage(output_tokens, reasoning_tokens, 1 if ran else 0),
            "request_id": REQUEST_ID,
        }
        frames.append(_native_frame(n, data))
    return frames


# ---- OpenAI-compatible mode ---------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
    return {
        "choices": [choice],
        "object": "chat.completion.chunk",
        "usage": None,
        "created": CREATED,
        "system_fingerprint": None,
        "model": MODEL,
        "id": COMPLETION_ID,
    }


def _compatible_event(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def compatible_frames(shape: Shape, include_usage: bool) -> list[bytes]:
    """The same generation in compatible mode: the run frame carries nothing and is not sent."""
    reasoning, answer = _pieces(shape)
    deltas: list[dict[str, Any]] = [
        {"content": None, "role": "assistant", "reasoning_content": r} for r in reasoning
    ]
    deltas.extend({"content": a, "reasoning_content": None} for a in answer)
    events = [_compatible_event(_chunk(delta, None)) for delta in deltas]
    events.append(_compatible_event(_chunk({"content": ""}, "stop")))
    if include_usage:
        reasoning_tokens = sum(_tokens(r) for r in reasoning)
        completion = reasoning_tokens + sum(_tokens(a) for a in answer)
        usage = {
            "prompt_tokens": INPUT_TOKENS,
            "completion_tokens": completion,
            "total_tokens": INPUT_TOKENS + completion,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        }
        final = {**_chunk({}, None), "choices": [], "usage": usage}
        events.append(_compatible_event(final))
    events.append(b"data: [DONE]\n\n")
    return events


@lru_cache(maxsize=64)
def cached_native(frames: int, frame_bytes: int) -> tuple[bytes, ...]:
    return tuple(native_frames(Shape(frames, frame_bytes)))


@lru_cache(maxsize=64)
def cached_compatible(frames: int, frame_bytes: int, include_usage: bool) -> tuple[bytes, ...]:
    return tuple(compatible_frames(Shape(frames, frame_bytes), include_usage))
