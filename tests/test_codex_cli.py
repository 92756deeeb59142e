"""The real Codex CLI (`@openai/codex`, pinned in tests/node/package-lock.json) end to end.

`codex exec` runs in a temporary folder with `CODEX_HOME` pointing at the config docs/clients.md
gives (update check and analytics off), against the proxy in front of the simulator. The task
carries a simulator directive, so the model calls Codex's `exec_command` with a harmless
command; Codex runs it, sends its output back (a `function_call_output` item, upstream a `tool`
message), and the model's answer quotes it. Both ends are checked: what Codex prints, and what
DashScope received. The tests skip only when `node` or `npm` is missing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.simulator import ReceivedRequest
from proxy.simulator.request_view import text_of
from proxy.simulator.tool_use import ANSWER_PREFIX
from tests.node_packages import NODE_DIR, node_packages

CODEX = NODE_DIR / "node_modules" / "@openai" / "codex" / "bin" / "codex.js"
CLIENTS_MD = Path(__file__).parent.parent / "docs" / "clients.md"
FIXTURE = Path(__file__).parent / "fixtures" / "codex_request.json"
KEY = "sk-fake-codex-key"


@dataclass(frozen=True, slots=True)
class CodexRun:
    stdout: str  # what `codex exec` prints: the final answer
    stderr: str  # its transcript
    returncode: int


CodexExec = Callable[[str], CodexRun]


def codex_config(base_url: str) -> str:
    """The config.toml recipe of docs/clients.md, with the proxy's address put in."""
    recipe = fenced_toml(CLIENTS_MD, "codex-config")
    assert recipe.count("http://127.0.0.1:8000/v1") == 1
    return recipe.replace("http://127.0.0.1:8000/v1", f"{base_url}/v1")


def fenced_toml(path: Path, name: str) -> str:
    """The TOML block after `<!-- recipe:NAME -->` in `path`."""
    text = path.read_text(encoding="utf-8")
    found = re.search(rf"<!-- recipe:{name} -->\n```toml\n(.*?)\n```\n", text, re.DOTALL)
    assert found is not None, f"{path.name} has no recipe {name!r}"
    return found.group(1) + "\n"


@pytest.fixture
def codex_exec(proxy_url: str, tmp_path: Path) -> CodexExec:
    node = node_packages()
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(codex_config(proxy_url), encoding="utf-8")
    env = {
        **os.environ,
        "CODEX_HOME": str(home),
        "DASHSCOPE_API_KEY": KEY,
        "NO_COLOR": "1",
    }

    def run(task: str) -> CodexRun:
        args = ["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"]
        done = subprocess.run(
            [node, str(CODEX), *args, task],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        # The transcript, for a person reading the test's output (`pytest -s`).
        print(f"$ codex {' '.join(args)} {task!r}\n{done.stderr}{done.stdout}")
        return CodexRun(done.stdout, done.stderr, done.returncode)

    return run


def _tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["input"]["messages"] if m["role"] == "tool"]


def test_codex_runs_a_command_the_model_asks_for_and_quotes_its_output(
    codex_exec: CodexExec, received: list[ReceivedRequest]
) -> None:
    token = secrets.token_hex(4)
    # The shell works out 6*7: "42" appears only in what the command printed.
    command = f"echo codex-e2e-$((6*7))-{token}"
    printed = f"codex-e2e-42-{token}"
    directive = json.dumps({"cmd": command})
    run = codex_exec(f"Run a command and tell me its output. [sim-call:exec_command {directive}]")
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"

    # Codex printed the model's final answer, which quotes the command's output.
    assert ANSWER_PREFIX in run.stdout
    assert printed in run.stdout, run.stdout + run.stderr

    # Upstream: the first request offered Codex's tools as functions (the namespace's tools
    # joined to their namespace) and got the call; the second carried the call and Codex's
    # output of the command as a tool message.
    first, second = (r.body for r in received)
    names = {tool["function"]["name"] for tool in first["parameters"]["tools"]}
    assert {"exec_command", "write_stdin", "multi_agent_v1__spawn_agent"} <= names
    assert _tool_messages(first) == []
    (assistant,) = [m for m in second["input"]["messages"] if m.get("tool_calls")]
    (call,) = assistant["tool_calls"]
    assert call["function"]["name"] == "exec_command"
    assert json.loads(call["function"]["arguments"]) == {"cmd": command}
    (result,) = _tool_messages(second)
    assert result["tool_call_id"] == call["id"]
    assert printed in text_of(result["content"])
    # Codex's developer instructions became system messages; its `web_search` tool (live
    # access, as Codex sends it with approvals and sandbox bypassed) turned on the search.
    assert second["input"]["messages"][0]["role"] == "system"
    assert second["parameters"]["enable_search"] is True


@pytest.mark.parametrize("live", [True, False])
def test_the_captured_codex_request_translates(
    proxy_url: str, received: list[ReceivedRequest], live: bool
) -> None:
    """The request the pinned Codex sent (tests/fixtures/codex_request.json, captured from
    `codex exec`) is accepted whole: every field and tool passed, mapped or reported. Its
    `web_search` tool searches live with `external_web_access: true` (as captured) and not at
    all with `false` (Codex's cached mode: DashScope has none), which the notes say."""
    body = json.loads(FIXTURE.read_text(encoding="utf-8"))
    body["input"].append({"role": "user", "content": "[sim:plain_text]"})
    (search,) = [i for i, tool in enumerate(body["tools"]) if tool["type"] == "web_search"]
    body["tools"][search]["external_web_access"] = live
    with httpx.Client(base_url=proxy_url, timeout=30) as http:
        response = http.post("/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    notes = response.headers["x-dashscope-proxy-notes"]
    for reported in ("client_metadata", "prompt_cache_key", "developer"):
        assert reported in notes, notes
    (upstream,) = (r.body["parameters"] for r in received)
    assert len(upstream["tools"]) == len(body["tools"]) - 1 + _namespaced(body["tools"])
    if live:
        assert upstream["enable_search"] is True
        assert upstream["search_options"]["enable_source"] is True
        assert "web_search" not in notes, notes
    else:
        assert "enable_search" not in upstream
        assert f"tools[{search}]: no live web search (external_web_access is false" in notes


def _namespaced(tools: list[dict[str, Any]]) -> int:
    """How many more functions than tools a request offers: a namespace's tools are one each."""
    return sum(len(tool["tools"]) - 1 for tool in tools if tool["type"] == "namespace")
