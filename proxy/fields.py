"""Every OpenAI chat-completions request field, and what the proxy does with it.

This table drives the request translator (types and treatment) and is rendered into
`docs/fields.md`, so the documentation cannot drift from the code:
`python -m proxy.fields` prints the table; a test compares it with the docs.

Treatments: `passed` (sent in `parameters` under the same name), `mapped` (translated, as
described), `proxy` (handled by the proxy itself), `reported` (DashScope cannot express it:
dropped, and named in the `x-dashscope-proxy-notes` response header).
"""

from __future__ import annotations

from dataclasses import dataclass

_NUMBER: tuple[type, ...] = (int, float)
_INT: tuple[type, ...] = (int,)
_BOOL: tuple[type, ...] = (bool,)
_STR: tuple[type, ...] = (str,)
_OBJECT: tuple[type, ...] = (dict,)
_ARRAY: tuple[type, ...] = (list,)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    types: tuple[type, ...]
    treatment: str
    how: str
    origin: str = "openai"  # or "dashscope": a DashScope extra sent through `extra_body`


def _f(name: str, types: tuple[type, ...], treatment: str, how: str) -> Field:
    return Field(name, types, treatment, how)


def _ds(name: str, types: tuple[type, ...], how: str = "sent in `parameters`") -> Field:
    return Field(name, types, "passed", how, "dashscope")


FIELDS: tuple[Field, ...] = (
    _f("model", _STR, "mapped", "`model`; picks the endpoint (multimodal models, see routing)"),
    _f("messages", _ARRAY, "mapped", "`input.messages`; see the message table"),
    _f("stream", _BOOL, "proxy", "upstream always streams; `false` is served by folding chunks"),
    _f("stream_options", _OBJECT, "proxy", "`include_usage` adds the final usage chunk"),
    _f("max_tokens", _INT, "passed", "`parameters.max_tokens`"),
    _f("max_completion_tokens", _INT, "passed", "`parameters.max_completion_tokens`"),
    _f("temperature", _NUMBER, "passed", "`parameters.temperature`"),
    _f("top_p", _NUMBER, "mapped", "clamped into DashScope's (0, 1]; a clamp is reported"),
    _f("seed", _INT, "passed", "`parameters.seed`"),
    _f("stop", (str, list), "passed", "`parameters.stop`"),
    _f("presence_penalty", _NUMBER, "passed", "`parameters.presence_penalty`"),
    _f("frequency_penalty", _NUMBER, "reported", "no DashScope equivalent"),
    _f("n", _INT, "passed", "`parameters.n`; streamed choices interleave by `index`"),
    _f("logprobs", _BOOL, "passed", "`parameters.logprobs`; returned in `choices[].logprobs`"),
    _f("top_logprobs", _INT, "passed", "`parameters.top_logprobs` (DashScope allows 0-5)"),
    _f("logit_bias", _OBJECT, "passed", "`parameters.logit_bias` (some models)"),
    _f(
        "response_format",
        _OBJECT,
        "passed",
        "`parameters.response_format` (json_object, json_schema)",
    ),
    _f(
        "tools",
        _ARRAY,
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
    _f("parallel_tool_calls", _BOOL, "passed", "`parameters.parallel_tool_calls`"),
    _f(
        "reasoning_effort",
        _STR,
        "mapped",
        "`none`/`minimal`: `enable_thinking=false`; `low`/`medium`/`high`: `enable_thinking=true` "
        "with `thinking_budget` 1024/8192/32768; `xhigh`/`max`: thinking without a budget. "
        "An explicit `enable_thinking` or `thinking_budget` wins",
    ),
    _f("user", (str, dict), "reported", "no DashScope equivalent"),
    _f("metadata", _OBJECT, "reported", "no DashScope equivalent"),
    _f("store", _BOOL, "reported", "no DashScope equivalent"),
    _f("service_tier", _STR, "reported", "no DashScope equivalent"),
    _f("modalities", _ARRAY, "reported", "text only"),
    _f("audio", _OBJECT, "reported", "text only"),
    _f("prediction", _OBJECT, "reported", "no DashScope equivalent"),
    _f("web_search_options", _OBJECT, "reported", "use `enable_search` and `search_options`"),
    _f("prompt_cache_key", _STR, "reported", "DashScope caches by `cache_control` parts"),
    _f("prompt_cache_retention", _STR, "reported", "DashScope caches by `cache_control` parts"),
    _f("safety_identifier", _STR, "reported", "no DashScope equivalent"),
    _f("verbosity", _STR, "reported", "no DashScope equivalent"),
    _f("functions", _ARRAY, "reported", "legacy; use `tools`"),
    _f("function_call", (str, dict), "reported", "legacy; use `tool_choice`"),
    _f(
        "incremental_output",
        _BOOL,
        "proxy",
        "always `true` (DashScope's thinking needs it); a different value is reported",
    ),
    _f("result_format", _STR, "proxy", "always `message`; a different value is reported"),
    _f(
        "code_interpreter_format",
        _STR,
        "proxy",
        "how interpreter runs are shown: `tool_calls`, `reasoning`, `content`, `vendor`, `off`",
    ),
    _ds("enable_thinking", _BOOL),
    _ds("thinking_budget", _INT),
    _ds("preserve_thinking", _BOOL, "sent in `parameters`; keeps replayed `reasoning_content`"),
    _ds("enable_code_interpreter", _BOOL),
    _ds("enable_search", _BOOL),
    _ds("search_options", _OBJECT, "sent in `parameters`; `enable_source` returns `search_info`"),
    _ds("top_k", _INT),
    _ds("repetition_penalty", _NUMBER),
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


def render_markdown() -> str:
    lines = [
        "| field | treatment | what the proxy does |",
        "|---|---|---|",
    ]
    for field in FIELDS:
        origin = " (DashScope, via `extra_body`)" if field.origin == "dashscope" else ""
        lines.append(f"| `{field.name}`{origin} | {field.treatment} | {field.how} |")
    lines.append(f"| {_EXTRA_ROW[0]} | {_EXTRA_ROW[1]} | {_EXTRA_ROW[2]} |")
    lines += ["", "| in messages | sent upstream as |", "|---|---|"]
    lines += [f"| {what} | {how} |" for what, how in MESSAGE_ROWS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
