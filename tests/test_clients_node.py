"""The real openai-node SDK (pinned in tests/node/package-lock.json) against the proxy.

`tests/node/code_interpreter.mjs` sends the vendor page's code-interpreter request and prints
what the SDK gave it as JSON: `raw` iterates the chunks, `helper` uses `chat.completions.stream()`
and `finalChatCompletion()`. The default `tool_calls` representation is the one to recommend for
the Node SDK (7.x keeps the call; 5.13-6.x only throws on non-`function` types, and ours are
`function`). The `reasoning` representation is chosen by base URL path, as apps that let a user
set nothing but a base URL do.

The Node deps are installed by `npm ci` in the session fixture, only when `tests/node/node_modules`
is missing or does not match the lock file. The tests skip only when `node` or `npm` is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.simulator import ReceivedRequest
from proxy.simulator.feature_scripts import SEARCH_RESULTS
from tests.conftest import ScenarioText, exclusive

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "code_interpreter.mjs"
VERCEL_SCRIPT = NODE_DIR / "vercel_reasoning.mjs"  # the Vercel AI SDK on the Responses API
FENCED_CODE = re.compile(r"```python[ \t]*\n123\*\*21[ \t]*\n```")

NodeRun = Callable[..., dict[str, Any]]  # (mode, base_url, script=SCRIPT)


def _installed_matches_lock() -> bool:
    """Every package the lock file names is installed, at the locked version."""
    lock = json.loads((NODE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    for path, entry in lock["packages"].items():
        if not path.startswith("node_modules/"):
            continue
        manifest = NODE_DIR / path / "package.json"
        if not manifest.is_file():
            return False
        if json.loads(manifest.read_text(encoding="utf-8")).get("version") != entry["version"]:
            return False
    return True


@pytest.fixture(scope="session")
def node_sdk() -> NodeRun:
    """`node_sdk(mode, base_url, script=SCRIPT)`: run a Node script, return its JSON output."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the openai-node tests need `node` and `npm` on PATH")
    # Checked and installed under a lock: another xdist worker or pytest run may be doing the
    # same, and two `npm ci` into one node_modules break each other.
    with exclusive(NODE_DIR / "package-lock.json"):
        if not _installed_matches_lock():
            install = subprocess.run(
                [npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if install.returncode != 0:
                pytest.fail(f"npm ci failed:\n{install.stdout}\n{install.stderr}")

    def run(mode: str, base_url: str, script: Path = SCRIPT) -> dict[str, Any]:
        done = subprocess.run(
            [node, str(script), mode, base_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert done.returncode == 0, f"node {mode} {base_url}: {done.stdout}\n{done.stderr}"
        output: dict[str, Any] = json.loads(done.stdout)
        return output

    return run


@pytest.fixture
def seed(scenario_text: Callable[..., ScenarioText]) -> ScenarioText:
    text = scenario_text("seed_single_run")
    assert text.codes == ("123**21",)
    return text


# ---- the default representation: tool_calls -------------------------------------------------


def test_raw_iteration_collects_reasoning_one_call_and_the_answer(
    node_sdk: NodeRun, proxy_url: str, seed: ScenarioText
) -> None:
    out = node_sdk("raw", f"{proxy_url}/v1")
    assert out["roles"] == ["assistant"]
    assert out["reasoning"] == seed.reasoning
    assert out["content"] == seed.content
    (call,) = out["toolCalls"]
    assert call["types"] == ["function"]
    assert call["names"] == ["code_interpreter"]
    assert len(call["ids"]) == 1
    assert call["ids"][0].startswith("call_ci_")
    assert call["parsed"] == {"code": "123**21"}
    assert out["finishReasons"] == ["stop"]
    usage = out["usage"]  # the include_usage chunk (`choices: []`) came through the iterator
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_final_chat_completion_has_the_call_and_the_answer(
    node_sdk: NodeRun, proxy_url: str, seed: ScenarioText
) -> None:
    out = node_sdk("helper", f"{proxy_url}/v1")
    (choice,) = out["completion"]["choices"]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"] == seed.content
    (call,) = message["tool_calls"]
    assert call["id"].startswith("call_ci_")
    assert call["type"] == "function"
    assert call["function"]["name"] == "code_interpreter"
    assert json.loads(call["function"]["arguments"]) == {"code": "123**21"}
    assert out["argumentsDone"] == [
        {"name": "code_interpreter", "index": 0, "arguments": call["function"]["arguments"]}
    ]
    # The helper merges unknown delta keys with Object.assign: only the last reasoning fragment
    # survives. Raw iteration is the way to get all of it in Node.
    assert message["reasoning_content"]
    assert seed.reasoning.endswith(message["reasoning_content"])


# ---- the reasoning representation, chosen by base URL path ----------------------------------


def test_raw_iteration_with_reasoning_path_has_the_code_in_reasoning(
    node_sdk: NodeRun, proxy_url: str, seed: ScenarioText
) -> None:
    out = node_sdk("raw", f"{proxy_url}/ci/reasoning/v1")
    assert out["toolCalls"] == []
    assert out["content"] == seed.content
    assert out["finishReasons"] == ["stop"]
    reasoning = out["reasoning"]
    assert len(FENCED_CODE.findall(reasoning)) == 1, reasoning
    # The model's own thinking is all still there, around the block.
    thinking = FENCED_CODE.sub("", reasoning)
    assert thinking.startswith(seed.reasoning[:40])
    assert thinking.endswith(seed.reasoning[-40:])


def test_final_chat_completion_with_reasoning_path_has_no_tool_calls(
    node_sdk: NodeRun, proxy_url: str, seed: ScenarioText
) -> None:
    out = node_sdk("helper", f"{proxy_url}/ci/reasoning/v1")
    (choice,) = out["completion"]["choices"]
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"] == seed.content
    assert not message.get("tool_calls")
    assert out["argumentsDone"] == []
    assert isinstance(message["reasoning_content"], str)


# ---- the Vercel AI SDK on the Responses API -------------------------------------------------


def test_vercel_ai_sdk_shows_the_thinking_as_a_reasoning_summary(
    node_sdk: NodeRun,
    proxy_url: str,
    received: list[ReceivedRequest],
    scenario_text: Callable[..., ScenarioText],
) -> None:
    """The SDK shows only reasoning summaries: with `reasoningSummary` it gets the thinking."""
    plain = scenario_text("plain_text")
    out = node_sdk("reasoning", f"{proxy_url}/v1", VERCEL_SCRIPT)
    assert out["parts"].index("reasoning-delta") < out["parts"].index("text-delta")
    assert out["reasoning"] == out["reasoningText"] == plain.reasoning
    assert out["text"] == plain.content
    assert received[-1].body["parameters"]["enable_thinking"] is True


def test_vercel_ai_sdk_web_search_gives_sources(
    node_sdk: NodeRun, proxy_url: str, received: list[ReceivedRequest]
) -> None:
    out = node_sdk("search", f"{proxy_url}/v1", VERCEL_SCRIPT)
    assert [source["url"] for source in out["sources"]] == [r["url"] for r in SEARCH_RESULTS]
    assert "[ref_1]" in out["text"]
    assert received[-1].body["parameters"]["enable_search"] is True
