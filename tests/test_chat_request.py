from __future__ import annotations

from typing import Any

import pytest

from proxy.chat.request import ChatExtras, translate_chat_request
from proxy.core.errors import InvalidRequest
from proxy.core.native_request import TEXT_GENERATION_PATH
from proxy.core.plan import UpstreamPlan

USER = {"role": "user", "content": "hi"}


def translate(**body: Any) -> UpstreamPlan[ChatExtras]:
    return translate_chat_request({"model": "qwen3-max", "messages": [USER], **body})


def test_envelope_always_streams_incrementally_in_message_format() -> None:
    plan = translate()
    assert plan.path == TEXT_GENERATION_PATH
    assert plan.body == {
        "model": "qwen3-max",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "parameters": {"result_format": "message", "incremental_output": True},
    }
    assert (plan.stream, plan.extras.include_usage, plan.notes) == (False, False, ())


def test_seed_request_maps_extras_into_parameters() -> None:
    plan = translate(
        stream=True,
        stream_options={"include_usage": True},
        enable_code_interpreter=True,
        enable_thinking=True,
    )
    assert plan.stream
    assert plan.extras.include_usage
    assert plan.body["parameters"] == {
        "enable_code_interpreter": True,
        "enable_thinking": True,
        "result_format": "message",
        "incremental_output": True,
    }


def test_openai_sampling_fields_and_dashscope_extras_pass_to_parameters() -> None:
    fields = {
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
        "presence_penalty": 0.1,
        "thinking_budget": 50,
        "enable_search": True,
        "search_options": {"enable_source": True},
        "top_k": 20,
        "repetition_penalty": 1.05,
        "some_future_flag": {"nested": 1},
    }
    parameters = translate(**fields).body["parameters"]
    for key, value in fields.items():
        assert parameters[key] == value


def test_fields_dashscope_cannot_express_are_dropped_and_reported() -> None:
    plan = translate(frequency_penalty=0.5, user="u-1", metadata={"a": "b"})
    parameters = plan.body["parameters"]
    for key in ("frequency_penalty", "user", "metadata"):
        assert key not in parameters
        assert any(note.startswith(f"{key}: dropped") for note in plan.notes)


def test_client_cannot_turn_off_incremental_streaming_but_is_told() -> None:
    plan = translate(incremental_output=False, result_format="text")
    assert plan.body["parameters"]["incremental_output"] is True
    assert plan.body["parameters"]["result_format"] == "message"
    assert len(plan.notes) == 2


def test_message_roles_and_text_parts() -> None:
    messages = [
        {"role": "developer", "content": "be terse"},
        {
            "role": "system",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "42"}]},
    ]
    plan = translate_chat_request({"model": "m", "messages": messages})
    assert plan.body["input"]["messages"] == [
        {"role": "system", "content": "be terse"},
        {"role": "system", "content": "ab"},
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]
    assert "messages[0].role: developer sent as system" in plan.notes


def test_unknown_message_keys_are_reported() -> None:
    plan = translate_chat_request(
        {"model": "m", "messages": [{"role": "user", "content": "x", "name": "bob"}]}
    )
    assert plan.notes == ("messages[0].name: dropped",)


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ([], None, "JSON object"),
        ({"messages": [USER]}, "model", "'model' is required"),
        ({"model": "", "messages": [USER]}, "model", "'model' is required"),
        ({"model": "m"}, "messages", "'messages' is required"),
        ({"model": "m", "messages": []}, "messages", "non-empty"),
        ({"model": "m", "messages": "hi"}, "messages", "non-empty array"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]", "must be an object"),
        ({"model": "m", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "bot"),
        (
            {"model": "m", "messages": [{"role": "user", "content": 5}]},
            "messages[0].content",
            "got a number",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "file"}]}]},
            "messages[0].content[0]",
            "'file'",
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
            "required",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "content": "", "tool_calls": [{}]}]},
            "messages[0].tool_calls[0]",
            "function with a name",
        ),
        ({"model": "m", "messages": [USER], "temperature": "hot"}, "temperature", "got a string"),
        ({"model": "m", "messages": [USER], "temperature": True}, "temperature", "got a boolean"),
        ({"model": "m", "messages": [USER], "max_tokens": 1.5}, "max_tokens", "an integer"),
        ({"model": "m", "messages": [USER], "stream": "yes"}, "stream", "a boolean"),
        ({"model": "m", "messages": [USER], "stream_options": []}, "stream_options", "an object"),
        (
            {"model": "m", "messages": [USER], "stream_options": {"include_usage": 1}},
            "stream_options.include_usage",
            "a boolean",
        ),
        (
            {"model": "m", "messages": [USER], "enable_thinking": "on"},
            "enable_thinking",
            "a boolean",
        ),
    ],
)
def test_bad_requests_are_400s_naming_the_problem(body: Any, param: str | None, says: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate_chat_request(body)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert says in caught.value.message


def test_tools_with_code_interpreter_is_a_clear_400() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    with pytest.raises(InvalidRequest, match="cannot be combined") as caught:
        translate(tools=tools, enable_code_interpreter=True)
    assert caught.value.param == "tools"
    # Either alone is fine.
    assert translate(tools=tools).body["parameters"]["tools"] == tools


def test_nulls_are_treated_as_absent() -> None:
    plan = translate(temperature=None, stream=None, stream_options=None, user=None)
    assert "temperature" not in plan.body["parameters"]
    assert plan.notes == ()


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "custom", "custom": {"name": "f"}}, "tools[0]"),
        ("f", "tools[0]"),
        ({"type": "function", "function": {"parameters": {}}}, "tools[0]"),
    ],
)
def test_tools_are_function_tools_with_names(tool: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(tools=[tool])
    assert caught.value.param == param
