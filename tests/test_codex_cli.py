"""The real Codex CLI (`@openai/codex`, pinned in tests/node/package-lock.json) end to end.

`codex exec` runs in a temporary folder with `CODEX_HOME` pointing at the config docs/clients.md
gives (update check and analytics off), against the proxy in front of the simulator. The task
carries a simulator directive, so the model calls Codex's `exec_command` with a harmless
command; Codex runs it, sends its output back (a `function_call_output` item, upstream a `tool`
message), and the model's answer quotes it. With the model catalog of docs/clients.md, Codex
sends `apply_patch` as a freeform `custom` tool, and a `custom_tool_call` carrying a patch is
applied by Codex the same way. Both ends are checked: what Codex prints (and writes), and what
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
# Captured from the same `codex exec` with docs/clients.md's model catalog: `apply_patch` is a
# `custom` tool with a Lark grammar there.
FIXTURE_FREEFORM = Path(__file__).parent / "fixtures" / "codex_request_freeform.json"
KEY = "sk-fake-codex-key"


@dataclass(frozen=True, slots=True)
class CodexRun:
    stdout: str  # what `codex exec` prints: the final answer
    stderr: str  # its transcript
    returncode: int
    work: Path  # the folder it ran in


CodexExec = Callable[[str], CodexRun]


def codex_config(base_url: str) -> str:
    """The config.toml recipe of docs/clients.md, with the proxy's address put in."""
    recipe = fenced(CLIENTS_MD, "codex-config", "toml")
    assert recipe.count("http://127.0.0.1:8000/v1") == 1
    return recipe.replace("http://127.0.0.1:8000/v1", f"{base_url}/v1")


def fenced(path: Path, name: str, language: str) -> str:
    """The `language` block after `<!-- recipe:NAME -->` in `path`."""
    text = path.read_text(encoding="utf-8")
    found = re.search(rf"<!-- recipe:{name} -->\n```{language}\n(.*?)\n```\n", text, re.DOTALL)
    assert found is not None, f"{path.name} has no recipe {name!r}"
    return found.group(1) + "\n"


def _runner(home: Path, work: Path) -> CodexExec:
    node = node_packages()
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
        return CodexRun(done.stdout, done.stderr, done.returncode, work)

    return run


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    return home, work


@pytest.fixture
def codex_exec(proxy_url: str, tmp_path: Path) -> CodexExec:
    home, work = _folders(tmp_path)
    (home / "config.toml").write_text(codex_config(proxy_url), encoding="utf-8")
    return _runner(home, work)


@pytest.fixture
def codex_exec_freeform(proxy_url: str, tmp_path: Path) -> CodexExec:
    """Codex configured as docs/clients.md's freeform `apply_patch` section says: the catalog
    line at the top of config.toml, the catalog beside it."""
    home, work = _folders(tmp_path)
    line = fenced(CLIENTS_MD, "codex-catalog-line", "toml")
    (home / "config.toml").write_text(line + codex_config(proxy_url), encoding="utf-8")
    catalog = fenced(CLIENTS_MD, "codex-catalog", "json")
    (home / "qwen-models.json").write_text(catalog, encoding="utf-8")
    return _runner(home, work)


def _tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["input"]["messages"] if m["role"] == "tool"]


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """What DashScope saw of one tool call Codex ran: the functions the first request offered,
    the call the second request carried, and Codex's output sent with it."""

    offered: set[str]
    call: dict[str, Any]  # its `function`: name and arguments
    output: str
    second: dict[str, Any]  # the second request's body


def _round_trip(received: list[ReceivedRequest]) -> RoundTrip:
    first, second = (r.body for r in received)
    assert _tool_messages(first) == []
    (assistant,) = [m for m in second["input"]["messages"] if m.get("tool_calls")]
    (call,) = assistant["tool_calls"]
    (result,) = _tool_messages(second)
    assert result["tool_call_id"] == call["id"]
    offered = {tool["function"]["name"] for tool in first["parameters"]["tools"]}
    return RoundTrip(offered, call["function"], text_of(result["content"]), second)


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
    trip = _round_trip(received)
    assert {"exec_command", "write_stdin", "multi_agent_v1__spawn_agent"} <= trip.offered
    assert trip.call["name"] == "exec_command"
    assert json.loads(trip.call["arguments"]) == {"cmd": command}
    assert printed in trip.output
    second = trip.second
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


def test_the_captured_freeform_codex_request_offers_apply_patch_as_one_string(
    proxy_url: str, received: list[ReceivedRequest]
) -> None:
    """With the model catalog, Codex's `apply_patch` is a `custom` tool with a Lark grammar
    (tests/fixtures/codex_request_freeform.json): upstream it is a function of one string, the
    grammar in its description, beside Codex's other tools."""
    body = json.loads(FIXTURE_FREEFORM.read_text(encoding="utf-8"))
    (custom,) = [tool for tool in body["tools"] if tool["type"] == "custom"]
    assert (custom["name"], custom["format"]["syntax"]) == ("apply_patch", "lark")
    body["input"].append({"role": "user", "content": "[sim:plain_text]"})
    with httpx.Client(base_url=proxy_url, timeout=30) as http:
        response = http.post("/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    (upstream,) = (r.body["parameters"] for r in received)
    offered = {tool["function"]["name"]: tool["function"] for tool in upstream["tools"]}
    assert {"exec_command", "write_stdin", "multi_agent_v1__spawn_agent"} <= set(offered)
    patch = offered["apply_patch"]
    assert list(patch["parameters"]["properties"]) == ["input"]
    assert patch["parameters"]["properties"]["input"]["type"] == "string"
    assert custom["format"]["definition"] in patch["description"]


def test_codex_applies_the_patch_of_a_freeform_apply_patch_call(
    codex_exec_freeform: CodexExec, received: list[ReceivedRequest]
) -> None:
    """The model sends a `custom_tool_call` to `apply_patch` (a simulator directive gives the
    patch); Codex applies it to its folder, sends its report back as a
    `custom_tool_call_output`, upstream a tool message, and the answer quotes the report."""
    token = secrets.token_hex(4)
    patch = f"*** Begin Patch\n*** Add File: hello.txt\n+hello {token}\n*** End Patch\n"
    directive = json.dumps({"input": patch})
    run = codex_exec_freeform(f"Add a file hello.txt. [sim-call:apply_patch {directive}]")
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    # Codex read the catalog: no warning about missing metadata for the model.
    assert "Model metadata for" not in run.stderr

    # Codex applied the patch the model sent.
    assert (run.work / "hello.txt").read_text(encoding="utf-8") == f"hello {token}\n"

    trip = _round_trip(received)
    assert {"apply_patch", "exec_command"} <= trip.offered
    assert trip.call["name"] == "apply_patch"
    assert json.loads(trip.call["arguments"]) == {"input": patch}
    applied = "Success. Updated the following files:\nA hello.txt"
    assert applied in trip.output
    # The final answer quotes Codex's report of the patch.
    assert ANSWER_PREFIX in run.stdout
    assert applied in run.stdout, run.stdout + run.stderr
