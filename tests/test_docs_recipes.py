"""The Python recipes in docs/clients.md, run exactly as written against
`dashscope-proxy demo --serve`, as a new user would: only the port differs.

Tracing is disabled by the recipes themselves (it would export to the internet). Each recipe
runs with every proxy variable pointing at a closed loopback port, loopback itself excepted, so
a library that reaches for the internet (a tokenizer download, telemetry) fails the test
instead of leaving the machine. instructor and llama-index run under the Python of their own
venvs (tests/client_venvs.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client_venvs import client_python
from tests.conftest import fenced_python, free_port

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "docs" / "clients.md"
DOCS_URL = "http://127.0.0.1:8000/v1"
SEED_ANSWER = "77269364466549865653073473388030061522211723"


def recipe(name: str) -> str:
    """The Python block that follows `<!-- recipe:NAME -->` in docs/clients.md."""
    return fenced_python(CLIENTS, name, DOCS_URL)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "proxy", "demo", "--serve", "--port", str(port)],
            cwd=log.parent,  # the demo's traffic log lands here, not in the work tree
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )
    try:
        _wait_until_listening(port, demo)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        demo.terminate()
        demo.wait(timeout=30)


def _wait_until_listening(port: int, demo: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # bounded: 60 s
        if demo.poll() is not None:
            pytest.fail("dashscope-proxy demo --serve exited before it was ready")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail("dashscope-proxy demo --serve did not start listening")


# Port 9 (discard) is closed here: whatever goes through a proxy fails at once.
_NOWHERE = "http://127.0.0.1:9"
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
LOOPBACK_ONLY = {
    **dict.fromkeys(_PROXIES, _NOWHERE),
    **dict.fromkeys(("NO_PROXY", "no_proxy"), "127.0.0.1,localhost"),
}


def run_recipe(name: str, url: str, python: Path | str = sys.executable) -> list[str]:
    code = recipe(name).replace(DOCS_URL, url)
    done = subprocess.run(
        [str(python), "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **LOOPBACK_ONLY},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_python_sdk_recipe_shows_thinking_code_and_answer(demo_url: str) -> None:
    lines = run_recipe("responses-python", demo_url)
    # Thinking, the run, thinking about its result, then the answer.
    assert lines[0].startswith("thought: ")
    assert lines[1] == "ran: 123**21"
    assert lines[2].startswith("thought: ")
    assert lines[3:6] == ["answer: 123 to the power of 21 is:", "", SEED_ANSWER]
    # Then the streamed code deltas, and the helper's final response with usage.
    assert lines[6] == "123**21"
    assert lines[7:9] == ["answer: 123 to the power of 21 is:", ""]
    assert lines[9].startswith(SEED_ANSWER + " | tokens: ")


def test_the_agents_recipe_runs_both_agents_without_executing_the_hosted_run(
    demo_url: str,
) -> None:
    lines = run_recipe("agents-responses", demo_url)
    assert lines[0] == "DashScope ran: 123**21"
    out = "\n".join(lines)
    assert SEED_ANSWER in out
    # The function agent called get_weather locally and answered from its result.
    assert lines[-1] == "answer: It is sunny in Hangzhou."


def test_the_pydantic_ai_recipe_calls_the_tool_and_answers_from_it(demo_url: str) -> None:
    lines = run_recipe("pydantic-ai", demo_url)
    # The simulator called the declared tool with arguments from its schema, pydantic-ai ran
    # it, and the answer quotes what it returned.
    assert lines == [
        'called: get_time {"city": "example"}',
        "answer: The tool returned: It is 09:30 in example.",
    ]


def test_the_langgraph_interpreter_recipe_shows_the_run_and_leaves_nothing_to_execute(
    demo_url: str,
) -> None:
    lines = run_recipe("langchain-responses-interpreter", demo_url)
    assert lines[0] == "ran: 123**21"
    assert lines[1] == "answer: 123 to the power of 21 is:"
    assert SEED_ANSWER in lines
    # The agent stopped after the model's one turn: it found no tool call to execute.
    assert lines[-1] == "model turns: 1"


def test_the_langchain_structured_output_recipe_fills_the_model(demo_url: str) -> None:
    lines = run_recipe("langchain-structured", demo_url)
    assert lines == ["City(name='example', population=1)"]


CITY = "City(name='example', population=1, districts=[District(name='example')])"


def test_the_instructor_recipe_validates_the_forced_call_into_the_model(demo_url: str) -> None:
    """instructor's TOOLS mode forces the model's function; the simulator's arguments, made
    from the schema (the nested model through `$defs`, `gt=0`), validate into `City`."""
    lines = run_recipe("instructor-tools", demo_url, client_python("instructor"))
    assert lines == [CITY]


def test_the_llama_index_recipe_builds_the_model_from_the_function_call(demo_url: str) -> None:
    lines = run_recipe("llama-index-structured", demo_url, client_python("llama-index"))
    assert lines == [CITY]
