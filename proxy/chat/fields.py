"""Every OpenAI chat-completions request field, and what the proxy does with it.

This table drives the request translator (types and treatment) and is rendered into
`docs/fields.md`, so the documentation cannot drift from the code:
`python -m proxy.chat.fields` prints the table; a test compares it with the docs. The
treatments are explained in `proxy/core/fields.py`, which also holds the rows both APIs share.
"""

from __future__ import annotations

from proxy.core.fields import (
    ARRAY,
    BOOL,
    DASHSCOPE_FIELDS,
    FORCED_FIELDS,
    INT,
    NUMBER,
    OBJECT,
    STR,
    Field,
    field_rows,
    rule_rows,
)

FIELDS: tuple[Field, ...] = (
    Field(
        "model",
        STR,
        "converted",
        "`model`; its family in the model table ([models.md](models.md)) picks the endpoint "
        "and the thinking rules; an omni model is a 400 (DashScope serves omni only in its "
        "compatible mode)",
    ),
    Field("messages", ARRAY, "mapped", "`input.messages`; see the message table"),
    Field("stream", BOOL, "proxy", "upstream always streams; `false` is served by folding chunks"),
    Field("stream_options", OBJECT, "proxy", "`include_usage` adds the final usage chunk"),
    Field("max_tokens", INT, "passed", "`parameters.max_tokens`"),
    Field(
        "max_completion_tokens",
        INT,
        "passed",
        "`parameters.max_completion_tokens` (caps thinking and answer together, as in OpenAI); "
        "a `thinking_budget` not below it is lowered to fit (reported)",
    ),
    Field("temperature", NUMBER, "passed", "`parameters.temperature`"),
    Field("top_p", NUMBER, "mapped", "clamped into DashScope's (0, 1]; a clamp is reported"),
    Field("seed", INT, "passed", "`parameters.seed`"),
    Field("stop", (str, list), "passed", "`parameters.stop`"),
    Field("presence_penalty", NUMBER, "passed", "`parameters.presence_penalty`"),
    Field("frequency_penalty", NUMBER, "reported", "no DashScope equivalent"),
    Field("n", INT, "passed", "`parameters.n`; streamed choices interleave by `index`"),
    Field("logprobs", BOOL, "passed", "`parameters.logprobs`; returned in `choices[].logprobs`"),
    Field("top_logprobs", INT, "passed", "`parameters.top_logprobs` (DashScope allows 0-5)"),
    Field("logit_bias", OBJECT, "passed", "`parameters.logit_bias` (some models)"),
    Field(
        "response_format",
        OBJECT,
        "mapped",
        "`parameters.response_format` (json_object, json_schema), which DashScope refuses in "
        "thinking mode: thinking is turned off for the request (reported when it would have "
        "been on); where it cannot be (the family always thinks, or the code interpreter "
        "needs it), a 400. See [thinking mode](#thinking-mode)",
    ),
    Field(
        "tools",
        ARRAY,
        "converted",
        "`parameters.tools`; function tools only; not with the code interpreter; "
        "`parallel_tool_calls: true` is sent with them unless the request says otherwise",
    ),
    Field(
        "tool_choice",
        (str, dict),
        "mapped",
        "`auto`, `none` and a named function pass; `required` becomes the named function when "
        "there is one tool, else `auto` (reported). A named function in thinking mode turns "
        "thinking off where the family allows it, else is sent as `auto` (reported)",
    ),
    Field(
        "parallel_tool_calls",
        BOOL,
        "passed",
        "`parameters.parallel_tool_calls`; left out with tools, `true` is sent: OpenAI's default "
        "(DashScope's is `false`)",
    ),
    Field(
        "reasoning_effort",
        STR,
        "mapped",
        "by the model's family ([models.md](models.md)): `none`/`minimal` turn thinking off; "
        "`low`/`medium`/`high` turn it on, with `thinking_budget` 1024/8192/32768 where the "
        "family takes a budget or as `reasoning_effort` where it takes one natively (`max` "
        "as `xhigh`); `xhigh`/`max` think without a budget. Dropped where the family never "
        "thinks, takes no effort, or always thinks and was asked not to. An explicit "
        "`enable_thinking` or `thinking_budget` wins. What was sent is reported",
    ),
    Field("user", (str, dict), "reported", "no DashScope equivalent"),
    Field("metadata", OBJECT, "reported", "no DashScope equivalent"),
    Field("store", BOOL, "reported", "no DashScope equivalent"),
    Field("service_tier", STR, "reported", "no DashScope equivalent"),
    Field("modalities", ARRAY, "reported", "text only"),
    Field("audio", OBJECT, "reported", "text only"),
    Field("prediction", OBJECT, "reported", "no DashScope equivalent"),
    Field(
        "web_search_options",
        OBJECT,
        "mapped",
        "`enable_search`, with `search_options` asking for sources and citation marks; the "
        "sources the answer cites become `message.annotations` (`url_citation`); "
        "`search_context_size` and `user_location` are reported",
    ),
    Field("prompt_cache_key", STR, "reported", "DashScope caches by `cache_control` parts"),
    Field("prompt_cache_retention", STR, "reported", "DashScope caches by `cache_control` parts"),
    Field("safety_identifier", STR, "reported", "no DashScope equivalent"),
    Field("verbosity", STR, "reported", "no DashScope equivalent"),
    Field("functions", ARRAY, "reported", "legacy, use `tools`"),
    Field("function_call", (str, dict), "reported", "legacy, use `tool_choice`"),
    *FORCED_FIELDS,
    Field(
        "code_interpreter_format",
        STR,
        "proxy",
        "how interpreter runs are shown: `tool_calls`, `reasoning`, `content`, `vendor`, `off`",
    ),
    *DASHSCOPE_FIELDS,
)

FIELD_BY_NAME = {field.name: field for field in FIELDS}

_DETAIL = "`high`, `original`: `vl_high_resolution_images` for the whole request; `low` dropped"
_AUDIO = '`{"audio": url}` (base64 as a `data:audio/...` URL) on the multimodal endpoint'
MESSAGE_ROWS: tuple[tuple[str, str], ...] = (
    ("`system`, `user`, `assistant`, `tool` roles", "same roles"),
    ("`developer` role", "sent as `system` (reported)"),
    ("string content", 'string (text endpoint) or `[{"text"}]` (multimodal endpoint)'),
    ("text parts", "joined into one string; kept as parts when one has `cache_control`"),
    ("`cache_control` on a part or a message", "kept on the (last) text part"),
    ("`image_url` parts (http(s), `data:`)", '`{"image": url}` on the multimodal endpoint'),
    ("`video_url` parts, DashScope `video` parts", '`{"video": url or frame list}` (multimodal)'),
    ("`detail` on `image_url` parts", _DETAIL),
    ("`input_audio` parts (base64 and `format`, or a URL)", _AUDIO),
    ("other part types (`file`, `refusal`, ...)", "400 naming the part"),
    ("assistant `tool_calls`", "kept (function calls); the proxy's own `call_ci_` calls removed"),
    ("`tool` messages", "kept with `tool_call_id`; results for the proxy's own calls removed"),
    ("`name` on a message", "kept on `tool` messages, otherwise dropped (reported)"),
    (
        "`reasoning_content` on assistant messages",
        "kept with `preserve_thinking`, else dropped (reported)",
    ),
)


def render_markdown() -> str:
    lines = [*field_rows(FIELDS), "", *rule_rows("in messages", MESSAGE_ROWS)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
