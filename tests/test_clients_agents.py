"""The OpenAI Agents SDK recipe from docs/clients.md, run as written against the simulator.

Tracing is disabled: it would export to the internet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    set_tracing_disabled,
)
from agents.exceptions import ModelBehaviorError
from openai import AsyncOpenAI

from proxy.simulator import ReceivedRequest

ANSWER = "77269364466549865653073473388030061522211723"
SETTINGS = ModelSettings(extra_body={"enable_code_interpreter": True, "enable_thinking": True})


async def drain(run: Any) -> None:
    async for _ in run.stream_events():
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def _no_tracing() -> None:
    set_tracing_disabled(True)


@pytest.fixture
async def agent_for() -> AsyncIterator[Callable[[str], Agent[Any]]]:
    clients: list[AsyncOpenAI] = []

    def make(base_url: str) -> Agent[Any]:
        client = AsyncOpenAI(base_url=base_url, api_key="sk-test-agents", max_retries=0)
        clients.append(client)
        model = OpenAIChatCompletionsModel(model="qwen3-max-preview", openai_client=client)
        return Agent(
            name="calc",
            instructions="Use the code interpreter.",
            model=model,
            model_settings=SETTINGS,
        )

    yield make
    for client in clients:
        await client.close()


async def test_recipe_runs_with_the_reasoning_representation(
    proxy_url: str, received: list[ReceivedRequest], agent_for: Callable[[str], Agent[Any]]
) -> None:
    result = await Runner.run(agent_for(f"{proxy_url}/ci/reasoning/v1"), "What is 123**21?")
    assert ANSWER in result.final_output
    assert len(received) == 1


async def test_streamed_run_sees_the_code_as_reasoning(
    proxy_url: str, received: list[ReceivedRequest], agent_for: Callable[[str], Agent[Any]]
) -> None:
    run = Runner.run_streamed(agent_for(f"{proxy_url}/ci/reasoning/v1"), "What is 123**21?")
    kinds = [
        event.item.type
        async for event in run.stream_events()
        if event.type == "run_item_stream_event"
    ]
    assert ANSWER in run.final_output
    assert "reasoning_item" in kinds
    assert "tool_call_item" not in kinds
    assert len(received) == 1


async def test_why_the_recipe_needs_it_the_default_representation_aborts_streamed_runs(
    proxy_url: str, agent_for: Callable[[str], Agent[Any]]
) -> None:
    run = Runner.run_streamed(agent_for(f"{proxy_url}/v1"), "What is 123**21?")
    with pytest.raises(ModelBehaviorError, match="code_interpreter"):
        await drain(run)


async def test_the_default_representation_aborts_runs_that_do_not_stream_too(
    proxy_url: str, agent_for: Callable[[str], Agent[Any]]
) -> None:
    with pytest.raises(ModelBehaviorError, match="code_interpreter"):
        await Runner.run(agent_for(f"{proxy_url}/v1"), "What is 123**21?")
