"""Every OpenAI chat-completions request field, and what the proxy does with it.

This table drives the request translator (types and treatment) and is rendered into
`docs/fields.md`, so the documentation cannot drift from the code:
`python -m proxy.chat.fields` prints the table; a test compares it with the docs.

Treatments: `passed` (sent in `parameters` under the same name), `mapped` (translated, as
described), `proxy` (handled by the proxy itself), `reported` (DashScope cannot express it:
dropped, and named in the `x-dashscope-proxy-notes` response header, whose notes are separated
by "; ", so the text of a reported field never holds one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.chat.messages import json_type
from proxy.core.errors import InvalidRequest

NUMBER: tuple[type, ...] = (int, float)
INT: tuple[type, ...] = (int,)
BOOL: tuple[type, ...] = (bool,)
STR: tuple[type, ...] = (str,)
OBJECT: tuple[type, ...] = (dict,)
ARRAY: tuple[type, ...] = (list,)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    types: tuple[type, ...]
    treatment: str
    how: str
    origin: str = "openai"  # or "dashscope": a DashScope extra sent through `extra_body`


def check_type(value: Any, types: tuple[type, ...], name: str) -> Any:
    """`value` if it has one of `types` (or is None), else a 400 naming the field."""
    # bool is an int in Python, but `"temperature": true` is a client bug worth a 400.
    if value is None:
        return None
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        expected = " or ".join(_TYPE_NAMES[t] for t in types)
        raise InvalidRequest(f"'{name}' must be {expected}, got {json_type(value)}.", param=name)
    return value


_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _f(name: str, types: tuple[type, ...], treatment: str, how: str) -> Field:
    return Field(name, types, treatment, how)


def _ds(name: str, types: tuple[type, ...], how: str = "sent in `parameters`") -> Field:
    return Field(name, types, "passed", how, "dashscope")


FIELDS: tuple[Field, ...] = (
    _f("model", STR, "mapped", "`model`; picks the endpoint (multimodal models, see routing)"),
    _f("messages", ARRAY, "mapped", "`input.messages`; see the message table"),
    _f("stream", BOOL, "proxy", "upstream always streams; `false` is served by folding chunks"),
    _f("stream_options", OBJECT, "proxy", "`include_usage` adds the final usage chunk"),
    _f("max_tokens", INT, "passed", "`parameters.max_tokens`"),
    _f("max_completion_tokens", INT, "passed", "`parameters.max_completion_tokens`"),
    _f("temperature", NUMBER, "passed", "`parameters.temperature`"),
    _f("top_p", NUMBER, "mapped", "clamped into DashScope's (0, 1]; a clamp is reported"),
    _f("seed", INT, "passed", "`parameters.seed`"),
    _f("stop", (str, list), "passed", "`parameters.stop`"),
    _f("presence_penalty", NUMBER, "passed", "`parameters.presence_penalty`"),
    _f("frequency_penalty", NUMBER, "reported", "no DashScope equivalent"),
    _f("n", INT, "passed", "`parameters.n`; streamed choices interleave by `index`"),
    _f("logprobs", BOOL, "passed", "`parameters.logprobs`; returned in `choices[].logprobs`"),
    _f("top_logprobs", INT, "passed", "`parameters.top_logprobs` (DashScope allows 0-5)"),
    _f("logit_bias", OBJECT, "passed", "`parameters.logit_bias` (some models)"),
    _f(
        "response_format",
        OBJECT,
        "passed",
        "`parameters.response_format` (json_object, json_schema)",
    ),
    _f(
        "tools",
        ARRAY,
        "passed",
        "`parameters.tools`; function tools only; not with the code interpreter",
    ),
    _f(
        "tool_choice",
        (str, dict),
        "mapped",
        "`auto`, `none` and a named function pass; `required` becomes the named function when "
        "there is one tool, else `auto` (reported)",
    ),
    _f("parallel_tool_calls", BOOL, "passed", "`parameters.parallel_tool_calls`"),
    _f(
        "reasoning_effort",
        STR,
        "mapped",
        "`none`/`minimal`: `enable_thinking=false`; `low`/`medium`/`high`: `enable_thinking=true` "
        "with `thinking_budget` 1024/8192/32768; `xhigh`/`max`: thinking without a budget. "
        "An explicit `enable_thinking` or `thinking_budget` wins",
    ),
    _f("user", (str, dict), "reported", "no DashScope equivalent"),
    _f("metadata", OBJECT, "reported", "no DashScope equivalent"),
    _f("store", BOOL, "reported", "no DashScope equivalent"),
    _f("service_tier", STR, "reported", "no DashScope equivalent"),
    _f("modalities", ARRAY, "reported", "text only"),
    _f("audio", OBJECT, "reported", "text only"),
    _f("prediction", OBJECT, "reported", "no DashScope equivalent"),
    _f("web_search_options", OBJECT, "reported", "use `enable_search` and `search_options`"),
    _f("prompt_cache_key", STR, "reported", "DashScope caches by `cache_control` parts"),
    _f("prompt_cache_retention", STR, "reported", "DashScope caches by `cache_control` parts"),
    _f("safety_identifier", STR, "reported", "no DashScope equivalent"),
    _f("verbosity", STR, "reported", "no DashScope equivalent"),
    _f("functions", ARRAY, "reported", "legacy, use `tools`"),
    _f("function_call", (str, dict), "reported", "legacy, use `tool_choice`"),
    _f(
        "incremental_output",
        BOOL,
        "proxy",
        "always `true` (DashScope's thinking needs it); a different value is reported",
    ),
    _f("result_format", STR, "proxy", "always `message`; a different value is reported"),
    _f(
        "code_interpreter_format",
        STR,
        "proxy",
        "how interpreter runs are shown: `tool_calls`, `reasoning`, `content`, `vendor`, `off`",
    ),
    _ds("enable_thinking", BOOL),
    _ds("thinking_budget", INT),
    _ds("preserve_thinking", BOOL, "sent in `parameters`; keeps replayed `reasoning_content`"),
    _ds("enable_code_interpreter", BOOL),
    _ds("enable_search", BOOL),
    _ds("search_options", OBJECT, "sent in `parameters`; `enable_source` returns `search_info`"),
    _ds("top_k", INT),
    _ds("repetition_penalty", NUMBER),
)

FIELD_BY_NAME = {field.name: field for field in FIELDS}

MESSAGE_ROWS: tuple[tuple[str, str], ...] = (
    ("`system`, `user`, `assistant`, `tool` roles", "same roles"),
    ("`developer` role", "sent as `system` (reported)"),
    ("string content", 'string (text endpoint) or `[{"text"}]` (multimodal endpoint)'),
    ("text parts", "joined into one string; kept as parts when one has `cache_control`"),
    ("`cache_control` on a part or a message", "kept on the (last) text part"),
    ("`image_url` parts (http(s), `data:`)", '`{"image": url}` on the multimodal endpoint'),
    ("`video_url` parts, DashScope `video` parts", '`{"video": url or frame list}` (multimodal)'),
    ("other part types (`input_audio`, `file`, ...)", "400 naming the part"),
    ("assistant `tool_calls`", "kept (function calls); the proxy's own `call_ci_` calls removed"),
    ("`tool` messages", "kept with `tool_call_id`; results for the proxy's own calls removed"),
    ("`name` on a message", "kept on `tool` messages, otherwise dropped (reported)"),
    (
        "`reasoning_content` on assistant messages",
        "kept with `preserve_thinking`, else dropped (reported)",
    ),
)

_EXTRA_ROW = (
    "any other key",
    "passed",
    "sent in `parameters` (DashScope extras from `extra_body`)",
)


def field_rows(fields: tuple[Field, ...]) -> list[str]:
    """The Markdown table of `fields`, ending with the row for keys no table names."""
    lines = [
        "| field | treatment | what the proxy does |",
        "|---|---|---|",
    ]
    for field in fields:
        origin = " (DashScope, via `extra_body`)" if field.origin == "dashscope" else ""
        lines.append(f"| `{field.name}`{origin} | {field.treatment} | {field.how} |")
    lines.append(f"| {_EXTRA_ROW[0]} | {_EXTRA_ROW[1]} | {_EXTRA_ROW[2]} |")
    return lines


def render_markdown() -> str:
    lines = field_rows(FIELDS)
    lines += ["", "| in messages | sent upstream as |", "|---|---|"]
    lines += [f"| {what} | {how} |" for what, how in MESSAGE_ROWS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
