"""LangChain's ChatOpenAI and a LangGraph prebuilt agent against the proxy.

ChatOpenAI puts every tool call it sees into `AIMessage.tool_calls`, and a LangGraph agent runs
them: a code-interpreter run in the `tool_calls` representation becomes the ToolMessage "Error:
code_interpreter is not a valid tool ..." and a second model call. The proxy must end that
loop without calling DashScope again (docs/architecture.md, "Echoed calls are harmless"), and
the other representations must give such agents nothing to run ("Representations are
selectable"). ChatOpenAI drops `reasoning_content`, so only content and tool calls are
observable here.

DashScope refuses function tools together with the code interpreter, and so does the proxy. An
agent whose model has its tools bound therefore cannot use the interpreter at all (tested
below); the code-interpreter agents here pick a model without bound tools (LangGraph's dynamic
model), while the agent still has a real tool node.
"""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import AsyncIterator, Callable
from functools import reduce
from typing import Any

import openai
import orjson
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent
from langgraph.warnings import LangGraphDeprecatedSinceV10
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.simulator import TEXT_PATH, ReceivedRequest, SimFrame, render_frame
from proxy.simulator.scenarios import SSE_CONTENT_TYPE
from tests.conftest import ScenarioText

MODEL = "qwen3-max-preview"
QUESTION = "123 to the power of 21: compute it with the code interpreter."
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}
FENCED_CODE = re.compile(r"```python[ \t]*\n123\*\*21[ \t]*\n```")
LIMITS = {"recursion_limit": 10}  # a looping agent fails fast instead of spinning 25 steps


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"Sunny, 25 degrees Celsius in {city}."


def chat(base_url: str, extra_body: dict[str, Any]) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{base_url}/v1",
        api_key=SecretStr("sk-test"),
        model=MODEL,
        extra_body=extra_body,
        max_retries=0,
        timeout=30,
    )


def streamed(llm: ChatOpenAI) -> AIMessageChunk:
    chunks = list(llm.stream(QUESTION))
    merged: AIMessageChunk = reduce(operator.add, chunks)
    return merged


def agent_with_weather(model: Any) -> Any:
    with warnings.catch_warnings():
        # LangGraph 1.0 moved the prebuilt agent to `langchain.agents.create_agent` (another
        # package) and deprecated this name; agents in the wild still run it.
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        return create_react_agent(model, [get_weather])


def without_bound_tools(llm: ChatOpenAI) -> Callable[[Any, Any], ChatOpenAI]:
    """A dynamic model: LangGraph binds no tools to it, so the request may use the interpreter."""
    return lambda state, runtime: llm


@pytest.fixture
def seed(scenario_text: Callable[..., ScenarioText]) -> ScenarioText:
    text = scenario_text("seed_single_run")
    assert text.codes == ("123**21",)
    return text


def assert_code_interpreter_call(message: AIMessage) -> None:
    (call,) = message.tool_calls
    assert call["name"] == "code_interpreter"
    assert call["args"] == {"code": "123**21"}
    assert (call["id"] or "").startswith("call_ci_")
    assert message.invalid_tool_calls == []


# ---- ChatOpenAI -----------------------------------------------------------------------------


def test_invoke_gives_the_answer_and_the_run_as_a_tool_call(
    proxy_url: str, seed: ScenarioText
) -> None:
    message = chat(proxy_url, CODE_FLAGS).invoke(QUESTION)
    assert isinstance(message, AIMessage)
    assert message.content == seed.content
    assert_code_interpreter_call(message)
    assert message.response_metadata["finish_reason"] == "stop"


def test_stream_gives_the_answer_and_the_run_as_a_tool_call(
    proxy_url: str, seed: ScenarioText
) -> None:
    message = streamed(chat(proxy_url, CODE_FLAGS))
    assert message.content == seed.content
    assert_code_interpreter_call(message)
    assert message.response_metadata["finish_reason"] == "stop"


@pytest.mark.parametrize("representation", ["reasoning", "content", "vendor", "off"])
def test_stream_in_other_representations_has_no_tool_calls(
    proxy_url: str, seed: ScenarioText, representation: str
) -> None:
    extra_body = {**CODE_FLAGS, "code_interpreter_format": representation}
    message = streamed(chat(proxy_url, extra_body))
    assert message.tool_calls == []
    assert message.tool_call_chunks == []
    assert message.response_metadata["finish_reason"] == "stop"
    if representation == "content":
        assert isinstance(message.content, str)
        assert len(FENCED_CODE.findall(message.content)) == 1, message.content
        assert message.content.endswith(seed.content)
    else:
        assert message.content == seed.content


# ---- a LangGraph agent meeting a code-interpreter run ---------------------------------------


def test_agent_with_bound_tools_cannot_enable_the_interpreter(
    proxy_url: str, received: list[ReceivedRequest]
) -> None:
    agent = agent_with_weather(chat(proxy_url, CODE_FLAGS))
    with pytest.raises(openai.BadRequestError, match="'tools' cannot be combined"):
        agent.invoke({"messages": [("user", QUESTION)]}, LIMITS)
    assert received == []


