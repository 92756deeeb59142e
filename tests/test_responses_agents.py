"""The OpenAI Agents SDK with its default Responses model (`OpenAIResponsesModel`) pointed at the
proxy: a hosted code-interpreter run arrives as a finished `code_interpreter_call` item the SDK
never tries to execute, and a local function tool runs the usual two-call loop.

Tracing is disabled: it would export to the internet.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from agents import (
    Agent,
    CodeInterpreterTool,
    OpenAIResponsesModel,
    Runner,
    RunResult,
    RunResultStreaming,
    ToolCallItem,
    WebSearchTool,
    function_tool,
    set_tracing_disabled,
)
from agents.exceptions import ModelBehaviorError
from openai import AsyncOpenAI
from openai.types.responses import (
    ResponseCodeInterpreterToolCall,
    ResponseFunctionToolCall,
    ResponseFunctionWebSearch,
)

from proxy.simulator import ReceivedRequest
from proxy.simulator.feature_scripts import SEARCH_RESULTS, WEATHER_ANSWER, WEATHER_CALL_ID
from proxy.simulator.scripts import SEED_ANSWER
from tests.conftest import ScenarioText

QUESTION = "What is 123 to the power of 21?"
CODE_INTERPRETER = CodeInterpreterTool(
    tool_config={"type": "code_interpreter", "container": {"type": "auto"}}
)
AgentFactory = Callable[..., Agent[Any]]


@pytest.fixture(autouse=True)
def _no_tracing() -> None:
    set_tracing_disabled(True)


@pytest.fixture
async def agent_for(proxy_url: str) -> AsyncIterator[AgentFactory]:
    """`agent_for(model, tools)`: an agent on the SDK's default Responses model class."""
    clients: list[AsyncOpenAI] = []

    def make(model: str, tools: list[Any]) -> Agent[Any]:
        client = AsyncOpenAI(base_url=f"{proxy_url}/v1", api_key="sk-test-agents", max_retries=0)
        clients.append(client)
        return Agent(
            name="assistant",
            instructions="Answer the user.",
            model=OpenAIResponsesModel(model=model, openai_client=client),
            tools=tools,
        )

    yield make
    for client in clients:
        await client.close()


async def run(agent: Agent[Any], prompt: Any, streamed: bool) -> RunResult | RunResultStreaming:
    if not streamed:
        return await Runner.run(agent, prompt)
    result = Runner.run_streamed(agent, prompt)
    async for _ in result.stream_events():
        pass
    return result


def tool_calls(result: RunResult | RunResultStreaming) -> list[Any]:
    return [item.raw_item for item in result.new_items if isinstance(item, ToolCallItem)]


# ---- (a) the hosted code interpreter --------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_a_code_interpreter_run_finishes_in_one_upstream_call(
    agent_for: AgentFactory,
    received: list[ReceivedRequest],
    scenario_text: Callable[..., ScenarioText],
    streamed: bool,
) -> None:
    result = await run(agent_for("qwen3-max-preview", [CODE_INTERPRETER]), QUESTION, streamed)
    assert result.final_output == SEED_ANSWER
    assert len(received) == 1  # nothing was executed locally and sent back
    parameters = received[0].body["parameters"]
    assert (parameters["enable_code_interpreter"], parameters["enable_thinking"]) == (True, True)
    assert "tools" not in parameters
    (call,) = tool_calls(result)
    assert isinstance(call, ResponseCodeInterpreterToolCall)
    assert (call.code, call.status) == (scenario_text("seed_single_run").codes[0], "completed")
    kinds = [item.type for item in result.new_items]
    assert kinds == ["reasoning_item", "tool_call_item", "reasoning_item", "message_output_item"]
    assert "tool_call_output_item" not in kinds


