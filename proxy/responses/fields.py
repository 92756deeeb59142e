"""Every OpenAI Responses API request field, and what the proxy does with it.

Like `proxy/fields.py` for chat completions, this table drives the translator (types and
treatment) and is rendered into `docs/fields.md`: `python -m proxy.responses.fields` prints it.
A Responses request is translated into the equivalent chat-completions request, so what happens
next is the chat table's business. One more treatment here: `refused`, a 400 that says why
(the proxy stores nothing, so nothing can refer to an earlier response).
"""

from __future__ import annotations

from proxy.chat.fields import ARRAY, BOOL, INT, NUMBER, OBJECT, STR, Field, field_rows

_NO_STORE = "the proxy stores nothing, so send the whole conversation in `input`"


def _f(name: str, types: tuple[type, ...], treatment: str, how: str) -> Field:
    return Field(name, types, treatment, how)


RESPONSES_FIELDS: tuple[Field, ...] = (
    _f("model", STR, "mapped", "`model`, as in chat completions"),
    _f("input", (str, list), "mapped", "`input.messages`; see the input item table"),
    _f("instructions", STR, "mapped", "a first `system` message"),
    _f("stream", BOOL, "proxy", "upstream always streams; `false` returns the final response"),
    _f("max_output_tokens", INT, "mapped", "`parameters.max_tokens`"),
    _f("temperature", NUMBER, "passed", "`parameters.temperature`"),
    _f("top_p", NUMBER, "mapped", "clamped into DashScope's (0, 1]; a clamp is reported"),
    _f(
        "tools",
        ARRAY,
        "mapped",
        "`function` tools become `parameters.tools`; `code_interpreter` turns on "
        "`enable_code_interpreter` and thinking (unless `enable_thinking` is given); the two "
        "cannot be combined (400); other tool types are a 400",
    ),
    _f(
        "tool_choice",
        (str, dict),
        "mapped",
        "`auto`, `none`, `required` and a function by name as in chat completions; "
        "`code_interpreter` is sent as `auto` (reported)",
    ),
    _f("parallel_tool_calls", BOOL, "passed", "`parameters.parallel_tool_calls`"),
    _f(
        "reasoning",
        OBJECT,
        "mapped",
        "`effort` as chat's `reasoning_effort`; `summary` is reported: the full thinking is "
        "returned as `reasoning_text`",
    ),
    _f(
        "text",
        OBJECT,
        "mapped",
        "`format` `json_schema` / `json_object` become `parameters.response_format`; "
        "`verbosity` is reported",
    ),
    _f("top_logprobs", INT, "mapped", "`parameters.logprobs` and `top_logprobs`"),
    _f(
        "include",
        ARRAY,
        "mapped",
        "`message.output_text.logprobs` turns on logprobs; `code_interpreter_call.outputs` and "
        "`reasoning.encrypted_content` are reported (DashScope returns neither)",
    ),
    _f("metadata", OBJECT, "reported", "not sent, but repeated on the response"),
    _f("user", STR, "reported", "not sent, but repeated on the response"),
    _f("store", BOOL, "reported", "the proxy stores no responses"),
    _f("truncation", STR, "reported", "no DashScope equivalent"),
    _f("service_tier", STR, "reported", "no DashScope equivalent"),
    _f("safety_identifier", STR, "reported", "no DashScope equivalent"),
    _f("prompt_cache_key", STR, "reported", "DashScope caches by `cache_control` parts"),
    _f("prompt_cache_retention", STR, "reported", "DashScope caches by `cache_control` parts"),
    _f("max_tool_calls", INT, "reported", "no DashScope equivalent"),
    _f("stream_options", OBJECT, "proxy", "no obfuscation padding is sent"),
    _f("previous_response_id", STR, "refused", _NO_STORE),
    _f("conversation", (str, dict), "refused", _NO_STORE),
    _f("prompt", OBJECT, "refused", "stored prompt templates live at OpenAI"),
    _f("background", BOOL, "refused", "the proxy stores nothing, so it cannot answer later"),
)

RESPONSES_FIELD_BY_NAME = {field.name: field for field in RESPONSES_FIELDS}

INPUT_ROWS: tuple[tuple[str, str], ...] = (
    ("a string", "one `user` message"),
    ("`message` items (`user`, `system`, `assistant`)", "the same roles"),
    ("`developer` role", "sent as `system` (reported)"),
    ("`input_text` / `output_text` parts", "text"),
    ("`input_image` parts (`image_url`)", '`{"image": url}` on the multimodal endpoint'),
    ("`input_image` with `file_id`, `input_file`, `input_audio`", "400 naming the part"),
    (
        "`function_call` items",
        "assistant `tool_calls`; consecutive assistant items become one message",
    ),
    ("`function_call_output` items", "`tool` messages"),
    (
        "`code_interpreter_call`, `web_search_call` items",
        "not sent (reported): DashScope already ran them, and never runs them again",
    ),
    ("`reasoning` items", "not sent (reported)"),
    ("`item_reference` and other item types", "400 naming the item"),
)


def render_markdown() -> str:
    lines = field_rows(RESPONSES_FIELDS)
    lines += ["", "| in `input` | sent upstream as |", "|---|---|"]
    lines += [f"| {what} | {how} |" for what, how in INPUT_ROWS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
