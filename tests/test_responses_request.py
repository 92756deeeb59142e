"""Responses request -> native request: every row of RESPONSES_FIELDS and INPUT_ROWS is exercised
here (a test below checks that none is left out), with its refusals, its notes and the code
interpreter's rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from proxy.core.errors import InvalidRequest
from proxy.core.native_request import (
    MULTIMODAL_GENERATION_PATH,
    TEXT_GENERATION_PATH,
    NativeMessage,
)
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.responses.fields import INPUT_ROWS, RESPONSES_FIELDS, render_markdown
from proxy.responses.request import ResponseExtras, translate_responses_request
from proxy.server.seal import AesGcmSealer

BASE: dict[str, Any] = {"model": "qwen3-max", "input": "hi"}
FORCED = {"result_format": "message", "incremental_output": True}
CODE_INTERPRETER: Any = {"type": "code_interpreter", "container": {"type": "auto"}}
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
NO_STORE = "the proxy stores nothing, so send the whole conversation in input"
INTERPRETER_THINKS = (
    "tools: code_interpreter also sent as enable_thinking=true (the interpreter runs only while "
    "thinking)"
)

F = TypeVar("F", bound=Callable[..., Any])
FIELDS_COVERED: set[str] = set()
ROWS_COVERED: set[str] = set()


def fields(*names: str) -> Callable[[F], F]:
    """Marks a test as exercising these RESPONSES_FIELDS rows."""
    FIELDS_COVERED.update(names)
    return lambda test: test


def rows(*names: str) -> Callable[[F], F]:
    """Marks a test as exercising these INPUT_ROWS rows (by their first column)."""
    ROWS_COVERED.update(names)
    return lambda test: test


def translate(**overrides: Any) -> UpstreamPlan[ResponseExtras]:
    return translate_responses_request({**BASE, **overrides})


def parameters(**overrides: Any) -> dict[str, Any]:
    parameters: dict[str, Any] = translate(**overrides).body["parameters"]
    return parameters


def messages(value: Any, **overrides: Any) -> list[NativeMessage]:
    return translate(input=value, **overrides).body["input"]["messages"]


def refused(param: str, match: str | None = None, **overrides: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest, match=match) as caught:
        translate(**overrides)
    assert caught.value.status == 400
    assert caught.value.param == param
    return caught.value


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def test_every_field_and_input_row_is_exercised() -> None:
    assert {field.name for field in RESPONSES_FIELDS} == FIELDS_COVERED
    assert {what for what, _ in INPUT_ROWS} == ROWS_COVERED


def test_the_rendered_table_names_every_field_and_row() -> None:
    table = render_markdown()
    for field in RESPONSES_FIELDS:
        assert f"| `{field.name}` | {field.treatment} |" in table
    for what, how in INPUT_ROWS:
        assert f"| {what} | {how} |" in table


# ---- fields -----------------------------------------------------------------------------------


@fields("model")
def test_model_goes_upstream_and_picks_the_endpoint() -> None:
    plan = translate()
    assert (plan.model, plan.body["model"], plan.path) == (
        "qwen3-max",
        "qwen3-max",
        TEXT_GENERATION_PATH,
    )
    assert translate(model="qwen3-vl-plus").path == MULTIMODAL_GENERATION_PATH
    refused("model", input="hi", model="")
    refused("model", model=7)


@fields("input")
@rows("a string")
def test_input_string_is_one_user_message_and_is_required() -> None:
    plan = translate()
    assert plan.body["input"]["messages"] == [{"role": "user", "content": "hi"}]
    assert plan.body["parameters"] == FORCED
    assert plan.notes == ()
    missing: Any
    for missing in (None, []):
        refused("input", input=missing)
    refused("input", input=5)
    refused("input", input={"role": "user", "content": "hi"})


@fields("instructions")
def test_instructions_become_a_first_system_message() -> None:
    assert messages("hi", instructions="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert messages([user("hi")], instructions="Be brief.")[0] == {
        "role": "system",
        "content": "Be brief.",
    }
    refused("instructions", instructions=["Be brief."])


@fields("stream")
def test_stream_is_the_proxy_s_business() -> None:
    assert translate(stream=True).stream is True
    assert translate(stream=False).stream is False
    assert translate().stream is False
    assert "stream" not in parameters(stream=True)
    refused("stream", stream="yes")


@fields("stream_options")
def test_stream_options_are_accepted_and_not_sent() -> None:
    plan = translate(stream=True, stream_options={"include_obfuscation": False})
    assert plan.body["parameters"] == FORCED
    assert plan.notes == ()
    refused("stream_options", stream_options=True)


@fields("code_interpreter_format")
def test_chat_s_representation_switch_is_accepted_and_not_sent() -> None:
    plan = translate(code_interpreter_format="reasoning")
    assert plan.body["parameters"] == FORCED
    assert plan.notes == ()
    refused("code_interpreter_format", code_interpreter_format=1)


@fields("max_output_tokens")
def test_max_output_tokens_is_max_completion_tokens() -> None:
    # Both cap thinking and answer together; DashScope's max_tokens need not count thinking.
    sent = parameters(max_output_tokens=64)
    assert sent["max_completion_tokens"] == 64
    assert "max_output_tokens" not in sent
    assert "max_tokens" not in sent
    refused("max_output_tokens", max_output_tokens=6.5)


@fields("temperature")
def test_temperature_passes() -> None:
    assert parameters(temperature=0.3)["temperature"] == 0.3
    refused("temperature", temperature=True)


@fields("top_p")
def test_top_p_passes_and_is_clamped_with_a_note() -> None:
    assert parameters(top_p=0.5)["top_p"] == 0.5
    plan = translate(top_p=0)
    assert plan.body["parameters"]["top_p"] == 1e-6
    assert [note for note in plan.notes if note.startswith("top_p:")] != []
    refused("top_p", top_p="high")


@fields("parallel_tool_calls")
def test_parallel_tool_calls_passes() -> None:
    assert parameters(parallel_tool_calls=False)["parallel_tool_calls"] is False


@fields("tools")
def test_function_tools_become_chat_tools() -> None:
    assert parameters(tools=[WEATHER])["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city.",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    bare = parameters(tools=[{"type": "function", "name": "f"}])["tools"]
    assert bare == [{"type": "function", "function": {"name": "f"}}]


@fields("tools")
def test_the_code_interpreter_tool_turns_on_the_interpreter_and_thinking() -> None:
    plan = translate(tools=[CODE_INTERPRETER])
    assert plan.body["parameters"] == {
        **FORCED,
        "enable_code_interpreter": True,
        "enable_thinking": True,
    }
    assert plan.notes == (INTERPRETER_THINKS,)


@pytest.mark.parametrize(
    ("extra", "thinking"),
    [
        ({"enable_thinking": False}, False),
        ({"enable_thinking": True}, True),
        ({"reasoning": {"effort": "none"}}, False),
        ({"reasoning": {"effort": "minimal"}}, False),
        ({"reasoning": {"effort": "low"}}, True),
    ],
)
def test_an_explicit_thinking_choice_wins_over_the_interpreter_default(
    extra: dict[str, Any], thinking: bool
) -> None:
    params = parameters(tools=[CODE_INTERPRETER], **extra)
    assert params["enable_code_interpreter"] is True
    assert params["enable_thinking"] is thinking


def test_thinking_stays_off_without_the_interpreter() -> None:
    assert "enable_thinking" not in parameters(tools=[WEATHER])


@fields("tools")
def test_function_tools_and_the_interpreter_are_mutually_exclusive() -> None:
    error = refused("tools", "mutually exclusive", tools=[CODE_INTERPRETER, WEATHER])
    assert "code_interpreter" in error.message
    # The same through the DashScope extra instead of the hosted tool.
    refused("tools", "mutually exclusive", tools=[WEATHER], enable_code_interpreter=True)


def test_the_dashscope_extra_turns_on_thinking_as_the_tool_does() -> None:
    plan = translate(enable_code_interpreter=True)
    assert plan.body["parameters"]["enable_thinking"] is True
    assert plan.notes == (
        "enable_code_interpreter: also sent as enable_thinking=true (the interpreter runs only "
        "while thinking)",
    )


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "image_generation"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "mcp", "server_label": "x"},
        "code_interpreter",
    ],
)
def test_other_tool_types_are_refused_by_position(tool: Any) -> None:
    refused("tools[1]", tools=[{"type": "function", "name": "f"}, tool])


def test_a_function_tool_needs_a_name() -> None:
    refused("tools[0].name", tools=[{"type": "function", "parameters": {}}])
    refused("tools", tools={"type": "function", "name": "f"})


FORCED_OFF = (
    "tool_choice: sent with enable_thinking=false (DashScope refuses a forced tool_choice in "
    "thinking mode)"
)


@fields("tool_choice")
@pytest.mark.parametrize(
    ("choice", "tools", "sent", "notes"),
    [
        ("auto", [WEATHER], "auto", ()),
        ("none", [WEATHER], "none", ()),
        (
            "required",
            [WEATHER],
            {"type": "function", "function": {"name": "get_weather"}},
            ("tool_choice: required sent as the only tool, by name", FORCED_OFF),
        ),
        (
            {"type": "function", "name": "get_weather"},
            [WEATHER],
            {"type": "function", "function": {"name": "get_weather"}},
            (FORCED_OFF,),
        ),
        (
            {"type": "code_interpreter"},
            [CODE_INTERPRETER],
            "auto",
            ("tool_choice: code_interpreter sent as auto (DashScope cannot force it)",),
        ),
    ],
)
def test_tool_choice(choice: Any, tools: list[Any], sent: Any, notes: tuple[str, ...]) -> None:
    # Thinking on: a forced function turns it off for the request (docs/fields.md).
    plan = translate(tool_choice=choice, tools=tools, enable_thinking=True)
    assert plan.body["parameters"]["tool_choice"] == sent
    assert plan.notes == notes


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "allowed_tools", "mode": "auto", "tools": []},
        {"type": "function"},
        {"type": "file_search"},
        "any",
        5,
    ],
)
def test_tool_choice_refusals(choice: Any) -> None:
    refused("tool_choice", tool_choice=choice, tools=[WEATHER])


@fields("reasoning")
def test_reasoning_effort_maps_onto_thinking() -> None:
    assert parameters(reasoning={"effort": "high"}) == {
        **FORCED,
        "enable_thinking": True,
        "thinking_budget": 32768,
    }
    assert parameters(reasoning={"effort": "none"})["enable_thinking"] is False
    assert parameters(reasoning={})["result_format"] == "message"


@fields("reasoning")
def test_a_reasoning_summary_is_repeated_and_an_unknown_one_reported() -> None:
    plan = translate(reasoning={"effort": "low", "summary": "auto"})
    assert plan.notes == (
        "reasoning.effort: 'low' sent as enable_thinking=true, thinking_budget=1024",
    )
    assert plan.extras.echo["reasoning"] == {"effort": "low", "summary": "auto"}
    assert translate(reasoning={"summary": "verbose"}).notes == (
        "reasoning.summary: 'verbose' dropped (not auto, concise or detailed)",
    )


def test_bad_reasoning_names_the_responses_field() -> None:
    refused("reasoning.effort", reasoning={"effort": 3})
    refused("reasoning.effort", reasoning={"effort": "extreme"})
    refused("reasoning", reasoning="high")


@fields("text")
def test_text_formats_become_response_format() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    json_schema = {"type": "json_schema", "name": "city", "schema": schema, "strict": True}
    assert parameters(text={"format": json_schema})["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": schema, "strict": True},
    }
    assert parameters(text={"format": {"type": "json_object"}})["response_format"] == {
        "type": "json_object"
    }
    assert parameters(text={"format": {"type": "text"}}) == FORCED


@fields("text")
def test_text_verbosity_is_reported_and_bad_formats_refused() -> None:
    plan = translate(text={"verbosity": "low"})
    assert plan.notes == ("text.verbosity: dropped (no DashScope equivalent)",)
    assert plan.body["parameters"] == FORCED
    refused("text.format", text={"format": {"type": "json_schema", "schema": {}}})
    refused("text.format", text={"format": {"type": "json_schema", "name": "x", "schema": 1}})
    refused("text.format", text={"format": {"type": "grammar"}})
    refused("text.format", text={"format": "json"})
    refused("text", text="json")


@fields("top_logprobs")
def test_top_logprobs_turns_on_logprobs() -> None:
    params = parameters(top_logprobs=3)
    assert (params["logprobs"], params["top_logprobs"]) == (True, 3)


@fields("include")
def test_include() -> None:
    assert parameters(include=["message.output_text.logprobs"])["logprobs"] is True
    plan = translate(include=["code_interpreter_call.outputs", "reasoning.encrypted_content"])
    assert plan.body["parameters"] == FORCED
    assert plan.notes == (
        "include: 'code_interpreter_call.outputs' dropped "
        "(DashScope does not return the interpreter's outputs)",
        "include: 'reasoning.encrypted_content' dropped (the proxy has no sealing key)",
    )
    assert plan.extras.sealer is None
    plan = translate(include=["web_search_call.action.sources"])
    assert (plan.notes, plan.extras.include_sources) == ((), True)
    (note,) = translate(include=["file_search_call.results"]).notes
    assert note.startswith("include: 'file_search_call.results' dropped")
    refused("include", include="message.output_text.logprobs")


@fields("metadata", "user")
def test_metadata_and_user_are_repeated_not_sent() -> None:
    plan = translate(metadata={"ticket": "42"}, user="u-1")
    assert plan.body["parameters"] == FORCED
    assert plan.notes == (
        "metadata: dropped (not sent, but repeated on the response)",
        "user: dropped (not sent, but repeated on the response)",
    )
    assert (plan.extras.echo["metadata"], plan.extras.echo["user"]) == ({"ticket": "42"}, "u-1")
    refused("user", user={"id": "u-1"})


@fields(
    "store",
    "truncation",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "max_tool_calls",
)
@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("store", True, "the proxy stores no responses"),
        ("truncation", "auto", "no DashScope equivalent"),
        ("service_tier", "flex", "no DashScope equivalent"),
        ("safety_identifier", "s-1", "no DashScope equivalent"),
        ("prompt_cache_key", "k", "DashScope caches by cache_control parts"),
        ("prompt_cache_retention", "24h", "DashScope caches by cache_control parts"),
        ("max_tool_calls", 3, "no DashScope equivalent"),
    ],
)
def test_reported_fields(name: str, value: Any, why: str) -> None:
    plan = translate(**{name: value})
    (note,) = plan.notes
    assert note.startswith(f"{name}: dropped (")
    assert why in note
    assert plan.body["parameters"] == FORCED


@pytest.mark.parametrize(
    ("name", "value"), [("store", False), ("truncation", "disabled"), ("background", False)]
)
def test_defaults_that_ask_for_nothing_missing_are_silent(name: str, value: Any) -> None:
    plan = translate(**{name: value})
    assert (plan.notes, plan.body["parameters"]) == ((), FORCED)


@fields("previous_response_id", "conversation", "prompt", "background")
@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("previous_response_id", "resp_123", NO_STORE),
        ("conversation", "conv_123", NO_STORE),
        ("conversation", {"id": "conv_123"}, NO_STORE),
        ("prompt", {"id": "pmpt_1"}, "stored prompt templates live at OpenAI"),
        ("background", True, "the proxy stores nothing, so it cannot answer later"),
    ],
)
def test_refused_fields_say_why(name: str, value: Any, why: str) -> None:
    error = refused(name, **{name: value})
    assert error.message.startswith(f"'{name}' is not supported: ")
    assert why in error.message


def test_unknown_keys_are_dashscope_extras_and_pass() -> None:
    params = parameters(enable_search=True, search_options={"enable_source": True}, top_k=5)
    assert (params["enable_search"], params["search_options"], params["top_k"]) == (
        True,
        {"enable_source": True},
        5,
    )


def test_the_request_not_a_json_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        translate_responses_request(["model", "input"])


def test_the_echo_repeats_what_openai_repeats() -> None:
    plan = translate(
        instructions="Be brief.",
        max_output_tokens=9,
        temperature=0.2,
        top_p=0.9,
        tools=[WEATHER],
        tool_choice="auto",
        parallel_tool_calls=False,
        text={"format": {"type": "json_object"}},
    )
    assert plan.extras.echo == {
        "instructions": "Be brief.",
        "max_output_tokens": 9,
        "metadata": {},
        "parallel_tool_calls": False,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 0.2,
        "text": {"format": {"type": "json_object"}},
        "tool_choice": "auto",
        "tools": [WEATHER],
        "top_p": 0.9,
        "truncation": "disabled",
        "user": None,
        "background": False,
    }


# ---- input items ------------------------------------------------------------------------------


@rows("`message` items (`user`, `system`, `assistant`)", "`input_text` / `output_text` parts")
def test_message_items_keep_their_roles_and_text_parts_become_text() -> None:
    found = messages(
        [
            {"type": "message", "role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "input_text", "text": "a"}]},
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "b", "annotations": []}],
            },
            {"role": "user", "content": "c"},
        ]
    )
    assert found == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]


def test_a_refusal_in_history_is_assistant_text() -> None:
    found = messages(
        [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
            {"role": "user", "content": "y"},
        ]
    )
    assert found[1] == {"role": "assistant", "content": "No."}


@rows("`developer` role")
def test_the_developer_role_is_sent_as_system_and_reported() -> None:
    plan = translate(input=[{"role": "developer", "content": "rules"}, user("hi")])
    assert plan.body["input"]["messages"][0] == {"role": "system", "content": "rules"}
    assert plan.notes == ("input[0].role: developer sent as system",)


@rows("`input_image` parts (`image_url`)")
def test_images_go_to_the_multimodal_endpoint() -> None:
    url = "https://example.com/cat.png"
    part = {"type": "input_image", "image_url": url}
    plan = translate(
        input=[{"role": "user", "content": [part, {"type": "input_text", "text": "?"}]}]
    )
    assert plan.path == MULTIMODAL_GENERATION_PATH
    assert plan.body["input"]["messages"] == [
        {"role": "user", "content": [{"image": url}, {"text": "?"}]}
    ]
    data_url = "data:image/png;base64,iVBORw0KGgo="
    (message,) = messages([{"role": "user", "content": [{**part, "image_url": data_url}]}])
    assert message["content"] == [{"image": data_url}]


@rows("`input_image` with `file_id`, other `input_file` parts")
@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_image", "file_id": "file-1", "detail": "auto"},
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_file", "file_url": "https://example.com/report.pdf"},
    ],
)
def test_parts_the_proxy_cannot_send_are_refused_by_position(part: dict[str, Any]) -> None:
    content = [{"type": "input_text", "text": "see"}, part]
    refused("input[1].content[1]", input=[user("hi"), {"role": "user", "content": content}])


@rows("`input_audio` parts, `input_file` parts holding audio")
def test_audio_parts_become_audio_on_the_multimodal_endpoint() -> None:
    # Every audio form: tests/test_media_parts.py.
    heard = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    file = {"type": "input_file", "file_url": "https://example.com/a.mp3"}
    plan = translate(input=[{"role": "user", "content": [heard, file]}])
    assert plan.path == MULTIMODAL_GENERATION_PATH
    assert plan.body["input"]["messages"][-1]["content"] == [
        {"audio": "data:audio/wav;base64,AAAA"},
        {"audio": "https://example.com/a.mp3"},
    ]


@rows("`function_call` items", "`function_call_output` items")
def test_function_calls_and_their_outputs_become_a_chat_tool_exchange() -> None:
    found = messages(
        [
            user("Weather in Hangzhou and Shanghai?"),
            {"type": "message", "role": "assistant", "content": "Checking."},
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_a",
                "name": "get_weather",
                "arguments": '{"city": "Hangzhou"}',
                "status": "completed",
            },
            {
                "type": "function_call",
                "call_id": "call_b",
                "name": "get_weather",
                "arguments": '{"city": "Shanghai"}',
            },
            {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
            {
                "type": "function_call_output",
                "call_id": "call_b",
                "output": [{"type": "input_text", "text": "cloudy"}],
            },
        ]
    )

    def call(call_id: str, city: str) -> dict[str, Any]:
        arguments = json.dumps({"city": city})
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": "get_weather", "arguments": arguments},
        }

    assert found == [
        {"role": "user", "content": "Weather in Hangzhou and Shanghai?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [call("call_a", "Hangzhou"), call("call_b", "Shanghai")],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "cloudy"},
    ]


def test_a_function_call_without_text_is_an_assistant_turn_with_empty_content() -> None:
    found = messages(
        [
            user("x"),
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ]
    )
    assert found[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "function_call", "name": "f", "arguments": "{}"}, "input[1].call_id"),
        ({"type": "function_call", "call_id": "c", "arguments": "{}"}, "input[1].name"),
        (
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": {}},
            "input[1].arguments",
        ),
        ({"type": "function_call_output", "output": "x"}, "input[1].call_id"),
        ({"type": "function_call_output", "call_id": "c", "output": 5}, "input[1].output"),
        (
            {"role": "assistant", "content": [{"type": "input_image", "image_url": "x"}]},
            "input[1].content[0]",
        ),
        ({"type": "message", "role": "tool", "content": "x"}, "input[1].role"),
        ({"type": "message", "role": "user", "content": 5}, "input[1].content"),
        ({"role": "user", "content": [{"type": "input_text"}]}, "input[1].content[0]"),
        ("just text", "input[1]"),
    ],
)
def test_malformed_items_are_refused_by_position(item: Any, param: str) -> None:
    refused(param, input=[user("x"), item])


@rows("`code_interpreter_call`, `web_search_call` items", "other `reasoning` items")
def test_the_proxy_s_own_items_are_history_not_requests() -> None:
    """An agent sends back what the proxy produced: the thinking, the interpreter run, the
    search. DashScope already ran them; they are not sent, and never run again."""
    plan = translate(
        input=[
            user("What is 123**21?"),
            {
                "type": "reasoning",
                "id": "rs_x_0",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "I will compute."}],
            },
            {
                "type": "code_interpreter_call",
                "id": "ci_x_1",
                "code": "123**21",
                "container_id": "dashscope",
                "outputs": None,
                "status": "completed",
            },
            {"type": "web_search_call", "id": "ws_x_2", "status": "completed", "action": {}},
            {"type": "reasoning", "id": "rs_x_3", "summary": []},
            {"role": "assistant", "content": [{"type": "output_text", "text": "It is 7726..."}]},
            user("And 2**10?"),
        ],
        tools=[CODE_INTERPRETER],
    )
    assert plan.body["input"]["messages"] == [
        {"role": "user", "content": "What is 123**21?"},
        {"role": "assistant", "content": "It is 7726..."},
        {"role": "user", "content": "And 2**10?"},
    ]
    assert plan.notes == (
        "input: 2 code_interpreter_call/web_search_call item(s) not sent (DashScope already "
        "ran them)",
        "input: 2 reasoning item(s) not sent",
        INTERPRETER_THINKS,
    )
    assert plan.local_answer is None


@rows("`item_reference` and other item types")
@pytest.mark.parametrize(
    ("item", "match"),
    [
        ({"type": "item_reference", "id": "msg_1"}, "stores nothing"),
        ({"type": "file_search_call", "id": "fs_1"}, "file_search_call"),
        ({"type": "computer_call_output", "call_id": "c"}, "computer_call_output"),
        ({"content": "no role, no type"}, "None"),
    ],
)
def test_items_the_proxy_cannot_send_are_refused_by_position(item: Any, match: str) -> None:
    refused("input[1]", match, input=[user("x"), item])


OWN_CALL: Any = {
    "type": "function_call",
    "call_id": "call_ci_a1b2c3d4e5f60718_0",
    "name": "code_interpreter",
    "arguments": '{"code": "123**21"}',
}
OWN_RESULT: Any = {
    "type": "function_call_output",
    "call_id": "call_ci_a1b2c3d4e5f60718_0",
    "output": "Error: code_interpreter is not a valid tool",
}
ANSWER = {"role": "assistant", "content": [{"type": "output_text", "text": "It is 7726..."}]}


@rows("`function_call` items with the proxy's own `call_ci_` ids, and their outputs")
def test_the_proxy_s_own_calls_are_removed_and_only_their_results_are_answered_locally() -> None:
    """A client that replays a chat history (with the proxy's own calls as function calls)
    gets the same harmless-echo treatment as a chat client."""
    plan = translate(input=[user("What is 123**21?"), ANSWER, OWN_CALL, OWN_RESULT])
    assert plan.local_answer == "It is 7726..."
    assert plan.body["input"]["messages"] == [
        {"role": "user", "content": "What is 123**21?"},
        {"role": "assistant", "content": "It is 7726..."},
    ]
    assert plan.notes == (
        "input: removed 1 echoed code_interpreter call(s) and 1 result(s) for them",
    )
    follow_up = translate(input=[user("x"), ANSWER, OWN_CALL, OWN_RESULT, user("And 2**10?")])
    assert follow_up.local_answer is None
    assert [m["role"] for m in follow_up.body["input"]["messages"]] == ["user", "assistant", "user"]


@rows("`detail` on `input_image` parts")
def test_an_image_s_detail_is_applied_and_a_bad_url_refused_by_position() -> None:
    # All the detail rules: tests/test_media_parts.py.
    part = {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "high"}
    plan = translate(input=[{"role": "user", "content": [part]}])
    assert plan.body["parameters"]["vl_high_resolution_images"] is True
    assert plan.notes[0].startswith("vl_high_resolution_images: true for every image")
    bad = {"role": "user", "content": [{**part, "image_url": "ftp://example.com/cat.png"}]}
    error = refused("input[1].content[0].image_url", input=[user("x"), bad])
    assert "http(s)" in error.message


# ---- mapped fields: the notes say what was sent ----------------------------------------------

# For every `mapped` row, a request whose value the proxy changes, and the note that says what
# DashScope got instead.
CHANGED: dict[str, tuple[dict[str, Any], str]] = {
    "input": (
        {"input": [{"role": "developer", "content": "rules"}, user("hi")]},
        "input[0].role: developer sent as system",
    ),
    "top_p": ({"top_p": 2}, "top_p: 2 clamped to 1.0 (DashScope accepts (0, 1])"),
    "tools": ({"tools": [CODE_INTERPRETER]}, INTERPRETER_THINKS),
    "tool_choice": (
        {"tool_choice": "required", "tools": [WEATHER, {**WEATHER, "name": "other"}]},
        "tool_choice: required sent as auto (DashScope has no 'required')",
    ),
    "reasoning": (
        {"reasoning": {"effort": "medium"}},
        "reasoning.effort: 'medium' sent as enable_thinking=true, thinking_budget=8192",
    ),
    "text": ({"text": {"verbosity": "high"}}, "text.verbosity: dropped (no DashScope equivalent)"),
    "include": (
        {"include": ["code_interpreter_call.outputs"]},
        "include: 'code_interpreter_call.outputs' dropped "
        "(DashScope does not return the interpreter's outputs)",
    ),
}


def test_every_mapped_field_has_a_change_to_report() -> None:
    assert set(CHANGED) == {spec.name for spec in RESPONSES_FIELDS if spec.treatment == "mapped"}


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_a_mapped_field_s_change_is_in_the_notes(name: str) -> None:
    fields, note = CHANGED[name]
    assert note in translate(**fields).notes
    assert note.startswith(name)


@pytest.mark.parametrize(
    "name", sorted(spec.name for spec in RESPONSES_FIELDS if spec.treatment == "converted")
)
def test_a_converted_field_changes_nothing_worth_a_note(name: str) -> None:
    sample: dict[str, Any] = {
        "model": {"model": "qwen-plus"},
        "instructions": {"instructions": "Be brief."},
        "max_output_tokens": {"max_output_tokens": 64},
        "top_logprobs": {"top_logprobs": 2},
    }
    assert translate(**sample[name]).notes == ()


def test_required_without_function_tools_is_sent_as_auto() -> None:
    plan = translate(tool_choice="required")
    assert plan.body["parameters"]["tool_choice"] == "auto"
    assert plan.notes == ("tool_choice: required sent as auto (DashScope has no 'required')",)


SEAL_SECRET = b"a test secret of thirty-two bytes"


@rows("`reasoning` items with the `encrypted_content` the proxy sealed")
def test_sealed_thinking_goes_back_with_preserve_thinking_and_only_then() -> None:
    sealer = AesGcmSealer(SEAL_SECRET)
    other = AesGcmSealer(b"another secret, another replica!")
    sealed = sealer.seal("I computed 2**10.")
    options = TranslationOptions(sealer=sealer)

    def body(*extra: Any, **fields: Any) -> dict[str, Any]:
        reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": sealed}
        answer = {"role": "assistant", "content": "1024"}
        return {**BASE, "input": [user("2**10?"), reasoning, *extra, answer], **fields}

    plan = translate_responses_request(body(preserve_thinking=True), options)
    assert plan.body["input"]["messages"][1] == {
        "role": "assistant",
        "content": "1024",
        "reasoning_content": "I computed 2**10.",
    }
    assert plan.notes == ()
    plan = translate_responses_request(body(), options)
    assert plan.body["input"]["messages"][1] == {"role": "assistant", "content": "1024"}
    assert plan.notes == (
        "input: 1 sealed reasoning item(s) not sent (send preserve_thinking to give DashScope "
        "the thinking again)",
    )
    foreign = {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "x"}
    altered = {**foreign, "encrypted_content": other.seal("forged")}
    for unreadable in (foreign, altered):
        plan = translate_responses_request(body(unreadable, preserve_thinking=True), options)
        assert plan.notes == (
            "input: 1 reasoning item(s) dropped (encrypted_content not sealed by this proxy's "
            "key, or altered)",
        )
    plan = translate_responses_request(body(preserve_thinking=True))  # no sealer: unreadable
    assert "reasoning_content" not in plan.body["input"]["messages"][1]


def test_sealed_thinking_with_no_assistant_turn_after_it_goes_nowhere() -> None:
    sealer = AesGcmSealer(SEAL_SECRET)
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": ""}
    sealed = {**reasoning, "encrypted_content": sealer.seal("lost")}
    plan = translate_responses_request(
        {**BASE, "input": [sealed, user("next"), reasoning], "preserve_thinking": True},
        TranslationOptions(sealer=sealer),
    )
    assert plan.body["input"]["messages"] == [{"role": "user", "content": "next"}]
    assert plan.notes == ("input: 1 reasoning item(s) not sent",)


@fields("include")
def test_include_asks_for_sealed_reasoning_when_the_proxy_can_seal() -> None:
    sealer = AesGcmSealer(SEAL_SECRET)
    plan = translate_responses_request(
        {**BASE, "include": ["reasoning.encrypted_content"]}, TranslationOptions(sealer=sealer)
    )
    assert (plan.extras.sealer, plan.notes) == (sealer, ())
    assert (
        translate_responses_request(BASE, TranslationOptions(sealer=sealer)).extras.sealer is None
    )
