"""The FIELDS table is what the request translator does, field by field, and `docs/fields.md`
shows exactly that table."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proxy.chat.code_runs import FORMATS
from proxy.chat.fields import FIELD_BY_NAME, FIELDS, MESSAGE_ROWS, render_markdown
from proxy.chat.request import ChatExtras, translate_chat_request
from proxy.core.errors import InvalidRequest
from proxy.core.native_request import MULTIMODAL_GENERATION_PATH
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.responses import fields as responses_fields

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "fields.md"
USER = {"role": "user", "content": "hi"}
BASE: dict[str, Any] = {"model": "qwen3-max", "messages": [USER]}
FORCED = {"result_format": "message", "incremental_output": True}
TOOL_F = {"type": "function", "function": {"name": "f", "parameters": {}}}
TOOL_G = {"type": "function", "function": {"name": "g", "parameters": {}}}
NAMED_F = {"type": "function", "function": {"name": "f"}}
Plan = UpstreamPlan[ChatExtras]
Check = Callable[[Plan], None]


@dataclass(frozen=True, slots=True)
class Case:
    """A request with `name` set (or deliberately left out) and what must come of it."""

    name: str
    fields: dict[str, Any]
    expect: Any  # a Check, or REJECT
    options: TranslationOptions | None = None


def translate(fields: dict[str, Any], options: TranslationOptions | None = None) -> Plan:
    return translate_chat_request({**BASE, **fields}, options or TranslationOptions())


# ---- passed and reported fields: one sample value each -----------------------------------------

SAMPLES: dict[str, Any] = {
    "max_tokens": 100,
    "max_completion_tokens": 200,
    "temperature": 0.7,
    "seed": 7,
    "stop": ["END", "STOP"],
    "presence_penalty": -0.5,
    "frequency_penalty": 0.5,
    "n": 2,
    "logprobs": True,
    "top_logprobs": 3,
    "logit_bias": {"1024": -100},
    "parallel_tool_calls": True,
    "user": {"id": "u-1"},
    "metadata": {"a": "b"},
    "store": True,
    "service_tier": "auto",
    "modalities": ["text"],
    "audio": {"voice": "alloy", "format": "wav"},
    "prediction": {"type": "content", "content": "x"},
    "prompt_cache_key": "k",
    "prompt_cache_retention": "24h",
    "safety_identifier": "s",
    "verbosity": "low",
    "functions": [{"name": "f"}],
    "function_call": "auto",
    "enable_thinking": True,
    "thinking_budget": 500,
    "preserve_thinking": True,
    "enable_search": True,
    "search_options": {"enable_source": True, "forced_search": True},
    "top_k": 20,
    "repetition_penalty": 1.05,
}

# ---- mapped and proxy fields: specific cases ---------------------------------------------------


def parameters(expected: dict[str, Any], *notes: str, absent: tuple[str, ...] = ()) -> Check:
    def check(plan: Plan) -> None:
        for key, value in expected.items():
            assert plan.body["parameters"][key] == value, key
            assert type(plan.body["parameters"][key]) is type(value), key
        for key in absent:
            assert key not in plan.body["parameters"], key
        assert plan.notes == notes

    return check


def plan_has(absent: tuple[str, ...] = (), **attributes: Any) -> Check:
    def check(plan: Plan) -> None:
        found = {
            "stream": plan.stream,
            "include_usage": plan.extras.include_usage,
            "code_format": plan.extras.code_format,
        }
        for key, value in attributes.items():
            assert found[key] == value, key
        for key in absent:
            assert key not in plan.body["parameters"], key
        assert plan.body["parameters"] == FORCED
        assert plan.notes == ()

    return check


def clamped(value: float) -> Check:
    def check(plan: Plan) -> None:
        assert plan.body["parameters"]["top_p"] == value
        [note] = plan.notes
        assert note.startswith("top_p:")
        assert str(value) in note

    return check


REJECT = object()  # expect a 400 naming the field
REQUIRED = "tool_choice: required sent as the only tool, by name"
REQUIRED_AUTO = "tool_choice: required sent as auto (DashScope has no 'required')"
JSON_OBJECT = {"type": "json_object"}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
THINKING_OFF = "sent with enable_thinking=false (DashScope refuses {} in thinking mode)"


def thinking(enabled: bool, budget: int | None, note: str) -> Check:
    """Thinking as expected, and the note that says what was sent for the effort."""
    absent = ("thinking_budget",) if budget is None else ()
    expected: dict[str, Any] = {"enable_thinking": enabled}
    if budget is not None:
        expected["thinking_budget"] = budget
    return parameters(expected, f"reasoning_effort: {note}", absent=(*absent, "reasoning_effort"))


def body_has(model: str, messages: list[Any], path: str | None = None) -> Check:
    def check(plan: Plan) -> None:
        assert plan.model == plan.body["model"] == model
        assert plan.body["input"]["messages"] == messages
        assert plan.body["parameters"] == FORCED
        assert plan.notes == ()  # converted: nothing changed, nothing to report
        if path is not None:
            assert plan.path == path

    return check


SEARCHED = {"enable_source": True, "enable_citation": True, "citation_format": "[ref_<number>]"}
SPECIFIC: list[Case] = [
    Case(
        "web_search_options",
        {"web_search_options": {}},
        parameters({"enable_search": True, "search_options": SEARCHED}),
    ),
    Case(  # the client's own search options win
        "web_search_options",
        {"web_search_options": {}, "search_options": {"enable_citation": False}},
        parameters({"search_options": {**SEARCHED, "enable_citation": False}}),
    ),
    Case(
        "web_search_options",
        {"web_search_options": {"search_context_size": "high"}},
        parameters(
            {"enable_search": True},
            "web_search_options.search_context_size: dropped (DashScope's search takes no "
            "search_context_size)",
        ),
    ),
    Case("model", {}, body_has("qwen3-max", [USER])),
    Case(
        "model",
        {"model": "qwen3.5-plus"},
        body_has(
            "qwen3.5-plus",
            [{"role": "user", "content": [{"text": "hi"}]}],
            MULTIMODAL_GENERATION_PATH,
        ),
    ),
    Case("model", {"model": "qwen3-omni-flash"}, REJECT),
    Case("model", {"model": "qwen3.5-omni-plus"}, REJECT),
    Case(
        "messages",
        {"messages": [USER, {"role": "assistant", "content": "yo"}]},
        body_has("qwen3-max", [USER, {"role": "assistant", "content": "yo"}]),
    ),
    Case("stream", {"stream": True}, plan_has(stream=True, absent=("stream",))),
    Case("stream", {"stream": False}, plan_has(stream=False, absent=("stream",))),
    Case(
        "stream_options",
        {"stream": True, "stream_options": {"include_usage": True}},
        plan_has(include_usage=True, absent=("stream_options",)),
    ),
    Case(
        "stream_options",
        {"stream_options": {"include_usage": False}},
        plan_has(include_usage=False),
    ),
    Case("stream_options", {"stream_options": {}}, plan_has(include_usage=False)),
    Case("top_p", {"top_p": 0}, clamped(1e-06)),
    Case("top_p", {"top_p": -1}, clamped(1e-06)),
    Case("top_p", {"top_p": 1.5}, clamped(1.0)),
    Case("top_p", {"top_p": 0.5}, parameters({"top_p": 0.5})),
    Case("top_p", {"top_p": 1}, parameters({"top_p": 1})),
    Case("tool_choice", {"tool_choice": "auto"}, parameters({"tool_choice": "auto"})),
    Case("tool_choice", {"tool_choice": "none"}, parameters({"tool_choice": "none"})),
    Case(
        "tool_choice",
        {"tool_choice": NAMED_F, "tools": [TOOL_F, TOOL_G]},
        parameters({"tool_choice": NAMED_F}),
    ),
    Case(
        "tool_choice",
        {"tool_choice": "required", "tools": [TOOL_F]},
        parameters({"tool_choice": NAMED_F}, REQUIRED),
    ),
    Case(
        "tool_choice",
        {"tool_choice": "required", "tools": [TOOL_F, TOOL_G]},
        parameters({"tool_choice": "auto"}, REQUIRED_AUTO),
    ),
    Case(
        "tool_choice",
        {"tool_choice": NAMED_F, "tools": [TOOL_F], "reasoning_effort": "high"},
        parameters(
            {"tool_choice": NAMED_F, "enable_thinking": False},
            "reasoning_effort: 'high' sent as enable_thinking=true, thinking_budget=32768",
            "tool_choice: " + THINKING_OFF.format("a forced tool_choice"),
            absent=("thinking_budget",),
        ),
    ),
    Case(
        "tool_choice",
        {"model": "qwq-plus", "tool_choice": "required", "tools": [TOOL_F]},
        parameters(
            {"tool_choice": "auto"},
            REQUIRED,
            "tool_choice: a named function sent as auto (DashScope takes only auto or none in "
            "thinking mode, and the qwq family always thinks)",
            absent=("enable_thinking",),
        ),
    ),
    Case("tool_choice", {"tool_choice": {"type": "custom", "custom": {"name": "f"}}}, REJECT),
    Case("tool_choice", {"tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}, REJECT),
    Case("tool_choice", {"tool_choice": "any"}, REJECT),
    Case(
        "enable_code_interpreter",
        {"enable_code_interpreter": True},
        parameters(
            {"enable_code_interpreter": True, "enable_thinking": True},
            "enable_code_interpreter: also sent as enable_thinking=true (the interpreter runs "
            "only while thinking)",
        ),
    ),
    Case(
        "enable_code_interpreter",
        {"enable_code_interpreter": True, "enable_thinking": True},
        parameters({"enable_code_interpreter": True, "enable_thinking": True}),
    ),
    Case(
        "enable_code_interpreter",
        {"enable_code_interpreter": False},
        parameters({"enable_code_interpreter": False}, absent=("enable_thinking",)),
    ),
    Case("enable_code_interpreter", {"enable_code_interpreter": "yes"}, REJECT),
    *[
        Case("reasoning_effort", {"reasoning_effort": effort}, thinking(enabled, budget, note))
        for effort, enabled, budget, note in [
            ("none", False, None, "'none' sent as enable_thinking=false"),
            ("minimal", False, None, "'minimal' sent as enable_thinking=false"),
            ("low", True, 1024, "'low' sent as enable_thinking=true, thinking_budget=1024"),
            ("medium", True, 8192, "'medium' sent as enable_thinking=true, thinking_budget=8192"),
            ("high", True, 32768, "'high' sent as enable_thinking=true, thinking_budget=32768"),
            ("xhigh", True, None, "'xhigh' sent as enable_thinking=true"),
            ("max", True, None, "'max' sent as enable_thinking=true"),
        ]
    ],
    *[
        Case(
            "reasoning_effort",
            fields,
            thinking(
                False,
                32768,
                "'high' sent as thinking_budget=32768 (the request's enable_thinking wins)",
            ),
        )
        for fields in (
            {"reasoning_effort": "high", "enable_thinking": False},
            {"enable_thinking": False, "reasoning_effort": "high"},
        )
    ],
    *[
        Case(
            "reasoning_effort",
            fields,
            thinking(
                True, 99, "'low' sent as enable_thinking=true (the request's thinking_budget wins)"
            ),
        )
        for fields in (
            {"reasoning_effort": "low", "thinking_budget": 99},
            {"thinking_budget": 99, "reasoning_effort": "low"},
        )
    ],
    Case(
        "reasoning_effort",
        {"thinking_budget": 99, "reasoning_effort": "none"},
        thinking(False, 99, "'none' sent as enable_thinking=false"),
    ),
    Case(
        "reasoning_effort",
        {"reasoning_effort": "xhigh", "enable_thinking": True, "thinking_budget": 99},
        thinking(True, 99, "'xhigh' not sent (the request's enable_thinking wins)"),
    ),
    Case(
        "reasoning_effort",
        {"reasoning_effort": "low", "enable_thinking": False, "thinking_budget": 99},
        thinking(
            False, 99, "'low' not sent (the request's enable_thinking and thinking_budget win)"
        ),
    ),
    Case("reasoning_effort", {"reasoning_effort": "extreme"}, REJECT),
    Case(
        "reasoning_effort",
        {"model": "qwq-plus", "reasoning_effort": "none"},
        parameters(
            {},
            "reasoning_effort: 'none' dropped (the qwq family always thinks; DashScope refuses "
            "enable_thinking=false)",
            absent=("enable_thinking", "thinking_budget", "reasoning_effort"),
        ),
    ),
    Case(
        "reasoning_effort",
        {"model": "deepseek-v4-pro", "reasoning_effort": "max"},
        parameters(
            {"enable_thinking": True, "reasoning_effort": "xhigh"},
            "reasoning_effort: 'max' sent as enable_thinking=true, reasoning_effort='xhigh'",
            absent=("thinking_budget",),
        ),
    ),
    Case(
        "reasoning_effort",
        {"model": "qwen-max", "reasoning_effort": "high"},
        parameters(
            {},
            "reasoning_effort: 'high' dropped (the qwen-max family does not think)",
            absent=("enable_thinking", "thinking_budget", "reasoning_effort"),
        ),
    ),
    Case(
        "tools",
        {"tools": [TOOL_F]},
        parameters({"tools": [TOOL_F], "parallel_tool_calls": True}),
    ),
    Case(
        "tools",
        {"tools": [TOOL_F], "parallel_tool_calls": False},
        parameters({"tools": [TOOL_F], "parallel_tool_calls": False}),
    ),
    Case("tools", {"tools": []}, parameters({"tools": []}, absent=("parallel_tool_calls",))),
    Case(
        "response_format",
        {"response_format": JSON_OBJECT},
        parameters({"response_format": JSON_OBJECT, "enable_thinking": False}),
    ),
    Case(
        "response_format",
        {"response_format": {"type": "text"}},
        parameters({"response_format": {"type": "text"}}, absent=("enable_thinking",)),
    ),
    Case(
        "response_format",
        {"model": "qwen3.5-plus", "response_format": JSON_SCHEMA},
        parameters(
            {"response_format": JSON_SCHEMA, "enable_thinking": False},
            "response_format: " + THINKING_OFF.format("response_format json_schema"),
        ),
    ),
    Case("response_format", {"model": "qvq-max", "response_format": JSON_OBJECT}, REJECT),
    Case(
        "response_format",
        {"response_format": JSON_SCHEMA, "enable_code_interpreter": True},
        REJECT,
    ),
    Case("incremental_output", {"incremental_output": True}, parameters(FORCED)),
    Case(
        "incremental_output",
        {"incremental_output": False},
        parameters(FORCED, "incremental_output: always True"),
    ),
    Case("result_format", {"result_format": "message"}, parameters(FORCED)),
    Case(
        "result_format",
        {"result_format": "text"},
        parameters(FORCED, "result_format: always 'message'"),
    ),
    *[
        Case(
            "code_interpreter_format",
            {"code_interpreter_format": fmt},
            plan_has(code_format=fmt, absent=("code_interpreter_format",)),
        )
        for fmt in FORMATS
    ],
    Case("code_interpreter_format", {}, plan_has(code_format="tool_calls")),
    Case(
        "code_interpreter_format",
        {},
        plan_has(code_format="off"),
        TranslationOptions(code_format="off"),
    ),
    Case(
        "code_interpreter_format",
        {"code_interpreter_format": "vendor"},
        plan_has(code_format="vendor"),
        TranslationOptions(code_format="off"),
    ),
    Case("code_interpreter_format", {"code_interpreter_format": "xml"}, REJECT),
]


def _field_cases() -> list[Any]:
    cases = []
    specific = {case.name for case in SPECIFIC}
    for spec in FIELDS:
        if spec.name in specific:
            cases += [
                pytest.param(spec.name, c.fields, c.expect, c.options, id=f"{spec.name}-{n}")
                for n, c in enumerate(SPECIFIC)
                if c.name == spec.name
            ]
        else:
            cases.append(pytest.param(spec.name, None, None, None, id=spec.name))
    return cases


@pytest.mark.parametrize(("name", "fields", "expect", "options"), _field_cases())
def test_each_field_gets_its_documented_treatment(
    name: str, fields: dict[str, Any] | None, expect: Any, options: TranslationOptions | None
) -> None:
    spec = FIELD_BY_NAME[name]
    if spec.treatment in ("passed", "reported"):
        assert fields is None, f"{name} is {spec.treatment}: give it a sample, not cases"
        value = SAMPLES[name]
        plan = translate({name: value})
        if spec.treatment == "passed":
            assert plan.body["parameters"] == {name: value, **FORCED}
            assert plan.notes == ()
        else:
            assert plan.body["parameters"] == FORCED
            assert plan.notes == (f"{name}: dropped ({spec.how})",)
        return
    assert fields is not None, f"{name} is {spec.treatment}: it needs specific cases"
    assert name in fields or name in ("model", "code_interpreter_format")
    if expect is REJECT:
        with pytest.raises(InvalidRequest) as caught:
            translate(fields, options)
        assert caught.value.status == 400
        assert caught.value.param == name
        assert f"'{name}'" in caught.value.message
        return
    expect(translate(fields, options))


def test_every_field_is_covered_by_the_parametrization() -> None:
    specific = {case.name for case in SPECIFIC}
    for spec in FIELDS:
        if spec.treatment in ("passed", "reported"):
            assert spec.name in SAMPLES, spec.name
            assert spec.name not in specific, spec.name
        else:
            assert spec.name in specific, spec.name
            assert spec.name not in SAMPLES, spec.name
    assert set(SAMPLES) | specific == set(FIELD_BY_NAME)


# ---- mapped fields: the notes say what was sent ----------------------------------------------

# For every `mapped` row, a request whose value the proxy changes, and the note that says what
# DashScope got instead.
CHANGED: dict[str, tuple[dict[str, Any], str]] = {
    "messages": (
        {"messages": [{"role": "developer", "content": "be brief"}, USER]},
        "messages[0].role: developer sent as system",
    ),
    "top_p": ({"top_p": 0}, "top_p: 0 clamped to 1e-06 (DashScope accepts (0, 1])"),
    "enable_code_interpreter": (
        {"enable_code_interpreter": True},
        "enable_code_interpreter: also sent as enable_thinking=true (the interpreter runs only "
        "while thinking)",
    ),
    "response_format": (
        {"response_format": JSON_OBJECT, "enable_thinking": True},
        "response_format: " + THINKING_OFF.format("response_format json_object"),
    ),
    "tool_choice": ({"tool_choice": "required", "tools": [TOOL_F]}, REQUIRED),
    "reasoning_effort": (
        {"reasoning_effort": "low"},
        "reasoning_effort: 'low' sent as enable_thinking=true, thinking_budget=1024",
    ),
    "web_search_options": (
        {"web_search_options": {"user_location": {"type": "approximate"}}},
        "web_search_options.user_location: dropped (DashScope's search takes no user_location)",
    ),
}


def test_every_mapped_field_has_a_change_to_report() -> None:
    assert set(CHANGED) == {spec.name for spec in FIELDS if spec.treatment == "mapped"}


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_a_mapped_field_s_change_is_in_the_notes(name: str) -> None:
    fields, note = CHANGED[name]
    plan = translate(fields)
    assert note in plan.notes
    assert note.startswith(name)


# ---- wrong JSON types -------------------------------------------------------------------------

JSON_VALUES = ("text", 7, 1.5, True, [1], {"a": 1})


def _accepts(types: tuple[type, ...], value: Any) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


@pytest.mark.parametrize("name", [spec.name for spec in FIELDS])
def test_a_wrong_json_type_is_a_400_naming_the_field(name: str) -> None:
    spec = FIELD_BY_NAME[name]
    wrong = [value for value in JSON_VALUES if not _accepts(spec.types, value)]
    assert wrong, f"{name} accepts every JSON type?"
    for value in wrong:
        with pytest.raises(InvalidRequest) as caught:
            translate({name: value})
        assert caught.value.status == 400, value
        assert caught.value.param == name, value
        assert f"'{name}'" in caught.value.message, value


def test_unknown_keys_pass_through_unchanged() -> None:
    extras = {"vl_high_resolution_images": True, "x_future": {"nested": [1, None]}, "skill": "s"}
    plan = translate(extras)
    assert plan.body["parameters"] == {**extras, **FORCED}
    assert plan.notes == ()


# ---- docs/fields.md ---------------------------------------------------------------------------

START, END = "<!-- fields:start -->\n", "<!-- fields:end -->"


def test_docs_show_the_generated_table_verbatim() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert text.count(START) == 1
    assert text.count(END) == 1
    between = text.split(START, 1)[1].split(END, 1)[0]
    assert between == render_markdown(), (
        "docs/fields.md is stale: regenerate the table with `python -m proxy.chat.fields`"
    )


def test_rendered_table_has_a_row_per_field_and_message_rule() -> None:
    rows = render_markdown().splitlines()
    for spec in FIELDS:
        [row] = [r for r in rows if r.startswith(f"| `{spec.name}`")]
        assert f"| {spec.treatment} | {spec.how} |" in row
        assert ("DashScope, via `extra_body`" in row) is (spec.origin == "dashscope")
    for what, how in MESSAGE_ROWS:
        assert f"| {what} | {how} |" in rows
    assert any(r.startswith("| any other key | passed |") for r in rows)


def test_module_prints_the_table() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "proxy.chat.fields"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert printed == render_markdown()


# ---- docs/fields.md: the Responses API table ------------------------------------------------

RESPONSES_START, RESPONSES_END = (
    "<!-- responses-fields:start -->\n",
    "<!-- responses-fields:end -->",
)


def test_docs_show_the_generated_responses_table_verbatim() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert text.count(RESPONSES_START) == 1
    assert text.count(RESPONSES_END) == 1
    between = text.split(RESPONSES_START, 1)[1].split(RESPONSES_END, 1)[0]
    assert between == responses_fields.render_markdown(), (
        "docs/fields.md is stale: regenerate the table with `python -m proxy.responses.fields`"
    )


def test_responses_table_has_a_row_per_field_and_input_rule() -> None:
    rows = responses_fields.render_markdown().splitlines()
    for spec in responses_fields.RESPONSES_FIELDS:
        [row] = [r for r in rows if r.startswith(f"| `{spec.name}` |")]
        assert f"| {spec.treatment} | {spec.how} |" in row
    for what, how in responses_fields.INPUT_ROWS:
        assert f"| {what} | {how} |" in rows


def test_reported_texts_never_hold_the_notes_separator() -> None:
    """Notes travel in one header joined by "; ", so a client can split them only if no note
    holds that separator itself."""
    for spec in (*FIELDS, *responses_fields.RESPONSES_FIELDS):
        if spec.treatment in ("reported", "refused"):
            assert "; " not in spec.how, spec.name
