"""Web search on both APIs, without a server: what DashScope is asked for (the Responses API's
web_search tools, Chat Completions' web_search_options), and the `url_citation` annotations the
answer gets from the sources it cites (streamed and folded), checked by the stream contracts and
read back with the openai SDK's own types."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from proxy.chat.fold import fold_chunks
from proxy.chat.request import translate_chat_request
from proxy.chat.stream import ChatChunkEncoder, ChunkIdentity
from proxy.core.events import ContentDelta, Event, Finish, SearchResults, Usage
from proxy.core.search import CITATION_FORMAT, Citation, citations
from proxy.core.wire import Item
from proxy.responses.request import translate_responses_request
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder
from tests.contract import check_chunks
from tests.responses_contract import check_events

SOURCES: list[object] = [
    {"index": 1, "title": "Weather today", "url": "https://a.example/w"},
    {"index": 2, "title": "Forecast", "url": "https://b.example/f"},
    {"index": 3, "url": "https://c.example/untitled"},
    {"index": "4", "url": "https://d.example/bad-index"},
    {"index": 5, "title": "no url"},
    "not a source",
]
SEARCHED = {"enable_source": True, "enable_citation": True, "citation_format": CITATION_FORMAT}
ANSWER = ("Sunny [ref_1], 21 degrees [r", "ef_2] and [ref_3]; not [ref_4], [ref_9] or [1x].")


# ---- finding the citations -------------------------------------------------------------------


def test_each_mark_naming_a_source_is_a_citation_over_the_mark() -> None:
    text = "".join(ANSWER)
    found = citations(text, SOURCES)
    assert found == [
        Citation("https://a.example/w", "Weather today", 6, 13),
        Citation("https://b.example/f", "Forecast", 26, 33),
        Citation("https://c.example/untitled", "", 38, 45),
    ]
    assert [text[c.start : c.end] for c in found] == ["[ref_1]", "[ref_2]", "[ref_3]"]


def test_dashscope_s_default_marks_cite_too_and_no_sources_cite_nothing() -> None:
    assert citations("It is [2].", SOURCES) == [Citation("https://b.example/f", "Forecast", 6, 9)]
    assert citations("It is [ref_1].", []) == []
    assert citations("It is [ref_1].", ["junk", {"url": 3}]) == []


# ---- what DashScope is asked for -------------------------------------------------------------


def responses(**fields: Any) -> Any:
    return translate_responses_request({"model": "qwen-plus", "input": "Weather?", **fields})


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview", "web_search_2025_08_26"])
def test_a_web_search_tool_turns_on_search_with_sources_and_citations(kind: str) -> None:
    plan = responses(tools=[{"type": kind}])
    parameters = plan.body["parameters"]
    assert (parameters["enable_search"], parameters["search_options"]) == (True, SEARCHED)
    assert plan.notes == ()


def test_the_client_s_own_search_options_win() -> None:
    plan = responses(
        tools=[{"type": "web_search"}],
        search_options={"search_strategy": "agent_max", "enable_citation": False},
        enable_search=True,
    )
    assert plan.body["parameters"]["search_options"] == {
        **SEARCHED,
        "search_strategy": "agent_max",
        "enable_citation": False,
    }


def test_a_tool_choice_naming_the_web_search_forces_a_search() -> None:
    tools = [{"type": "web_search_preview"}]
    plan = responses(tools=tools, tool_choice={"type": "web_search_preview"})
    assert plan.body["parameters"]["search_options"] == {**SEARCHED, "forced_search": True}
    assert "tool_choice" not in plan.body["parameters"]
    plan = responses(
        tools=[{**tools[0], "type": "web_search", "external_web_access": False}],
        tool_choice={"type": "web_search"},
    )
    assert "search_options" not in plan.body["parameters"]
    assert plan.notes[-1] == ("tool_choice: dropped (it names a web search that searches nothing)")


def test_no_live_web_access_searches_nothing_and_says_so() -> None:
    plan = responses(
        tools=[
            {"type": "function", "name": "f"},
            {"type": "web_search", "external_web_access": False, "filters": {"a": 1}},
        ]
    )
    assert "enable_search" not in plan.body["parameters"]
    assert plan.notes == (
        "tools[1]: no live web search (external_web_access is false, and DashScope's search "
        "has no cached-only mode)",
    )


def test_what_dashscope_s_search_cannot_take_is_reported() -> None:
    tool = {
        "type": "web_search_preview",
        "user_location": {"type": "approximate", "city": "Hangzhou"},
        "search_context_size": "high",
        "filters": None,
    }
    assert responses(tools=[tool]).notes == (
        "tools[0].user_location: dropped (DashScope's search takes no user_location)",
        "tools[0].search_context_size: dropped (DashScope's search takes no search_context_size)",
    )


def test_chat_web_search_options_turn_on_search() -> None:
    plan = translate_chat_request(
        {
            "model": "qwen-plus",
            "messages": [{"role": "user", "content": "hi"}],
            "web_search_options": {},
        }
    )
    parameters = plan.body["parameters"]
    assert (parameters["enable_search"], parameters["search_options"]) == (True, SEARCHED)


# ---- the answer's annotations: Responses -----------------------------------------------------


def answer_events(*, with_sources: bool = True) -> list[Event]:
    events: list[Event] = [SearchResults(0, SOURCES)] if with_sources else []
    events += [ContentDelta(0, piece) for piece in ANSWER]
    return [*events, Finish(0, "stop"), Usage(10, 5, None, None, None)]


def run(encoder: ResponsesEventEncoder | ChatChunkEncoder, events: list[Event]) -> list[Item]:
    items = [item for event in events for item in encoder.feed(event)]
    return [*items, *encoder.finish()]


def responses_run(events: list[Event], *, include_sources: bool) -> list[Item]:
    echo = responses(tools=[{"type": "web_search"}]).extras.echo
    identity = ResponseIdentity("resp_s", 1, "qwen-plus", "s", echo, include_sources)
    return run(ResponsesEventEncoder(identity), events)


@pytest.mark.parametrize("include_sources", [True, False])
def test_responses_cite_the_sources_and_show_them_when_included(include_sources: bool) -> None:
    result = check_events(responses_run(answer_events(), include_sources=include_sources))
    added = [e["annotation"] for e in result.events if e["type"].endswith("annotation.added")]
    (message,) = result.items("message")
    (part,) = message["content"]
    assert part["annotations"] == added
    assert [(a["url"], a["start_index"], a["end_index"]) for a in added] == [
        ("https://a.example/w", 6, 13),
        ("https://b.example/f", 26, 33),
        ("https://c.example/untitled", 38, 45),
    ]
    (search,) = result.items("web_search_call")
    expected = [{"type": "url", "url": s["url"]} for s in SOURCES[:4]]  # type: ignore[index]
    assert search["action"].get("sources") == (expected if include_sources else None)
    Response.model_validate(result.response)  # the openai SDK reads it


def test_an_answer_without_sources_has_no_annotations() -> None:
    result = check_events(responses_run(answer_events(with_sources=False), include_sources=True))
    assert [e for e in result.events if e["type"].endswith("annotation.added")] == []


# ---- the answer's annotations: Chat Completions ----------------------------------------------


def chat_run(events: list[Event]) -> list[Item]:
    return run(ChatChunkEncoder(ChunkIdentity("chatcmpl-s", 1, "qwen-plus", "call_ci_")), events)


def test_chat_streams_the_annotations_before_the_finish_and_folds_them() -> None:
    chunks = chat_run(answer_events())
    check_chunks(chunks)
    deltas = [c["choices"][0] for c in chunks if c["choices"]]
    (cited,) = [i for i, d in enumerate(deltas) if "annotations" in d["delta"]]
    assert deltas[cited + 1]["finish_reason"] == "stop"
    message = fold_chunks(chunks)["choices"][0]["message"]
    assert message["annotations"] == deltas[cited]["delta"]["annotations"]
    assert message["annotations"][0] == {
        "type": "url_citation",
        "url_citation": {
            "start_index": 6,
            "end_index": 13,
            "url": "https://a.example/w",
            "title": "Weather today",
        },
    }
    completion = ChatCompletion.model_validate(fold_chunks(chunks))
    assert [a.url_citation.url for a in completion.choices[0].message.annotations or ()] == [
        "https://a.example/w",
        "https://b.example/f",
        "https://c.example/untitled",
    ]


def test_chat_without_citations_sends_no_annotations() -> None:
    events: list[Event] = [
        SearchResults(0, SOURCES),
        ContentDelta(0, "no marks"),
        ContentDelta(1, "[ref_1]"),
    ]
    chunks = chat_run([*events, Finish(1, "stop"), Finish(0, "stop")])
    assert not any("annotations" in c["choices"][0]["delta"] for c in chunks)
    assert "annotations" not in fold_chunks(chunks)["choices"][0]["message"]
