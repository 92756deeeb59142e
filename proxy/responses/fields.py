"""Every OpenAI Responses API request field, and what the proxy does with it.

Like `proxy/chat/fields.py` for chat completions, this table drives the translator (types and
treatment) and is rendered into `docs/fields.md`: `python -m proxy.responses.fields` prints it.
The treatments are explained in `proxy/core/fields.py`; DashScope's own parameters (sent
through `extra_body`) follow its shared rows, as in chat completions. One more treatment here:
`refused`, a 400 that says why (the proxy stores nothing, so nothing can refer to an earlier
response).
"""

from __future__ import annotations

from proxy.core.fields import ARRAY, BOOL, INT, NUMBER, OBJECT, STR, Field, field_rows, rule_rows
from proxy.responses.tools import REFUSED, SEPARATOR

_NO_STORE = "the proxy stores nothing, so send the whole conversation in `input`"


RESPONSES_FIELDS: tuple[Field, ...] = (
    Field(
        "model",
        STR,
        "converted",
        "`model`, as in chat completions: its family picks the endpoint and the thinking "
        "rules; an omni model is a 400",
    ),
    Field("input", (str, list), "mapped", "`input.messages`; see the input item table"),
    Field("instructions", STR, "converted", "a first `system` message"),
    Field("stream", BOOL, "proxy", "upstream always streams; `false` returns the final response"),
    Field(
        "max_output_tokens",
        INT,
        "converted",
        "`parameters.max_completion_tokens`, which caps thinking and answer together as "
        "`max_output_tokens` does; a `thinking_budget` not below it is lowered to fit (reported)",
    ),
    Field("temperature", NUMBER, "passed", "`parameters.temperature`"),
    Field("top_p", NUMBER, "mapped", "clamped into DashScope's (0, 1]; a clamp is reported"),
    Field(
        "tools",
        ARRAY,
        "mapped",
        "client-executed tools (`function`, `namespace`, `custom`, `local_shell`, `shell`, "
        "`apply_patch`) become `parameters.tools` functions, named as the tool table says (two "
        "that would get one name are a 400), with `parallel_tool_calls: true` unless the "
        "request says otherwise; `code_interpreter` turns on `enable_code_interpreter`, and "
        "thinking (reported) unless `enable_thinking` or `reasoning.effort` decides it; the two "
        "cannot be combined (400); `web_search` / `web_search_preview` turn on `enable_search` "
        "with `search_options` asking for sources and citation marks (the answer's "
        "`url_citation` annotations, a `web_search_call` item), and with "
        "`external_web_access: false` search nothing (reported); each tool type's row is in the "
        "tool table",
    ),
    Field(
        "tool_choice",
        (str, dict),
        "mapped",
        "`auto`, `none`, `required` as in chat completions; a `function` or `custom` tool by "
        "name, or a `local_shell`, `shell` or `apply_patch` type, as its function by name (a "
        "function in thinking mode included); `allowed_tools` offers only the allowed tools "
        "upstream, then its `mode` (reported); a web search tool, or `allowed_tools` of web "
        "search tools alone with mode `required`, sets `search_options.forced_search` "
        "(dropped, reported, when nothing is searched); "
        "`code_interpreter` is sent as `auto` (reported); a tool `tools` does not declare is a "
        "400",
    ),
    Field(
        "parallel_tool_calls",
        BOOL,
        "passed",
        "`parameters.parallel_tool_calls`; left out with function tools, `true` is sent, as the "
        "response repeats: OpenAI's default (DashScope's is `false`)",
    ),
    Field(
        "reasoning",
        OBJECT,
        "mapped",
        "`effort` as chat's `reasoning_effort` (what was sent is reported); with `summary` "
        "`auto`, `concise` or `detailed` the thinking streams as the reasoning item's summary "
        "(`reasoning_summary_text` events) instead of its `reasoning_text`; another `summary` "
        "is reported",
    ),
    Field(
        "text",
        OBJECT,
        "mapped",
        "`format` `json_schema` / `json_object` become `parameters.response_format`, in "
        "thinking mode as chat's `response_format`; `verbosity` is reported",
    ),
    Field("top_logprobs", INT, "converted", "`parameters.logprobs` and `top_logprobs`"),
    Field(
        "include",
        ARRAY,
        "mapped",
        "`message.output_text.logprobs` turns on logprobs; `reasoning.encrypted_content` adds "
        "the thinking sealed with the server's secret (`[auth] seal_key`) to reasoning items; "
        "`web_search_call.action.sources` fills the search's sources; "
        "`code_interpreter_call.outputs` is reported (DashScope does not return them)",
    ),
    Field("metadata", OBJECT, "reported", "not sent, but repeated on the response"),
    Field(
        "client_metadata",
        OBJECT,
        "reported",
        "not sent: the client's own bookkeeping (Codex's turn and session ids)",
    ),
    Field("user", STR, "reported", "not sent, but repeated on the response"),
    Field("store", BOOL, "reported", "the proxy stores no responses"),
    Field("truncation", STR, "reported", "no DashScope equivalent"),
    Field("service_tier", STR, "reported", "no DashScope equivalent"),
    Field("safety_identifier", STR, "reported", "no DashScope equivalent"),
    Field("prompt_cache_key", STR, "reported", "DashScope caches by `cache_control` parts"),
    Field("prompt_cache_retention", STR, "reported", "DashScope caches by `cache_control` parts"),
    Field("max_tool_calls", INT, "reported", "no DashScope equivalent"),
    Field("stream_options", OBJECT, "proxy", "no obfuscation padding is sent"),
    Field(
        "code_interpreter_format",
        STR,
        "proxy",
        "not sent: Responses always show a run as a `code_interpreter_call` item (chat's "
        "representation switch, accepted so one client config serves both APIs)",
    ),
    Field("previous_response_id", STR, "refused", _NO_STORE),
    Field("conversation", (str, dict), "refused", _NO_STORE),
    Field("prompt", OBJECT, "refused", "stored prompt templates live at OpenAI"),
    Field("background", BOOL, "refused", "the proxy stores nothing, so it cannot answer later"),
)

