"""What the model table makes the request translators do, on both client APIs: the endpoint,
omni models refused, OpenAI's parallel tool calls, reasoning efforts per family, and what
DashScope refuses in thinking mode settled before any upstream call (docs/fields.md,
"Thinking mode"; docs/models.md)."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.chat.request import translate_chat_request
from proxy.core.errors import InvalidRequest
from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelFamily
from proxy.core.native_request import MULTIMODAL_GENERATION_PATH, TEXT_GENERATION_PATH
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.responses.request import translate_responses_request

USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {}}}
NAMED = {"type": "function", "function": {"name": "f"}}
RESPONSES_TOOL = {"type": "function", "name": "f", "parameters": {}}
SCHEMA = {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}
FORCED_OFF = (
    "tool_choice: sent with enable_thinking=false (DashScope refuses a forced tool_choice in "
    "thinking mode)"
)


def chat(model: str = "qwen3-max", options: TranslationOptions | None = None, **fields: Any) -> Any:
    return translate_chat_request({"model": model, "messages": [USER], **fields}, options)


def responses(model: str = "qwen3-max", **fields: Any) -> UpstreamPlan[Any]:
    return translate_responses_request({"model": model, "input": "hi", **fields})


def sent(plan: UpstreamPlan[Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = plan.body["parameters"]
    return parameters


# ---- omni models: refused before any upstream call ----------------------------------------------


@pytest.mark.parametrize("model", ["qwen-omni-turbo", "qwen3-omni-flash", "qwen3.5-omni-plus"])
@pytest.mark.parametrize("translate", [chat, responses])
def test_omni_models_are_a_400_naming_the_family_and_the_compatible_mode(
    model: str, translate: Any
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(model)
    error = caught.value
    assert (error.status, error.param, error.code) == (400, "model", "model_not_supported")
    assert model in error.message
    assert "qwen-omni family" in error.message
    assert "OpenAI-compatible mode" in error.message
    assert "native protocol" in error.message


# ---- the endpoint comes from the table ----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("qwen3.5-plus", MULTIMODAL_GENERATION_PATH),
        ("qwen3.7-plus", MULTIMODAL_GENERATION_PATH),
        ("qwen3-vl-plus", MULTIMODAL_GENERATION_PATH),
        ("qvq-max", MULTIMODAL_GENERATION_PATH),
        ("qwen3-max", TEXT_GENERATION_PATH),
        ("deepseek-v4-pro", TEXT_GENERATION_PATH),
        ("a-model-nobody-knows", TEXT_GENERATION_PATH),
    ],
)
def test_both_apis_route_by_the_family(model: str, path: str) -> None:
    assert chat(model).path == path
    assert responses(model).path == path


def test_a_family_from_the_config_routes_its_models() -> None:
    table = MODEL_TABLE.with_overrides([ModelFamily("acme", ("acme",), endpoint="multimodal")])
    options = TranslationOptions(models=table)
    assert chat("acme-1", options).path == MULTIMODAL_GENERATION_PATH
    assert translate_responses_request({"model": "acme-1", "input": "hi"}, options).path == (
        MULTIMODAL_GENERATION_PATH
    )


# ---- parallel tool calls: OpenAI's default ------------------------------------------------------


def test_chat_tools_get_openai_s_parallel_default() -> None:
    assert sent(chat(tools=[TOOL]))["parallel_tool_calls"] is True
    assert sent(chat(tools=[TOOL], parallel_tool_calls=False))["parallel_tool_calls"] is False
    assert "parallel_tool_calls" not in sent(chat())


def test_responses_function_tools_get_the_default_the_response_repeats() -> None:
    plan = responses(tools=[RESPONSES_TOOL])
    assert sent(plan)["parallel_tool_calls"] is True
    assert plan.extras.echo["parallel_tool_calls"] is True  # the echo says what was sent
    plan = responses(tools=[RESPONSES_TOOL], parallel_tool_calls=False)
    assert sent(plan)["parallel_tool_calls"] is False
    assert plan.extras.echo["parallel_tool_calls"] is False
    # The interpreter alone is no function tool: nothing to call in parallel.
    hosted = responses(tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])
    assert "parallel_tool_calls" not in sent(hosted)


# ---- reasoning effort, per family ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "effort", "expected", "absent", "note"),
    [
        (
            "deepseek-v4-pro",
            "high",
            {"enable_thinking": True, "reasoning_effort": "high"},
            ("thinking_budget",),
            "'high' sent as enable_thinking=true, reasoning_effort='high'",
        ),
        (
            "deepseek-v4-flash",
            "none",
            {"enable_thinking": False},
            ("thinking_budget", "reasoning_effort"),
            "'none' sent as enable_thinking=false",
        ),
        (
            "deepseek-v3.2",
            "high",
            {"enable_thinking": True},
            ("thinking_budget", "reasoning_effort"),
            "'high' sent as enable_thinking=true",
        ),
        (
            "qwen3-235b-a22b-thinking-2507",
            "medium",
            {"thinking_budget": 8192},
            ("enable_thinking", "reasoning_effort"),
            "'medium' sent as thinking_budget=8192",
        ),
        (
            "qwen3-235b-a22b-thinking-2507",
            "xhigh",
            {},
            ("enable_thinking", "thinking_budget", "reasoning_effort"),
            "'xhigh' not sent",
        ),
        (
            "qwq-plus",
            "high",
            {},
            ("enable_thinking", "thinking_budget", "reasoning_effort"),
            "'high' dropped (the qwq family takes no effort or thinking budget)",
        ),
        (
            "deepseek-r1",
            "minimal",
            {},
            ("enable_thinking", "thinking_budget", "reasoning_effort"),
            "'minimal' dropped (the deepseek-r1 family always thinks; DashScope refuses "
            "enable_thinking=false)",
        ),
        (
            "qwen3-coder-plus",
            "low",
            {},
            ("enable_thinking", "thinking_budget", "reasoning_effort"),
            "'low' dropped (the qwen3-coder family does not think)",
        ),
    ],
)
def test_efforts_reach_each_family_in_its_terms(
    model: str, effort: str, expected: dict[str, Any], absent: tuple[str, ...], note: str
) -> None:
    for plan, name in (
        (chat(model, reasoning_effort=effort), "reasoning_effort"),
        (responses(model, reasoning={"effort": effort}), "reasoning.effort"),
    ):
        parameters = sent(plan)
        for key, value in expected.items():
            assert parameters[key] == value, (name, key)
        for key in absent:
            assert key not in parameters, (name, key)
        assert plan.notes == (f"{name}: {note}",)


def test_a_family_that_takes_no_effort_but_may_think() -> None:
    quiet = ModelFamily("quiet", ("quiet",), effort="none")
    options = TranslationOptions(models=MODEL_TABLE.with_overrides([quiet]))
    plan = chat("quiet-1", options, reasoning_effort="high")
    assert "enable_thinking" not in sent(plan)
    assert plan.notes == (
        "reasoning_effort: 'high' dropped (the quiet family takes no effort or thinking budget)",
    )


# ---- forced tool choice in thinking mode --------------------------------------------------------


def test_a_forced_function_turns_thinking_off_where_the_family_thinks_by_default() -> None:
    plan = chat("qwen3.5-plus", tools=[TOOL], tool_choice=NAMED)
    assert sent(plan)["tool_choice"] == NAMED
    assert sent(plan)["enable_thinking"] is False
    assert plan.notes == (FORCED_OFF,)


def test_a_forced_function_with_thinking_off_by_default_says_so_without_a_note() -> None:
    plan = chat("qwen-plus", tools=[TOOL], tool_choice=NAMED)
    assert sent(plan)["enable_thinking"] is False  # explicit, whatever the default really is
    assert plan.notes == ()


def test_a_forced_function_drops_the_effort_s_budget_and_native_effort() -> None:
    plan = chat("deepseek-v4-pro", tools=[TOOL], tool_choice=NAMED, reasoning_effort="high")
    parameters = sent(plan)
    assert parameters["enable_thinking"] is False
    assert "reasoning_effort" not in parameters
    assert plan.notes[-1] == FORCED_OFF


def test_a_forced_function_on_a_family_that_always_thinks_is_sent_as_auto() -> None:
    for plan in (
        chat("qwq-plus", tools=[TOOL], tool_choice=NAMED),
        responses(
            "qwq-plus", tools=[RESPONSES_TOOL], tool_choice={"type": "function", "name": "f"}
        ),
    ):
        assert sent(plan)["tool_choice"] == "auto"
        assert "enable_thinking" not in sent(plan)
        assert plan.notes == (
            "tool_choice: a named function sent as auto (DashScope takes only auto or none in "
            "thinking mode, and the qwq family always thinks)",
        )


def test_a_forced_function_with_the_interpreter_keeps_thinking() -> None:
    plan = chat(enable_code_interpreter=True, enable_thinking=True, tool_choice=NAMED)
    assert sent(plan)["tool_choice"] == "auto"
    assert sent(plan)["enable_thinking"] is True
    assert plan.notes == (
        "tool_choice: a named function sent as auto (DashScope takes only auto or none in "
        "thinking mode, and the code interpreter runs only while thinking)",
    )


def test_a_family_that_never_thinks_keeps_its_forced_function() -> None:
    plan = chat("qwen-max", tools=[TOOL], tool_choice=NAMED)
    assert sent(plan)["tool_choice"] == NAMED
    assert "enable_thinking" not in sent(plan)
    assert plan.notes == ()


# ---- structured output in thinking mode ---------------------------------------------------------


def test_responses_structured_output_turns_thinking_off_by_the_client_s_field_name() -> None:
    plan = responses("qwen3.5-plus", text={"format": SCHEMA})
    assert sent(plan)["response_format"]["type"] == "json_schema"
    assert sent(plan)["enable_thinking"] is False
    assert plan.notes == (
        "text.format: sent with enable_thinking=false (DashScope refuses response_format "
        "json_schema in thinking mode)",
    )


@pytest.mark.parametrize(
    ("model", "fields", "why"),
    [
        ("qwq-plus", {}, "the qwq family always thinks"),
        ("qwen3-max", {"enable_code_interpreter": True}, "the code interpreter runs only while"),
    ],
)
def test_structured_output_that_cannot_lose_thinking_is_a_400_that_says_what_to_do(
    model: str, fields: dict[str, Any], why: str
) -> None:
    for translate, name, value in (
        (chat, "response_format", {"response_format": {"type": "json_object"}}),
        (responses, "text.format", {"text": {"format": {"type": "json_object"}}}),
    ):
        with pytest.raises(InvalidRequest) as caught:
            translate(model, **value, **fields)
        error = caught.value
        assert (error.status, error.param) == (400, name)
        assert f"'{name}' of type json_object" in error.message
        assert "thinking mode" in error.message
        assert why in error.message
        assert "ask for JSON in the prompt" in error.message


# ---- thinking_budget below the output cap -------------------------------------------------------


def test_an_effort_s_budget_fits_under_max_completion_tokens() -> None:
    plan = chat(reasoning_effort="high", max_completion_tokens=1000)
    assert sent(plan)["thinking_budget"] == 999
    assert plan.notes[-1] == (
        "thinking_budget: 32768 lowered to 999 (DashScope needs it below max_completion_tokens)"
    )


def test_responses_max_output_tokens_bounds_the_budget_too() -> None:
    plan = responses(reasoning={"effort": "medium"}, max_output_tokens=100)
    assert sent(plan)["max_completion_tokens"] == 100
    assert sent(plan)["thinking_budget"] == 99


def test_the_request_s_own_budget_is_bounded_and_a_smaller_one_kept() -> None:
    assert sent(chat(thinking_budget=5000, max_completion_tokens=5000))["thinking_budget"] == 4999
    plan = chat(thinking_budget=50, max_completion_tokens=5000)
    assert sent(plan)["thinking_budget"] == 50
    assert plan.notes == ()


def test_no_room_for_a_budget_drops_it() -> None:
    plan = chat(reasoning_effort="low", max_completion_tokens=1)
    assert "thinking_budget" not in sent(plan)
    assert plan.notes[-1] == "thinking_budget: dropped (max_completion_tokens leaves no room)"
