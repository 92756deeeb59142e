"""Golden Responses streams for the tool types beyond `function`: native bodies whose function
calls stand for a namespaced tool, a custom tool and the client-executed built-ins
(tests/golden/responses/tools_*.sse), and the reviewed events a client must get for them
(tools_*.expected.json), with the request's `tools` repeated on the Response as the encoder
reads them. Each obeys the Responses contract, for any byte split, and the openai SDK reads
every item with its own types.

The expected files were written by `main()` once and reviewed by hand; rerun it only to review
a diff: `PYTHONPATH=. python -m tests.test_responses_tools_golden`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from proxy.core.sse import SSEDecoder, encode_named
from proxy.core.wire import Item
from proxy.responses.api import RESPONSES_API
from proxy.responses.request import translate_responses_request
from proxy.responses.stream import ResponseIdentity
from tests.responses_contract import ResponsesResult, check_event_bytes, check_events

GOLDEN_DIR = Path(__file__).parent / "golden" / "responses"
MODEL = "qwen3-coder-plus"
FREEFORM_PATCH: Any = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
}


@dataclass(frozen=True, slots=True)
class ToolCase:
    name: str
    what: str
    tools: list[Any]


CASES = (
    ToolCase(
        "tools_namespace",
        "text, then a call to a tool in a namespace and a plain function call",
        [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            {
                "type": "namespace",
                "name": "multi_agent_v1",
                "description": "Sub-agents.",
                "tools": [{"type": "function", "name": "spawn_agent"}],
            },
        ],
    ),
    ToolCase(
        "tools_custom",
        "a custom (freeform) tool's call, an escape split between fragments",
        [FREEFORM_PATCH],
    ),
    ToolCase(
        "tools_builtins",
        "text, then local_shell, shell and apply_patch calls in parallel",
        [{"type": "local_shell"}, {"type": "shell"}, {"type": "apply_patch"}],
    ),
)
NAMES = [case.name for case in CASES]


def _case(name: str) -> ToolCase:
    return next(case for case in CASES if case.name == name)


def events(name: str, splits: tuple[int, ...] = ()) -> list[Item]:
    body = (GOLDEN_DIR / f"{name}.sse").read_bytes()
    # The Response object repeats what a real request would: the translator's echo.
    request = {"model": MODEL, "input": "hi", "tools": _case(name).tools}
    echo = translate_responses_request(request).extras.echo
    identity = ResponseIdentity("resp_test", 1700000000, MODEL, "test", echo)
    translation = RESPONSES_API.new_translation(identity)
    decoder = SSEDecoder()
    cuts = sorted({cut for cut in splits if 0 < cut < len(body)})
    out: list[Item] = []
    for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True):
        out += translation.feed(decoder.feed(body[a:b]))
    out += translation.feed(decoder.finish())
    return out + translation.finish()


def expected(name: str) -> list[Item]:
    loaded: list[Item] = json.loads((GOLDEN_DIR / f"{name}.expected.json").read_text())["events"]
    return loaded


def result(name: str) -> ResponsesResult:
    wire = b"".join(encode_named(event) for event in events(name))
    return check_event_bytes(wire)


@pytest.mark.parametrize("name", NAMES)
def test_matches_the_reviewed_events(name: str) -> None:
    assert events(name) == expected(name)


@pytest.mark.parametrize("name", NAMES)
def test_the_openai_sdk_reads_every_event(name: str) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    for event in events(name):
        parsed = adapter.validate_python(event)
        assert parsed.type == event["type"]


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(NAMES), splits=st.lists(st.integers(0, 3000), max_size=6))
def test_any_byte_split_gives_the_same_events(name: str, splits: list[int]) -> None:
    assert events(name, tuple(splits)) == expected(name)


def test_a_namespaced_call_comes_back_with_its_name_and_namespace() -> None:
    got = result("tools_namespace")
    spawn, run = got.items("function_call")
    assert (spawn["name"], spawn["namespace"], spawn["call_id"]) == (
        "spawn_agent",
        "multi_agent_v1",
        "call_ns_1",
    )
    assert json.loads(spawn["arguments"]) == {"message": "lint the repo"}
    assert "namespace" not in run
    assert got.calls == [
        ("spawn_agent", {"message": "lint the repo"}),
        ("exec_command", {"cmd": "ls"}),
    ]


def test_a_custom_call_streams_its_input_decoded() -> None:
    got = result("tools_custom")
    patch = '*** Begin Patch\n*** Add File: café.txt\n+h"i"\n*** End Patch'
    assert got.custom_calls == [("apply_patch", patch)]
    deltas = [e["delta"] for e in got.events if e["type"].endswith("custom_tool_call_input.delta")]
    assert len(deltas) == 3, "the input streams as its fragments arrive"
    assert "".join(deltas) == patch


def test_built_in_calls_come_back_as_openai_shapes_them() -> None:
    got = result("tools_builtins")
    (local,) = got.items("local_shell_call")
    (shell,) = got.items("shell_call")
    (patch,) = got.items("apply_patch_call")
    assert local["action"] == {
        "type": "exec",
        "command": ["ls", "-a"],
        "env": {},
        "timeout_ms": 5000,
        "working_directory": "/src",
        "user": None,
    }
    assert shell["action"] == {
        "commands": ["pwd", "git status"],
        "timeout_ms": None,
        "max_output_length": None,
    }
    assert patch["operation"] == {"type": "create_file", "path": "a.txt", "diff": "+hello\n"}
    assert [item["call_id"] for item in (local, shell, patch)] == [
        "call_lsh_1",
        "call_sh_2",
        "call_apc_3",
    ]
    assert got.text == "Three things to do."


def test_the_contract_holds_for_every_case() -> None:
    for name in NAMES:
        assert check_events(events(name)).status == "completed"


def main() -> None:
    for case in CASES:
        document = {"what": case.what, "tools": case.tools, "events": events(case.name)}
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        (GOLDEN_DIR / f"{case.name}.expected.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
