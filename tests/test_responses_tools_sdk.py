"""The openai SDK (`responses.create`, `responses.stream`) round-tripping namespaced and custom
tools through the proxy and the simulator: the call comes back as the SDK's own item type with
the original name, the SDK's output items go back as the next request's input, and the model
answers from the tool's result. The simulator behaves as a model with tools: a
`[sim-call:NAME {args}]` directive chooses the call, else it calls the first tool with arguments
made from its schema."""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.responses import ResponseCustomToolCall, ResponseFunctionToolCall

from proxy.simulator import ReceivedRequest
from proxy.simulator.request_view import text_of
from proxy.simulator.schema_example import example
from proxy.simulator.tool_use import ANSWER_PREFIX
from tests.test_responses_tools_golden import FREEFORM_PATCH as PATCH

MODEL = "qwen3-coder-plus"
AGENTS: Any = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents.",
    "tools": [
        {
            "type": "function",
            "name": "spawn_agent",
            "description": "Start a sub-agent.",
            "parameters": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "model": {"type": "string", "enum": ["small", "large"]},
                    "fork": {"type": "boolean"},
                },
                "required": ["message", "model"],
            },
        }
    ],
}
PATCH_TEXT = '*** Begin Patch\n*** Add File: a.txt\n+"hi"\n*** End Patch'


def _dump(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", exclude_none=True) for item in items]


def test_a_custom_tool_round_trip_with_create(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    task = f"Add the file. [sim-call:apply_patch {json.dumps({'input': PATCH_TEXT})}]"
    first = client.responses.create(model=MODEL, input=task, tools=[PATCH])
    (call,) = first.output
    assert isinstance(call, ResponseCustomToolCall)
    assert (call.name, call.input) == ("apply_patch", PATCH_TEXT)

    output = {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"}
    history: Any = [{"role": "user", "content": task}, *_dump(first.output), output]
    second = client.responses.create(model=MODEL, input=history, tools=[PATCH])
    assert second.output_text == f"{ANSWER_PREFIX} Done!"

    # Upstream: a function with one string parameter, then the call and its result.
    offered = received[0].body["parameters"]["tools"][0]["function"]
    assert offered["name"] == "apply_patch"
    assert "lark grammar" in offered["description"]
    messages = received[1].body["input"]["messages"]
    (sent,) = messages[1]["tool_calls"]
    assert json.loads(sent["function"]["arguments"]) == {"input": PATCH_TEXT}
    assert (messages[2]["role"], text_of(messages[2]["content"])) == ("tool", "Done!")


def test_a_namespaced_tool_round_trip_with_the_stream_helper(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    """Without a directive the model calls the first tool, with arguments from its schema."""
    with client.responses.stream(model=MODEL, input="Get help.", tools=[AGENTS]) as stream:
        kinds = {event.type for event in stream}
        first = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    (call,) = first.output
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.name, call.namespace) == ("spawn_agent", "multi_agent_v1")
    arguments = json.loads(call.arguments)
    assert arguments == {"message": "example", "model": "small"}
    assert arguments == example(AGENTS["tools"][0]["parameters"])

    output = {"type": "function_call_output", "call_id": call.call_id, "output": "agent-7"}
    history: Any = [{"role": "user", "content": "Get help."}, *_dump(first.output), output]
    with client.responses.stream(model=MODEL, input=history, tools=[AGENTS]) as stream:
        second = stream.get_final_response()
    assert second.output_text == f"{ANSWER_PREFIX} agent-7"

    assert received[0].body["parameters"]["tools"][0]["function"]["name"] == (
        "multi_agent_v1__spawn_agent"
    )
    (sent,) = received[1].body["input"]["messages"][1]["tool_calls"]
    assert sent["function"]["name"] == "multi_agent_v1__spawn_agent"


def test_the_simulator_calls_a_built_in_by_directive_without_arguments(
    client: openai.OpenAI,
) -> None:
    response = client.responses.create(
        model=MODEL, input="List files. [sim-call:shell]", tools=[{"type": "shell"}]
    )
    (call,) = response.output
    assert call.type == "shell_call"
    assert call.action.commands == ["example"]
