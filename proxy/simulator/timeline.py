"""Turn a scripted generation into the `data:` payloads of native DashScope result frames.

A script is a sequence of `Step`s, one per frame, each saying what is *new* in that frame.
`play` keeps the running state the real service keeps (cumulative usage, the `tool_info`
snapshot, the text so far, function-call arguments so far) so that scripts stay short and every
frame stays consistent. Options add what a request asked for: per-token `logprobs`, web-search
`search_info` (whose first frame carries `usage: {}`), and an explicit choice `index` (several
choices, `n`, interleave one per frame, each packet with its own choice's usage).
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

NOT_FINISHED = "null"  # DashScope sends the *string* "null" while a choice is still generating


@dataclass(frozen=True, slots=True)
class CallDelta:
    """A piece of a model-requested function call (`message.tool_calls[]`), keyed by `index`.

    `call_id` and `name` are set on the call's first piece only, as DashScope streams them.
    """

    index: int
    arguments: str
    call_id: str = ""
    name: str = ""


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
    choice: int = 0  # which choice this frame belongs to (only `n` > 1 has others)
    tool_calls: tuple[CallDelta, ...] = ()


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


def call(*deltas: CallDelta, tokens: int = 0, reason: str = NOT_FINISHED) -> Step:
    """Function-call pieces; the terminal frame of a call stream carries its last piece."""
    return Step(tool_calls=deltas, output_tokens=tokens, finish=reason)


def new_inference(input_tokens: int, step: Step) -> Step:
    return replace(step, input_tokens=input_tokens)


_TOKEN = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Words, leading whitespace kept with its word as tokenizers do (" user"); lossless."""
    return _TOKEN.findall(text)


def _word_groups(text: str, words: int) -> list[str]:
    pieces = split_tokens(text)
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
    # Every frame repeats each call's id, name and whole arguments so far. DashScope does so
    # without incremental output, and has been seen doing it with incremental output too.
    cumulative_calls: bool = False
    indexed: bool = False  # choices carry `index` (DashScope adds it for `n` and tools)
    top_logprobs: int | None = None  # None: no logprobs; else alternatives per token
    # Sources of a web search: sent on the first frame only, later frames repeat it empty.
    search_results: tuple[dict[str, Any], ...] | None = None
    search_count: int | None = None  # `usage.plugins.search.count`
    # With `n` > 1 each packet carries one choice and that choice's own output so far, not the
    # request's (docs/dashscope-protocol.md, "What the simulator refuses").
    per_choice_usage: bool = False


class _State:
    """Running totals across frames, as the service accumulates them."""

    def __init__(self, input_tokens: int) -> None:
        self.input_tokens = input_tokens
        self.output_tokens: dict[int, int] = {}  # per choice; summed unless per-choice usage
        self.reasoning_tokens: dict[int, int] = {}
        self.codes: tuple[str, ...] | None = None
        self.runs: int | None = None
        self.reasoning: dict[int, str] = {}
        self.content: dict[int, str] = {}
        self.calls: dict[tuple[int, int], CallDelta] = {}  # (choice, index) -> call so far
        self.frames = 0

    def advance(self, step: Step) -> None:
        if step.input_tokens is not None:
            self.input_tokens = step.input_tokens
        choice = step.choice
        self.output_tokens[choice] = self.output_tokens.get(choice, 0) + step.output_tokens
        self.reasoning_tokens[choice] = self.reasoning_tokens.get(choice, 0) + step.reasoning_tokens
        if step.codes is not None:
            self.codes = step.codes
        if step.runs is not None:
            self.runs = step.runs
        self.reasoning[step.choice] = self.reasoning.get(step.choice, "") + step.reasoning
        self.content[step.choice] = self.content.get(step.choice, "") + step.content
        self.frames += 1