async def test_the_next_turn_sends_the_run_as_history_and_nothing_runs_again(
    agent_for: AgentFactory, received: list[ReceivedRequest]
) -> None:
    agent = agent_for("qwen3-max-preview", [CODE_INTERPRETER])
    first = await Runner.run(agent, QUESTION)
    history = first.to_input_list()
    assert any(item.get("type") == "code_interpreter_call" for item in history)
    second = await Runner.run(agent, [*history, {"role": "user", "content": "Thanks! Again?"}])
    assert second.final_output == SEED_ANSWER
    assert len(received) == 2
    sent = received[1].body["input"]["messages"]
    assert sent == [
        {"role": "system", "content": "Answer the user."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": SEED_ANSWER},
        {"role": "user", "content": "Thanks! Again?"},
    ]


# ---- (b) a local function tool --------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_a_local_function_tool_runs_and_its_result_goes_back_as_a_tool_message(
    agent_for: AgentFactory, received: list[ReceivedRequest], streamed: bool
) -> None:
    cities: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        cities.append(city)
        return f"sunny in {city}"

    agent = agent_for("qwen-plus", [get_weather])
    result = await run(agent, "Weather in Hangzhou? [sim:function_call]", streamed)
    assert result.final_output == WEATHER_ANSWER
    assert cities == ["Hangzhou"]
    (call,) = tool_calls(result)
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.name, call.call_id, json.loads(call.arguments)) == (
        "get_weather",
        WEATHER_CALL_ID,
        {"city": "Hangzhou"},
    )
    assert len(received) == 2
    first, second = (request.body for request in received)
    assert [t["function"]["name"] for t in first["parameters"]["tools"]] == ["get_weather"]
    assert "enable_code_interpreter" not in first["parameters"]
    messages = second["input"]["messages"]
    assert messages[-1] == {
        "role": "tool",
        "content": "sunny in Hangzhou",
        "tool_call_id": WEATHER_CALL_ID,
    }
    assert messages[-2]["role"] == "assistant"
    assert [c["id"] for c in messages[-2]["tool_calls"]] == [WEATHER_CALL_ID]


# ---- failures reach the agent --------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_an_upstream_failure_mid_answer_stops_the_agent_with_dashscope_s_reason(
    agent_for: AgentFactory, streamed: bool
) -> None:
    """Never an empty success: the failure surfaces, whether the SDK streamed or not."""
    agent = agent_for("qwen-plus", [])
    with pytest.raises(Exception, match="inappropriate content") as caught:
        await run(agent, "Hi [sim:error_event_midstream]", streamed)
    expected = ModelBehaviorError if streamed else openai.BadRequestError
    assert isinstance(caught.value, expected)


# ---- (c) web search, with and without a local function tool ---------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_a_function_tool_and_web_search_work_together(
    agent_for: AgentFactory, received: list[ReceivedRequest], streamed: bool
) -> None:
    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    agent = agent_for("qwen-plus", [get_weather, WebSearchTool()])
    result = await run(agent, "Weather in Hangzhou?", streamed)
    assert result.final_output == WEATHER_ANSWER
    first = received[0].body["parameters"]
    assert [t["function"]["name"] for t in first["tools"]] == ["get_weather"]
    assert (first["enable_search"], first["search_options"]["enable_source"]) == (True, True)
    assert len(received) == 2  # the call, then the answer from its result


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_web_search_alone_answers_with_cited_sources(
    agent_for: AgentFactory, received: list[ReceivedRequest], streamed: bool
) -> None:
    result = await run(agent_for("qwen-plus", [WebSearchTool()]), "Weather in Hangzhou?", streamed)
    assert isinstance(result.final_output, str)
    assert "[ref_1]" in result.final_output
    (search,) = tool_calls(result)
    assert isinstance(search, ResponseFunctionWebSearch)
    assert search.status == "completed"
    (message,) = [item.raw_item for item in result.new_items if item.type == "message_output_item"]
    part = message.content[0]
    assert part.type == "output_text"
    urls = [a.url for a in part.annotations if a.type == "url_citation"]
    assert urls == [r["url"] for r in SEARCH_RESULTS]
    assert len(received) == 1