def test_agent_ends_after_one_upstream_call_in_the_tool_calls_representation(
    proxy_url: str, received: list[ReceivedRequest], seed: ScenarioText
) -> None:
    agent = agent_with_weather(without_bound_tools(chat(proxy_url, CODE_FLAGS)))
    messages = agent.invoke({"messages": [("user", QUESTION)]}, LIMITS)["messages"]
    assert len(received) == 1, f"the agent ended with {messages[-1].content!r}"
    human, run, echo, final = messages
    assert isinstance(human, HumanMessage)
    assert isinstance(run, AIMessage)
    assert_code_interpreter_call(run)
    # LangGraph "ran" the call: an error result for an unknown tool, sent back to the proxy.
    assert isinstance(echo, ToolMessage)
    assert echo.tool_call_id == run.tool_calls[0]["id"]
    assert "not a valid tool" in str(echo.content)
    # The proxy answered that echo itself, with the answer already given and nothing to run.
    assert isinstance(final, AIMessage)
    assert final.content == seed.content
    assert final.tool_calls == []


def test_agent_ends_after_one_upstream_call_in_the_reasoning_representation(
    proxy_url: str, received: list[ReceivedRequest], seed: ScenarioText
) -> None:
    extra_body = {**CODE_FLAGS, "code_interpreter_format": "reasoning"}
    agent = agent_with_weather(without_bound_tools(chat(proxy_url, extra_body)))
    messages = agent.invoke({"messages": [("user", QUESTION)]}, LIMITS)["messages"]
    assert len(received) == 1, f"the agent ended with {messages[-1].content!r}"
    human, final = messages
    assert isinstance(human, HumanMessage)
    assert isinstance(final, AIMessage)
    assert final.content == seed.content
    assert final.tool_calls == []


# ---- a LangGraph agent calling a real function tool -----------------------------------------

WEATHER_CALL_ID = "call_29a870e7106f45deb8add3"
WEATHER_REQUEST_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


def _native(message: dict[str, Any], finish_reason: str, output_tokens: int) -> SimFrame:
    choice = {
        "message": {"content": "", "role": "assistant", **message},
        "finish_reason": finish_reason,
    }
    usage = {
        "input_tokens": 120,
        "output_tokens": output_tokens,
        "total_tokens": 120 + output_tokens,
    }
    data = {"output": {"choices": [choice]}, "usage": usage, "request_id": WEATHER_REQUEST_ID}
    return SimFrame("result", 200, data)


def _weather_call() -> tuple[SimFrame, ...]:
    # The recorded shape (docs/dashscope-protocol.md, "Function calls"): id and name in the
    # first delta only, later `id: ""`, and the terminal `tool_calls` frame carries the last
    # arguments fragment.
    first = {"index": 0, "id": WEATHER_CALL_ID, "type": "function"}
    first["function"] = {"name": "get_weather", "arguments": '{"city": "'}
    last = {"index": 0, "id": "", "type": "function", "function": {"arguments": 'Hangzhou"}'}}
    return (
        _native({"tool_calls": [first]}, "null", 9),
        _native({"tool_calls": [last]}, "tool_calls", 14),
    )


def _answer(text: str) -> tuple[SimFrame, ...]:
    half = len(text) // 2
    return (
        _native({"content": text[:half]}, "null", 5),
        _native({"content": text[half:]}, "null", 11),
        _native({}, "stop", 11),
    )


def _frames(frames: tuple[SimFrame, ...]) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        for n, frame in enumerate(frames, start=1):
            yield render_frame(n, frame)

    return body()


def weather_upstream() -> Starlette:
    """Native DashScope function calling: a get_weather call, then an answer from its result."""

    async def generation(request: Request) -> Response:
        body = orjson.loads(await request.body())
        request.app.state.received.append(body)
        results = [m["content"] for m in body["input"]["messages"] if m["role"] == "tool"]
        frames = _answer(f"In Hangzhou: {results[-1]}") if results else _weather_call()
        headers = {"x-request-id": WEATHER_REQUEST_ID}
        return StreamingResponse(_frames(frames), media_type=SSE_CONTENT_TYPE, headers=headers)

    app = Starlette(routes=[Route(TEXT_PATH, generation, methods=["POST"])])
    app.state.received = []
    return app


def test_agent_runs_a_function_tool_and_answers_from_its_result(
    serve: Callable[[Any], str], start_proxy: Callable[..., str]
) -> None:
    upstream = weather_upstream()
    agent = agent_with_weather(chat(start_proxy(serve(upstream)), {}))
    messages = agent.invoke({"messages": [("user", "Weather in Hangzhou?")]}, LIMITS)["messages"]
    human, call, result, final = messages
    assert isinstance(human, HumanMessage)
    assert isinstance(call, AIMessage)
    assert call.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Hangzhou"},
            "id": WEATHER_CALL_ID,
            "type": "tool_call",
        }
    ]
    assert call.response_metadata["finish_reason"] == "tool_calls"
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == WEATHER_CALL_ID
    assert result.content == "Sunny, 25 degrees Celsius in Hangzhou."
    assert isinstance(final, AIMessage)
    assert final.content == "In Hangzhou: Sunny, 25 degrees Celsius in Hangzhou."
    assert final.tool_calls == []
    # Two upstream calls; the second carries the client's call and its result, untouched.
    first, second = upstream.state.received
    assert [t["function"]["name"] for t in first["parameters"]["tools"]] == ["get_weather"]
    assistant, tool_message = second["input"]["messages"][-2:]
    assert [c["id"] for c in assistant["tool_calls"]] == [WEATHER_CALL_ID]
    assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"
    assert tool_message == {
        "role": "tool",
        "content": "Sunny, 25 degrees Celsius in Hangzhou.",
        "tool_call_id": WEATHER_CALL_ID,
    }
