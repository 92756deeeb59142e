"""The Responses API's tool types and tool choices -> DashScope functions, and the calls that
come back (proxy/responses/tools.py, tool_choice.py, tool_calls.py): what goes upstream, the
400s that name the tool and the alternative, and the encoder's items for calls cut short or
malformed. The golden streams (tests/test_responses_tools_golden.py) hold the well-formed calls.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from openai.types.responses.tool import Tool

from proxy.core.errors import InvalidRequest, UpstreamError
from proxy.core.events import ContentDelta, Event, Finish, FunctionCallDelta, Usage
from proxy.core.wire import Item
from proxy.responses.fields import TOOL_ROWS, render_markdown
from proxy.responses.request import translate_responses_request
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder
from proxy.responses.tool_calls import InputDecoder, custom_input
from proxy.responses.tools import REFUSED, tool_table
from tests.responses_contract import check_events

BASE: dict[str, Any] = {"model": "qwen3-coder-plus", "input": "hi"}
FN: Any = {"type": "function", "name": "run", "parameters": {"type": "object"}}
NAMESPACE: Any = {
    "type": "namespace",
    "name": "agents",
    "description": "Sub-agents.",
    "tools": [
        {"type": "function", "name": "spawn", "description": "Start one."},
        {"type": "custom", "name": "script"},
    ],
}
GRAMMAR: Any = {
    "type": "custom",
    "name": "patch",
    "description": "Edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: LINE+"},
}
REGEX: Any = {
    "type": "custom",
    "name": "date",
    "format": {"type": "grammar", "syntax": "regex", "definition": r"\d{4}-\d{2}-\d{2}"},
}
BUILT_INS: Any = [{"type": "local_shell"}, {"type": "shell"}, {"type": "apply_patch"}]
ALL_TOOLS: Any = [FN, NAMESPACE, GRAMMAR, REGEX, *BUILT_INS]


def translated(**fields: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    plan = translate_responses_request({**BASE, **fields})
    return plan.body["parameters"], plan.notes


def functions(**fields: Any) -> dict[str, dict[str, Any]]:
    parameters, _ = translated(**fields)
    return {tool["function"]["name"]: tool["function"] for tool in parameters.get("tools", [])}


def refused(param: str, match: str | None = None, **fields: Any) -> str:
    with pytest.raises(InvalidRequest, match=match) as caught:
        translate_responses_request({**BASE, **fields})
    assert caught.value.param == param
    return caught.value.message


# ---- tools -----------------------------------------------------------------------------------


def test_every_client_tool_is_offered_as_a_function_named_as_the_table_says() -> None:
    offered = functions(tools=ALL_TOOLS)
    assert list(offered) == [
        "run",
        "agents__spawn",
        "agents__script",
        "patch",
        "date",
        "local_shell",
        "shell",
        "apply_patch",
    ]
    assert offered["run"] == {"name": "run", "parameters": {"type": "object"}}
    assert offered["agents__spawn"] == {"name": "agents__spawn", "description": "Start one."}
    one_string = {"input": {"type": "string", "description": "the tool's free-text input"}}
    for name in ("agents__script", "patch", "date"):
        assert offered[name]["parameters"]["properties"] == one_string
        assert offered[name]["parameters"]["required"] == ["input"]
    # The grammar is described where the model reads it: DashScope cannot constrain output.
    assert offered["patch"]["description"].startswith("Edit files.\n\n")
    assert "this lark grammar:\nstart: LINE+" in offered["patch"]["description"]
    assert "this regular expression:\n\\d{4}-\\d{2}-\\d{2}" in offered["date"]["description"]
    assert offered["agents__script"]["description"] == (
        "Put the whole input, as free text, in `input`."
    )
    assert offered["local_shell"]["parameters"]["required"] == ["command"]
    assert offered["shell"]["parameters"]["required"] == ["commands"]
    assert offered["apply_patch"]["parameters"]["required"] == ["type", "path"]


def test_tools_and_parallel_calls_as_openai_defaults() -> None:
    parameters, notes = translated(tools=[GRAMMAR])
    assert parameters["parallel_tool_calls"] is True
    assert notes == ()


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview", "web_search_2025_08_26"])
def test_web_search_tools_turn_on_search_next_to_the_client_tools(kind: str) -> None:
    parameters, notes = translated(tools=[FN, {"type": kind}])
    assert list(functions(tools=[FN, {"type": kind}])) == ["run"]
    assert parameters["enable_search"] is True
    assert parameters["search_options"]["enable_citation"] is True
    assert notes == ()


def test_codex_web_search_without_live_access_searches_nothing_and_says_so() -> None:
    """Codex sends `web_search` in every request, `external_web_access` false unless live
    search is on: its functions still go upstream, and nothing is searched."""
    tool = {"type": "web_search", "external_web_access": False}
    parameters, notes = translated(tools=[FN, tool])
    assert list(functions(tools=[FN, tool])) == ["run"]
    assert "enable_search" not in parameters
    assert notes == (
        "tools[1]: no live web search (external_web_access is false, and DashScope's search "
        "has no cached-only mode)",
    )
    parameters, notes = translated(tools=[FN, {**tool, "external_web_access": True}])
    assert (parameters["enable_search"], notes) == (True, ())


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_tools_dashscope_cannot_back_are_a_400_naming_the_tool_and_the_alternative(
    kind: str,
) -> None:
    message = refused("tools[1]", tools=[FN, {"type": kind}])
    assert f"'tools[1]' has type '{kind}'" in message
    assert REFUSED[kind] in message


def test_an_unknown_tool_type_is_a_400_listing_what_the_proxy_offers() -> None:
    message = refused("tools[0]", tools=[{"type": "teleport"}])
    assert "function, namespace, custom" in message
    refused("tools[0]", tools=["run"])


def test_client_tools_cannot_join_the_code_interpreter() -> None:
    refused("tools", tools=[{"type": "shell"}, {"type": "code_interpreter"}])


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([{**NAMESPACE, "tools": []}], "tools[0].tools"),
        ([{**NAMESPACE, "tools": [{"type": "shell"}]}], "tools[0].tools[0]"),
        ([{**NAMESPACE, "tools": ["spawn"]}], "tools[0].tools[0]"),
        ([{**NAMESPACE, "name": ""}], "tools[0].name"),
        ([{**NAMESPACE, "tools": [{"type": "function"}]}], "tools[0].tools[0].name"),
        ([{"type": "custom"}], "tools[0].name"),
    ],
)
def test_malformed_namespaces_and_custom_tools_are_a_400(tools: Any, param: str) -> None:
    refused(param, tools=tools)


@pytest.mark.parametrize(
    "tools",
    [
        [{"type": "function", "name": "agents__spawn"}, NAMESPACE],
        [{"type": "function", "name": "shell"}, {"type": "shell"}],
        [FN, FN],
    ],
)
def test_two_tools_one_upstream_name_is_a_400_naming_both(tools: Any) -> None:
    message = refused("tools[1]" if tools[1] is not NAMESPACE else "tools[1].tools[0]", tools=tools)
    assert "as 'tools[0]' does" in message


def test_the_table_the_encoder_reads_ignores_what_a_request_would_refuse() -> None:
    assert tool_table([FN, FN]) == {}
    assert tool_table(None) == {}
    assert tool_table(ALL_TOOLS)["agents__spawn"].namespace == "agents"


def test_the_tool_table_covers_every_type_of_the_sdks_tool_union() -> None:
    union = get_args(get_args(Tool)[0])
    kinds = {kind for model in union for kind in get_args(model.model_fields["type"].annotation)}
    documented = " ".join(kind for kind, *_ in TOOL_ROWS)
    for kind in kinds:
        assert f"`{kind}`" in documented, f"docs/fields.md has no row for tool type {kind}"
    assert "| `namespace` | mapped |" in render_markdown()


# ---- tool_choice -----------------------------------------------------------------------------


def _choice(choice: Any, tools: Any = ALL_TOOLS, **fields: Any) -> tuple[Any, tuple[str, ...]]:
    parameters, notes = translated(tool_choice=choice, tools=tools, **fields)
    return parameters.get("tool_choice"), notes


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ({"type": "function", "name": "run"}, _named("run")),
        ({"type": "function", "name": "spawn", "namespace": "agents"}, _named("agents__spawn")),
        ({"type": "custom", "name": "patch"}, _named("patch")),
        ({"type": "custom", "name": "script", "namespace": "agents"}, _named("agents__script")),
        ({"type": "local_shell"}, _named("local_shell")),
        ({"type": "shell"}, _named("shell")),
        ({"type": "apply_patch"}, _named("apply_patch")),
        ("auto", "auto"),
        ("none", "none"),
    ],
)
def test_a_named_tool_of_any_type_is_its_function_by_name(choice: Any, sent: Any) -> None:
    assert _choice(choice) == (sent, ())


def test_tool_choice_is_read_after_tools_whatever_the_order() -> None:
    body = {"tool_choice": {"type": "custom", "name": "patch"}, **BASE, "tools": [GRAMMAR]}
    assert translate_responses_request(body).body["parameters"]["tool_choice"] == _named("patch")


def test_required_with_one_client_tool_is_that_tool() -> None:
    assert _choice("required", [{"type": "shell"}]) == (
        _named("shell"),
        ("tool_choice: required sent as the only tool, by name",),
    )


def test_the_code_interpreter_cannot_be_forced() -> None:
    sent, notes = _choice({"type": "code_interpreter"}, [FN])
    assert sent == "auto"
    assert notes[-1] == "tool_choice: code_interpreter sent as auto (DashScope cannot force it)"


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview"])
def test_a_web_search_choice_forces_the_search_and_leaves_the_functions_free(kind: str) -> None:
    parameters, notes = translated(tool_choice={"type": kind}, tools=[FN, {"type": kind}])
    assert parameters["search_options"]["forced_search"] is True
    assert [t["function"]["name"] for t in parameters["tools"]] == ["run"]
    assert ("tool_choice" not in parameters, notes) == (True, ())
    sent, notes = _choice({"type": kind}, [FN])  # no search tool: nothing to force
    assert sent is None
    assert notes == ("tool_choice: dropped (it names a web search that searches nothing)",)


def test_allowed_tools_offers_only_the_allowed_ones() -> None:
    allowed = [{"type": "custom", "name": "patch"}, {"type": "shell"}, {"type": "web_search"}]
    choice = {"type": "allowed_tools", "mode": "auto", "tools": allowed}
    parameters, notes = translated(tool_choice=choice, tools=ALL_TOOLS)
    assert [t["function"]["name"] for t in parameters["tools"]] == ["patch", "shell"]
    assert parameters["tool_choice"] == "auto"
    assert notes == ("tool_choice: allowed_tools sent as 2 of 8 function(s), mode auto",)


def test_allowed_tools_required_with_one_tool_forces_it() -> None:
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "apply_patch"}]}
    parameters, notes = translated(tool_choice=choice, tools=ALL_TOOLS)
    assert parameters["tool_choice"] == _named("apply_patch")
    assert notes[-1] == "tool_choice: required sent as the only tool, by name"


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview"])
def test_allowed_tools_requiring_only_web_search_forces_the_search(kind: str) -> None:
    """Only the search may be called, and a call is required: DashScope's forced search, with
    no function offered and no `tool_choice` that would let the model skip the search."""
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": kind}]}
    parameters, notes = translated(tool_choice=choice, tools=[FN, {"type": kind}])
    assert parameters["enable_search"] is True
    assert parameters["search_options"]["forced_search"] is True
    assert "tools" not in parameters
    assert "tool_choice" not in parameters
    assert notes == (
        "tool_choice: allowed_tools sent as 0 of 1 function(s), mode required as "
        "search_options.forced_search",
    )


def test_allowed_tools_requiring_a_search_that_searches_nothing_is_dropped() -> None:
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "web_search"}]}
    cached = {"type": "web_search", "external_web_access": False}
    parameters, notes = translated(tool_choice=choice, tools=[FN, cached])
    assert ("enable_search" in parameters, "tool_choice" in parameters) == (False, False)
    assert notes[-1] == "tool_choice: dropped (it names a web search that searches nothing)"


@pytest.mark.parametrize(
    ("allowed", "sent"),
    [
        ([{"type": "web_search"}, {"type": "code_interpreter"}], "auto"),
        ([{"type": "web_search"}, {"type": "function", "name": "run"}], _named("run")),
    ],
)
def test_allowed_tools_requiring_a_call_among_others_does_not_force_the_search(
    allowed: Any, sent: Any
) -> None:
    """The required call may be another tool than the search, so the search is not forced."""
    choice = {"type": "allowed_tools", "mode": "required", "tools": allowed}
    parameters, _ = translated(tool_choice=choice, tools=[FN, {"type": "web_search"}])
    assert "forced_search" not in parameters["search_options"]
    assert parameters["tool_choice"] == sent


def test_allowed_tools_of_web_search_in_auto_mode_leaves_the_model_free() -> None:
    choice = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]}
    parameters, notes = translated(tool_choice=choice, tools=[FN, {"type": "web_search"}])
    assert "tools" not in parameters
    assert parameters["tool_choice"] == "auto"
    assert "forced_search" not in parameters["search_options"]
    assert notes == ("tool_choice: allowed_tools sent as 0 of 1 function(s), mode auto",)


@pytest.mark.parametrize(
    ("choice", "param", "says"),
    [
        ({"type": "custom", "name": "nope"}, "tool_choice", "the custom tool 'nope'"),
        (
            {"type": "function", "name": "spawn", "namespace": "x"},
            "tool_choice",
            "the function tool x.'spawn'",
        ),
        ({"type": "shell"}, "tool_choice", "the shell tool"),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "x"}]},
            "tool_choice.tools[0]",
            "the function tool 'x'",
        ),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": ["run"]},
            "tool_choice.tools[0]",
            "must be auto",
        ),
    ],
)
def test_a_tool_choice_naming_an_undeclared_tool_is_a_400(
    choice: Any, param: str, says: str
) -> None:
    assert says in refused(param, tool_choice=choice, tools=[FN])


def test_a_tool_choice_with_malformed_tools_leaves_the_400_to_tools() -> None:
    refused("tools[1]", tool_choice="required", tools=[FN, FN])


# ---- calls coming back -----------------------------------------------------------------------


def encoder(tools: Any) -> ResponsesEventEncoder:
    echo = translate_responses_request({**BASE, "tools": tools}).extras.echo
    return ResponsesEventEncoder(ResponseIdentity("resp_t", 1, "m", "t", echo))


def encode(tools: Any, *events: Event, fail: bool = False) -> list[Item]:
    coder = encoder(tools)
    out = [item for event in (*events, Usage(10, 20, 5, 3, 1)) for item in coder.feed(event)]
    if fail:
        return out + coder.fail(UpstreamError("cut", status=500, code="InternalError"), None)
    return out + coder.finish()


def call(name: str | None, arguments: str, key: int = 0) -> FunctionCallDelta:
    return FunctionCallDelta(0, key, f"call_{key}" if name else None, name, arguments)


def test_a_call_cut_short_is_incomplete_and_a_built_in_not_yet_whole_is_left_out() -> None:
    events = encode(
        ALL_TOOLS,
        call("patch", '{"input": "ab'),
        call("shell", '{"commands": ["ls"', key=1),
        fail=True,
    )
    result = check_events(events)
    (custom,) = result.output
    assert (custom["type"], custom["status"], custom["input"]) == (
        "custom_tool_call",
        "incomplete",
        "ab",
    )


def test_built_in_calls_with_odd_arguments_keep_what_fits() -> None:
    events = encode(
        BUILT_INS,
        call("local_shell", '{"command": "ls -a", "timeout_ms": true}'),
        call("shell", "not json", key=1),
        call("apply_patch", '{"type": "delete_file", "path": "a.txt", "diff": "x"}', key=2),
        Finish(0, "tool_calls"),
    )
    local, shell, patch = check_events(events).output
    assert local["action"]["command"] == ["ls -a"]
    assert local["action"]["timeout_ms"] is None
    assert shell["action"]["commands"] == []
    assert patch["operation"] == {"type": "delete_file", "path": "a.txt"}


def test_apply_patch_cut_short_is_still_in_progress_as_its_status_allows() -> None:
    coder = encoder(BUILT_INS)
    coder.feed(call("apply_patch", '{"type": "sideways", "path": 3}'))
    (call_item,) = coder._calls.values()  # the item as a failure would show it
    call_item.announce(0, "t")
    item = call_item.item("incomplete")
    assert item["status"] == "in_progress"
    assert item.get("operation") == {"type": "update_file", "path": "", "diff": ""}


def test_a_custom_call_whose_arguments_are_not_its_json_gives_the_input_at_the_end() -> None:
    events = encode([GRAMMAR], call("patch", "*** Begin"), call("patch", " Patch"))
    result = check_events(events)
    assert result.custom_calls == [("patch", "*** Begin Patch")]
    deltas = [e for e in result.events if e["type"] == "response.custom_tool_call_input.delta"]
    assert [e["delta"] for e in deltas] == ["*** Begin Patch"]


def test_a_custom_call_under_another_key_gives_that_string() -> None:
    events = encode([GRAMMAR], call("patch", '{"patch": "x"}'), Finish(0, "tool_calls"))
    result = check_events(events)
    assert result.custom_calls == [("patch", "x")]


def test_text_after_an_unannounced_built_in_call_takes_the_next_index() -> None:
    events = encode(
        BUILT_INS,
        call("shell", '{"commands": ["ls"]}'),
        ContentDelta(0, "Running it."),
        Finish(0, "tool_calls"),
    )
    assert [item["type"] for item in check_events(events).output] == ["message", "shell_call"]


def test_a_call_to_an_undeclared_name_is_a_plain_function_call() -> None:
    events = encode([FN], call("other", "{}"), Finish(0, "tool_calls"))
    assert check_events(events).calls == [("other", {})]


@pytest.mark.parametrize(
    ("pieces", "decoded"),
    [
        (['{"input": "a\\', 'nb"}'], ["a", "\nb"]),
        (['{ "input" : "caf\\u00', 'e9"}'], ["caf", "é"]),
        (['{"input": "x\\ud800y"}'], ["x\\ud800y"]),
        (['{"in', 'put": "ab"} trailing "more"'], ["", "ab"]),
        (['{"other": "ab"}'], [""]),
    ],
)
def test_the_input_decoder_streams_what_has_arrived(pieces: list[str], decoded: list[str]) -> None:
    decoder = InputDecoder()
    assert [decoder.feed(piece) for piece in pieces] == decoded


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"input": "x"}', "x"),
        ('{"code": "y"}', "y"),
        ('{"a": "1", "b": "2"}', '{"a": "1", "b": "2"}'),
        ('{"a": 1}', '{"a": 1}'),
        ("[1]", "[1]"),
        ("", ""),
    ],
)
def test_custom_input_from_arguments(arguments: str, expected: str) -> None:
    assert custom_input(arguments) == expected


def test_input_items_round_trip_into_the_next_request() -> None:
    """What the encoder returned goes back as input and reaches DashScope as the same call."""
    events = encode(
        [GRAMMAR, NAMESPACE],
        call("agents__spawn", ""),  # a first piece may carry no arguments yet
        call("agents__spawn", '{"n": 1}'),
        call("patch", '{"input": "p"}', key=1),
        call("agents__script", '{"input": "s"}', key=2),
        Finish(0, "tool_calls"),
    )
    output = check_events(events).output
    outputs = [{"type": "function_call_output", "call_id": "call_0", "output": "ok"}]
    outputs.append({"type": "custom_tool_call_output", "call_id": "call_1", "output": "done"})
    assert output[2]["namespace"] == "agents"
    body = {**BASE, "tools": [GRAMMAR, NAMESPACE], "input": [*output, *outputs]}
    turns = translate_responses_request(body).body["input"]["messages"]
    calls = [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in turns[0]["tool_calls"]
    ]
    assert calls == [
        ("agents__spawn", {"n": 1}),
        ("patch", {"input": "p"}),
        ("agents__script", {"input": "s"}),
    ]
