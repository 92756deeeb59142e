"""Turn a scripted generation into the `data:` payloads of native DashScope result frames.

A script is a sequence of `Step`s, one per frame, each saying what is *new* in that frame.
`play` keeps the running state the real service keeps (cumulative usage, the `tool_info`
snapshot, the text so far) so that scripts stay short and every frame stays consistent.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

NOT_FINISHED = "null"  # DashScope sends the *string* "null" while a choice is still generating


@dataclass(frozen=True, slots=True)
class Step:
    """What one frame adds. Token counts are increments; `input_tokens` is a new total."""

    reasoning: str = ""
    content: str = ""
    output_tokens: int = 0
    reasoning_tokens: int = 0
    # Set on the first frame of a new inference: its prompt includes the interpreter's output,
    # so the cumulative input count jumps.
    input_tokens: int | None = None
    # A new `tool_info` snapshot (the code of every run so far); None keeps the previous one.
    codes: tuple[str, ...] | None = None
    runs: int | None = None  # new `usage.plugins.code_interpreter.count`
    finish: str = NOT_FINISHED


def estimate_tokens(text: str) -> int:
    # Rough English ratio; only needs to look plausible and stay deterministic.
    return max(1, (len(text) + 3) // 4) if text else 0


def think(text: str, tokens: int | None = None, *, extra: int = 0) -> Step:
    """A reasoning piece; `extra` counts output tokens that are not reasoning (markers)."""
    n = estimate_tokens(text) if tokens is None else tokens
    return Step(reasoning=text, output_tokens=n + extra, reasoning_tokens=n)


def say(text: str, tokens: int | None = None) -> Step:
    n = estimate_tokens(text) if tokens is None else tokens
    return Step(content=text, output_tokens=n)


def hidden(tokens: int) -> Step:
    """A frame with empty texts: the model is writing a tool call the client never sees."""
    return Step(output_tokens=tokens)


def run(*codes: str, runs: int | None = None, tokens: int = 0) -> Step:
    return Step(codes=codes, runs=runs, output_tokens=tokens)


def finish(reason: str = "stop") -> Step:
    return Step(finish=reason)


def new_inference(input_tokens: int, step: Step) -> Step:
    return replace(step, input_tokens=input_tokens)


def _word_groups(text: str, words: int) -> list[str]:
    # Leading whitespace stays with its word, as tokenizers do (" user"); joining is lossless.
    pieces = re.findall(r"\s*\S+|\s+", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]


def think_text(text: str, words: int = 3) -> list[Step]:
    return [think(piece) for piece in _word_groups(text, words)]


def say_text(text: str, words: int = 3) -> list[Step]:
    return [say(piece) for piece in _word_groups(text, words)]


@dataclass(frozen=True, slots=True)
class PlayOptions:
    request_id: str
    input_tokens: int
    thinking: bool
    incremental: bool


class _State:
    """Running totals across frames, as the service accumulates them."""

    def __init__(self, input_tokens: int) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = 0
        self.reasoning_tokens = 0
        self.codes: tuple[str, ...] | None = None
        self.runs: int | None = None
        self.reasoning = ""
        self.content = ""

    def advance(self, step: Step) -> None:
        if step.input_tokens is not None:
            self.input_tokens = step.input_tokens
        self.output_tokens += step.output_tokens
        self.reasoning_tokens += step.reasoning_tokens
        if step.codes is not None:
            self.codes = step.codes
        if step.runs is not None:
            self.runs = step.runs
        self.reasoning += step.reasoning
        self.content += step.content


def _message(step: Step, state: _State, opts: PlayOptions) -> dict[str, Any]:
    content = step.content if opts.incremental else state.content
    message: dict[str, Any] = {"content": content}
    if opts.thinking:
        message["reasoning_content"] = step.reasoning if opts.incremental else state.reasoning
    message["role"] = "assistant"
    return message


def _usage(state: _State, opts: PlayOptions) -> dict[str, Any]:
    # Key order copies the recorded frames so rendered bytes match the seed exactly.
    usage: dict[str, Any] = {
        "total_tokens": state.input_tokens + state.output_tokens,
        "output_tokens": state.output_tokens,
        "input_tokens": state.input_tokens,
    }
    if opts.thinking:
        usage["output_tokens_details"] = {"reasoning_tokens": state.reasoning_tokens}
    if state.runs is not None:
        usage["plugins"] = {"code_interpreter": {"count": state.runs}}
    return usage


def _tool_info(codes: Sequence[str]) -> list[dict[str, Any]]:
    return [{"code_interpreter": {"code": code}, "type": "code_interpreter"} for code in codes]


def _payload(step: Step, state: _State, opts: PlayOptions) -> dict[str, Any]:
    output: dict[str, Any] = {
        "choices": [{"message": _message(step, state, opts), "finish_reason": step.finish}]
    }
    if state.codes is not None:
        output["tool_info"] = _tool_info(state.codes)
    return {"output": output, "usage": _usage(state, opts), "request_id": opts.request_id}


def play(steps: Iterable[Step], opts: PlayOptions) -> list[dict[str, Any]]:
    """The `data:` object of every result frame, in order."""
    state = _State(opts.input_tokens)
    payloads = []
    for step in steps:
        state.advance(step)
        payloads.append(_payload(step, state, opts))
    return payloads