def _calls(step: Step, state: _State, opts: PlayOptions) -> list[dict[str, Any]]:
    """The frame's `tool_calls`; updates the calls so far."""
    rendered = []
    for delta in step.tool_calls:
        key = (step.choice, delta.index)
        before = state.calls.get(key)
        so_far = CallDelta(
            delta.index,
            (before.arguments if before else "") + delta.arguments,
            before.call_id if before else delta.call_id,
            before.name if before else delta.name,
        )
        state.calls[key] = so_far
        if opts.cumulative_calls or not opts.incremental:
            shown, first = so_far, True
        else:
            shown, first = delta, before is None
        function: dict[str, Any] = {"arguments": shown.arguments}
        if first:
            function = {"name": shown.name, **function}
        call_id = shown.call_id if first else ""
        rendered.append(
            {"index": delta.index, "id": call_id, "type": "function", "function": function}
        )
    return rendered


def _token_logprobs(text: str, top: int) -> list[dict[str, Any]]:
    """OpenAI-shaped entries, one per token (a word with its leading space); deterministic."""
    entries = []
    for n, token in enumerate(split_tokens(text)):
        logprob = -round(0.05 * (n % 7 + 1), 4)
        alternatives = [
            {"token": token, "bytes": list(token.encode()), "logprob": logprob},
            *(
                {"token": f"<alt{k}>", "bytes": list(f"<alt{k}>".encode()), "logprob": logprob - k}
                for k in range(1, top)
            ),
        ][:top]
        entries.append(
            {
                "token": token,
                "bytes": list(token.encode()),
                "logprob": logprob,
                "top_logprobs": alternatives,
            }
        )
    return entries


def _message(step: Step, state: _State, opts: PlayOptions) -> dict[str, Any]:
    content = step.content if opts.incremental else state.content[step.choice]
    message: dict[str, Any] = {"content": content}
    if opts.thinking:
        reasoning = step.reasoning if opts.incremental else state.reasoning[step.choice]
        message["reasoning_content"] = reasoning
    calls = _calls(step, state, opts)
    if calls:
        message["tool_calls"] = calls
    message["role"] = "assistant"
    return message


def _choice(step: Step, state: _State, opts: PlayOptions) -> dict[str, Any]:
    choice: dict[str, Any] = {"message": _message(step, state, opts)}
    if opts.indexed:
        choice["index"] = step.choice
    if opts.top_logprobs is not None and step.content:
        choice["logprobs"] = {"content": _token_logprobs(step.content, opts.top_logprobs)}
    choice["finish_reason"] = step.finish
    return choice


def _usage(state: _State, opts: PlayOptions, choice: int) -> dict[str, Any]:
    if opts.search_count is not None and state.frames == 1:
        return {}  # a search answer's first frame, the one with the sources, counts nothing yet
    if opts.per_choice_usage:
        output, reasoning = state.output_tokens[choice], state.reasoning_tokens[choice]
    else:
        output, reasoning = sum(state.output_tokens.values()), sum(state.reasoning_tokens.values())
    # Key order copies the recorded frames so rendered bytes match the seed exactly.
    usage: dict[str, Any] = {
        "total_tokens": state.input_tokens + output,
        "output_tokens": output,
        "input_tokens": state.input_tokens,
    }
    if opts.thinking:
        usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
    plugins: dict[str, Any] = {}
    if state.runs is not None:
        plugins["code_interpreter"] = {"count": state.runs}
    if opts.search_count is not None:
        plugins["search"] = {"count": opts.search_count, "strategy": "standard"}
    if plugins:
        usage["plugins"] = plugins
    return usage


def _tool_info(codes: Sequence[str]) -> list[dict[str, Any]]:
    return [{"code_interpreter": {"code": code}, "type": "code_interpreter"} for code in codes]


def _payload(step: Step, state: _State, opts: PlayOptions) -> dict[str, Any]:
    output: dict[str, Any] = {"choices": [_choice(step, state, opts)]}
    if state.codes is not None:
        output["tool_info"] = _tool_info(state.codes)
    if opts.search_results is not None:
        results = list(opts.search_results) if state.frames == 1 else []
        output["search_info"] = {"search_results": results, "extra_tool_info": []}
    usage = _usage(state, opts, step.choice)
    return {"output": output, "usage": usage, "request_id": opts.request_id}


def play(steps: Iterable[Step], opts: PlayOptions) -> list[dict[str, Any]]:
    """The `data:` object of every result frame, in order."""
    state = _State(opts.input_tokens)
    payloads = []
    for step in steps:
        state.advance(step)
        payloads.append(_payload(step, state, opts))
    return payloads
