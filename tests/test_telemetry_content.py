"""Content on spans (opted in): either API's messages in the GenAI conventions' role/parts shape,
redacted like the traffic log."""

from __future__ import annotations

import json

from proxy.core.summary import ChoiceSummary, ExchangeSummary, FunctionCall
from proxy.server.telemetry_content import code_attributes, content_attributes
from proxy.traffic.redact import MASK, Redactor

KEY = "sk-fake-telemetry-client-key-0123456789"
ANSWER = ChoiceSummary(0, "think", "42", (FunctionCall("call_1", "f", '{"x":1}'),), None, "stop")


def decoded(attributes: dict[str, object]) -> dict[str, object]:
    assert all(isinstance(value, str) for value in attributes.values())
    return {name: json.loads(str(value)) for name, value in attributes.items()}


def test_chat_messages_with_tools_and_media_become_parts() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"look, my key is {KEY}"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    "not a part",
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "c2"},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
            "not a message",
        ]
    }
    summary = ExchangeSummary((ANSWER,), (), None)
    values = decoded(content_attributes(request, summary, Redactor(), (KEY,)))
    assert values["gen_ai.input.messages"] == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": f"look, my key is {MASK}"},
                {"type": "image_url"},  # the kind of media, never its bytes
            ],
        },
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": "{}"}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "c1", "response": "done"}],
        },
        {"role": "unknown", "parts": []},
    ]
    assert values["gen_ai.output.messages"] == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "think"},
                {"type": "text", "content": "42"},
                {"type": "tool_call", "id": "call_1", "name": "f", "arguments": '{"x":1}'},
            ],
            "finish_reason": "stop",
        }
    ]
    assert "gen_ai.system_instructions" not in values


def test_responses_input_items_and_instructions_become_parts() -> None:
    request = {
        "instructions": "answer in French",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "reasoning", "summary": []},
            "not an item",
        ],
    }
    values = decoded(content_attributes(request, ExchangeSummary((), (), None), Redactor(), ()))
    assert values["gen_ai.system_instructions"] == [{"type": "text", "content": "answer in French"}]
    assert values["gen_ai.input.messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": "{}"}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}],
        },
        {"role": "user", "parts": [{"type": "reasoning"}]},
    ]
    assert "gen_ai.output.messages" not in values
    text_input = decoded(
        content_attributes({"input": "hello"}, ExchangeSummary((), (), None), Redactor(), ())
    )
    assert text_input["gen_ai.input.messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}
    ]


def test_a_runs_code_is_its_arguments_with_secrets_masked() -> None:
    redactor = Redactor(secrets=("server-secret-value",))
    values = decoded(code_attributes("key = 'server-secret-value'\nprint(1)", redactor, ()))
    assert values == {"gen_ai.tool.call.arguments": {"code": f"key = '{MASK}'\nprint(1)"}}
