"""Native frames no golden holds, through both translations: a function call named before its
arguments arrive, and junk among the tool calls. Plus the Responses field table printed by
`python -m proxy.responses.fields`, as docs/fields.md is regenerated, and the error of a failed
Response when the proxy's error carries no code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from proxy.core.errors import ProxyError
from proxy.responses.fields import render_markdown
from proxy.responses.items import response_error
from tests import golden_tools, responses_helpers
from tests.contract import check_chunks
from tests.responses_contract import check_events

ROOT = Path(__file__).resolve().parent.parent
MODEL = "qwen-plus"
USAGE = {"input_tokens": 20, "output_tokens": 9, "total_tokens": 29}


def native_body(*messages: dict[str, Any], finish: str = "tool_calls") -> bytes:
    """A native stream, one frame per message; the last frame carries `finish`."""
    frames = []
    for n, message in enumerate(messages, start=1):
        reason = finish if n == len(messages) else "null"
        choice = {"message": {"role": "assistant", "content": "", **message}, "index": 0}
        output = {"choices": [{**choice, "finish_reason": reason}]}
        data = json.dumps({"output": output, "usage": USAGE, "request_id": "req-edges"})
        frames.append(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n")
    return "".join(frames).encode()


def weather_call(arguments: str, **extra: Any) -> dict[str, Any]:
    function = {"name": "get_weather", "arguments": arguments}
    return {"index": 0, "id": "call_w", "type": "function", "function": function, **extra}


NAMED_FIRST = native_body(
    {"tool_calls": [weather_call("")]},
    {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
    {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
)
WITH_JUNK = native_body(
    {"tool_calls": ["not a call", None, 7, weather_call('{"city": "Oslo"}')]},
)


def test_a_call_named_before_its_arguments_gives_one_responses_call() -> None:
    outcome = responses_helpers.translate(NAMED_FIRST, MODEL)
    assert outcome.error is None
    result = check_events(outcome.events)
    assert result.calls == [("get_weather", {"city": "Paris"})]
    deltas = [
        event["delta"]
        for event in result.events
        if event["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == ['{"city": ', '"Paris"}'], "no empty delta for the frame without arguments"


def test_a_call_named_before_its_arguments_gives_one_chat_call() -> None:
    outcome = golden_tools.translate(NAMED_FIRST, MODEL)
    assert outcome.error is None
    message = check_chunks(outcome.chunks, include_usage=True)["choices"][0]["message"]
    (call,) = message["tool_calls"]
    assert (call["id"], call["function"]["name"]) == ("call_w", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_junk_among_the_tool_calls_is_skipped_on_both_apis() -> None:
    chat = golden_tools.translate(WITH_JUNK, MODEL)
    message = check_chunks(chat.chunks, include_usage=True)["choices"][0]["message"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather"]
    responses = check_events(responses_helpers.translate(WITH_JUNK, MODEL).events)
    assert responses.calls == [("get_weather", {"city": "Oslo"})]


def test_the_responses_field_table_prints_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "proxy.responses.fields"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == render_markdown()
    assert "| `parallel_tool_calls` |" in done.stdout


class Codeless(ProxyError):
    """An error class that names no code (`ProxyError.code` may be None)."""

    code = None


def test_a_failure_without_a_code_is_told_by_its_message_alone() -> None:
    error = response_error(Codeless("the upstream went away", status=502))
    assert error == {"code": "server_error", "message": "the upstream went away"}