RESPONSES_FIELD_BY_NAME = {field.name: field for field in RESPONSES_FIELDS}

_DETAIL = "`high`, `original`: `vl_high_resolution_images` for the whole request; `low` dropped"
_AUDIO = '`{"audio": url}` (base64 as a `data:audio/...` URL) on the multimodal endpoint'
INPUT_ROWS: tuple[tuple[str, str], ...] = (
    ("a string", "one `user` message"),
    ("`message` items (`user`, `system`, `assistant`)", "the same roles"),
    ("`developer` role", "sent as `system` (reported)"),
    ("`input_text` / `output_text` parts", "text"),
    ("`input_image` parts (`image_url`)", '`{"image": url}` on the multimodal endpoint'),
    ("`detail` on `input_image` parts", _DETAIL),
    ("`input_audio` parts, `input_file` parts holding audio", _AUDIO),
    ("`input_image` with `file_id`, other `input_file` parts", "400 naming the part"),
    (
        "`function_call` items",
        "assistant `tool_calls`; consecutive assistant items become one message",
    ),
    ("`function_call_output` items", "`tool` messages"),
    (
        "`function_call` / `custom_tool_call` items with a `namespace`",
        "assistant `tool_calls` to `<namespace>__<name>`",
    ),
    ("`custom_tool_call` items", 'assistant `tool_calls` with arguments `{"input": ...}`'),
    (
        "`local_shell_call`, `shell_call`, `apply_patch_call` items",
        "assistant `tool_calls` to `local_shell`, `shell`, `apply_patch`, their `action` or "
        "`operation` as arguments",
    ),
    (
        "`custom_tool_call_output`, `local_shell_call_output`, `shell_call_output`, "
        "`apply_patch_call_output` items",
        "`tool` messages (a shell output's stdout, stderr and exit code as text; a patch's "
        "status and output)",
    ),
    (
        "`function_call` items with the proxy's own `call_ci_` ids, and their outputs",
        "removed (reported); a request that only answers them is answered without DashScope",
    ),
    (
        "`code_interpreter_call`, `web_search_call` items",
        "not sent (reported): DashScope already ran them, and never runs them again",
    ),
    (
        "`reasoning` items with the `encrypted_content` the proxy sealed",
        "with `preserve_thinking`, the next assistant turn's `reasoning_content`; else not "
        "sent (reported); sealed under another secret or altered: dropped (reported)",
    ),
    ("other `reasoning` items", "not sent (reported)"),
    ("`item_reference` and other item types", "400 naming the item"),
)


