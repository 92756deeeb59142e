"""How a server-executed code-interpreter run is shown to a Chat Completions client (sans-I/O).

Agent frameworks execute every `tool_calls` entry they see, so the representation is
selectable (docs/architecture.md, "Representations are selectable"):

- `tool_calls` (default): a `code_interpreter` function call whose arguments concatenate to
  `{"code": "<final code>"}`, streamed as the code grows.
- `reasoning`: a fenced ```python block inside `reasoning_content`.
- `content`: a fenced ```python block inside `content`.
- `vendor`: only the non-standard delta key `code_interpreter_calls`
  (`[{"index", "id", "code"}]`), which OpenAI clients ignore: one entry per run with its
  final code, sent once the run is settled (clients concatenate strings, so a run streamed
  piecemeal could not be corrected if DashScope rewrote its code).
- `off`: not shown (the run still counts in `usage.x_tools`).

Each function returns the delta payload to send, or None.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import orjson

from proxy.chat.wire import Delta, ToolCallDelta

CodeFormat = Literal["tool_calls", "reasoning", "content", "vendor", "off"]
FORMATS: tuple[CodeFormat, ...] = get_args(CodeFormat)
DEFAULT_FORMAT: CodeFormat = "tool_calls"
CODE_INTERPRETER_TOOL = "code_interpreter"
VENDOR_KEY: Final = "code_interpreter_calls"

_ARGS_OPEN = '{"code": "'
_ARGS_CLOSE = '"}'
_FENCE_OPEN = "\n\n```python\n"
_FENCE_CLOSE = "\n```\n\n"
_TEXT_FORMATS = ("reasoning", "content")  # shown inside the delta's text of that name


def escape_json_text(text: str) -> str:
    """`text` escaped for the inside of a JSON string. Escaping is per character, so the escapes
    of consecutive pieces concatenate to the escape of the whole."""
    return orjson.dumps(text).decode()[1:-1]


def fenced(code: str) -> str:
    """A run never streamed before it settled, as the text formats show it whole."""
    return _FENCE_OPEN + code + _FENCE_CLOSE


def code_format(name: str) -> CodeFormat:
    """`name` as a format; a ValueError names the formats there are."""
    for fmt in FORMATS:
        if fmt == name:
            return fmt
    raise ValueError(f"unknown code format {name!r}: one of {', '.join(FORMATS)}")


def uses_tool_index(fmt: CodeFormat) -> bool:
    """Whether runs take places in the choice's tool-call index sequence."""
    return fmt == "tool_calls"


def code_delta(fmt: CodeFormat, index: int, call_id: str, text: str, first: bool) -> Delta | None:
    """The run's code grew by `text`; `first` when this starts the run."""
    if fmt == "tool_calls":
        fragment = escape_json_text(text)
        return _tool_call(index, call_id, _ARGS_OPEN + fragment if first else fragment, first)
    if fmt in _TEXT_FORMATS:
        return _text(fmt, _FENCE_OPEN + text if first else text)
    return None  # vendor: the run is sent whole once settled; off: never


def code_done(
    fmt: CodeFormat, index: int, call_id: str, streamed: str | None, code: str
) -> Delta | None:
    """The run's code is final. `streamed` is what `code_delta` already sent (None: nothing)."""
    if fmt == "vendor":
        return {"code_interpreter_calls": [{"index": index, "id": call_id, "code": code}]}
    if streamed is None:  # never streamed (its code stayed empty): the whole run at once
        if fmt == "tool_calls":
            return _tool_call(
                index, call_id, _ARGS_OPEN + escape_json_text(code) + _ARGS_CLOSE, True
            )
        return _text(fmt, fenced(code)) if fmt in _TEXT_FORMATS else None
    rewritten = streamed != code
    if fmt == "tool_calls":
        # After a rewrite of already-streamed code, repeat the key: JSON parsers keep the last of
        # duplicate keys, so the arguments still parse to {"code": <final code>}.
        tail = '", "code": ' + orjson.dumps(code).decode() + "}" if rewritten else _ARGS_CLOSE
        return _tool_call(index, call_id, tail, False)
    if fmt in _TEXT_FORMATS:
        return _text(fmt, _FENCE_CLOSE + ("```python\n" + code + _FENCE_CLOSE if rewritten else ""))
    return None


def tool_call_payload(index: int, call_id: str, name: str, arguments: str, first: bool) -> Delta:
    """A `tool_calls` delta: `id`, `type` and `name` only on a call's first delta, because
    clients concatenate repeated strings (`get_weatherget_weather`)."""
    call: ToolCallDelta
    if first:
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
    else:
        call = {"index": index, "function": {"arguments": arguments}}
    return {"tool_calls": [call]}


def _tool_call(index: int, call_id: str, arguments: str, first: bool) -> Delta:
    return tool_call_payload(index, call_id, CODE_INTERPRETER_TOOL, arguments, first)


def _text(fmt: CodeFormat, text: str) -> Delta:
    return {"reasoning_content": text} if fmt == "reasoning" else {"content": text}