_COMES_BACK = "its call comes back as"
_CANNOT = "400 naming the tool:"
_WEB_SEARCH = (
    "`enable_search`, with `search_options` asking for sources and citation marks, and "
    "`forced_search` when `tool_choice` names the tool or allows it alone with mode `required`"
)
# Every type of the openai SDK's `Tool` union (tests/test_responses_tools.py checks it): what
# it is called upstream (a function DashScope's model calls by that name, or a parameter for
# the tools DashScope runs itself), and what comes back.
TOOL_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("`function`", "passed", "the function `f`: its own name", f"{_COMES_BACK} a `function_call`"),
    (
        "`namespace`",
        "mapped",
        f"each function or custom tool `f` in namespace `ns` as the function `ns{SEPARATOR}f`",
        f"{_COMES_BACK} a `function_call` or `custom_tool_call` with the original `name` and "
        "`namespace` set",
    ),
    (
        "`custom`",
        "mapped",
        "the function `f`, with one string parameter, `input`, whose description carries the "
        "`grammar` (lark or regex)",
        f"{_COMES_BACK} a `custom_tool_call` (`input` streamed by "
        "`response.custom_tool_call_input.delta`/`.done`)",
    ),
    (
        "`local_shell`",
        "mapped",
        "the function `local_shell`",
        f"{_COMES_BACK} a `local_shell_call` (`action.command`)",
    ),
    (
        "`shell`",
        "mapped",
        "the function `shell`",
        f"{_COMES_BACK} a `shell_call` (`action.commands`)",
    ),
    (
        "`apply_patch`",
        "mapped",
        "the function `apply_patch`",
        f"{_COMES_BACK} an `apply_patch_call` (`operation`: create, update or delete a file)",
    ),
    (
        "`code_interpreter`",
        "mapped",
        "`enable_code_interpreter` (no function)",
        "each run a `code_interpreter_call` item",
    ),
    (
        "`web_search`, `web_search_2025_08_26`, `web_search_preview`, "
        "`web_search_preview_2025_03_11`",
        "mapped",
        f"{_WEB_SEARCH} (no function)",
        "a `web_search_call` item and the answer's `url_citation` annotations; with "
        "`external_web_access: false` nothing is searched (reported: DashScope has no "
        "cached-only search); its filters, location, context size and content types are "
        "reported",
    ),
    ("`file_search`", "refused", "nothing", f"{_CANNOT} {REFUSED['file_search']}"),
    (
        "`computer`, `computer_use_preview`",
        "refused",
        "nothing",
        f"{_CANNOT} {REFUSED['computer_use_preview']}",
    ),
    ("`mcp`", "refused", "nothing", f"{_CANNOT} {REFUSED['mcp']}"),
    ("`image_generation`", "refused", "nothing", f"{_CANNOT} {REFUSED['image_generation']}"),
    ("`tool_search`", "refused", "nothing", f"{_CANNOT} {REFUSED['tool_search']}"),
    (
        "`programmatic_tool_calling`",
        "refused",
        "nothing",
        f"{_CANNOT} {REFUSED['programmatic_tool_calling']}",
    ),
)


def render_markdown() -> str:
    lines = [*field_rows(RESPONSES_FIELDS), "", *rule_rows("in `input`", INPUT_ROWS), ""]
    lines += ["| tool type | treatment | sent upstream as | what comes back |", "|---|---|---|---|"]
    lines += [f"| {kind} | {treat} | {name} | {how} |" for kind, treat, name, how in TOOL_ROWS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
