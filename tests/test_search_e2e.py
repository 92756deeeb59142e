"""Web search end to end with the openai SDK, through the proxy in front of the simulator:
`web_search` tools on the Responses API and `web_search_options` on Chat Completions give
url_citation annotations (streamed and folded), a web_search_call item with its sources when
`include` asks, and an honest note when live web access is refused."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from proxy.simulator import ReceivedRequest
from proxy.simulator.feature_scripts import SEARCH_RESULTS
from tests.responses_contract import check_event_bytes

MODEL = "qwen-plus"
URLS = [result["url"] for result in SEARCH_RESULTS]


def upstream_search(received: list[ReceivedRequest]) -> tuple[Any, Any]:
    parameters = received[-1].body["parameters"]
    return parameters.get("enable_search"), parameters.get("search_options")


def test_responses_web_search_cites_its_sources(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    response = client.responses.create(
        model=MODEL,
        input="Weather in Hangzhou?",
        tools=[{"type": "web_search"}],
        include=["web_search_call.action.sources"],
    )
    assert upstream_search(received) == (
        True,
        {"enable_source": True, "enable_citation": True, "citation_format": "[ref_<number>]"},
    )
    search, message = response.output
    assert search.type == "web_search_call"
    assert search.action.type == "search"
    assert [source.url for source in search.action.sources or ()] == URLS
    assert message.type == "message"
    part = message.content[0]
    assert part.type == "output_text"
    cited = [
        (a.url, part.text[a.start_index : a.end_index])
        for a in part.annotations
        if a.type == "url_citation"
    ]
    assert cited == [(URLS[0], "[ref_1]"), (URLS[1], "[ref_2]")]


def test_responses_streamed_annotations_match_the_folded_ones(
    raw: httpx.Client, client: openai.OpenAI
) -> None:
    payload: Any = {"model": MODEL, "input": "Weather?", "tools": [{"type": "web_search_preview"}]}
    wire = raw.post("/v1/responses", json={**payload, "stream": True})
    result = check_event_bytes(wire.content)
    added = [e["annotation"] for e in result.events if e["type"].endswith("annotation.added")]
    (search,) = result.items("web_search_call")
    assert "sources" not in search["action"]  # not asked for in `include`
    folded = client.responses.create(**payload)
    message = folded.output[-1]
    assert message.type == "message"
    part = message.content[0]
    assert part.type == "output_text"
    assert [a.model_dump() for a in part.annotations] == added


def test_no_live_web_access_means_no_search_and_a_note(
    raw: httpx.Client, received: list[ReceivedRequest]
) -> None:
    tool = {"type": "web_search", "external_web_access": False}
    response = raw.post("/v1/responses", json={"model": MODEL, "input": "hi", "tools": [tool]})
    assert response.status_code == 200
    assert upstream_search(received) == (None, None)
    assert "tools[0]: no live web search" in response.headers["x-dashscope-proxy-notes"]
    assert all(item["type"] != "web_search_call" for item in response.json()["output"])


def test_allowed_tools_requiring_only_the_search_forces_it(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    """`allowed_tools` with mode `required` and web search alone, as the SDK sends it: the
    search is forced upstream, the function is not offered, and the answer cites its sources."""
    function: Any = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    only_search: Any = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "web_search"}],
    }
    response = client.responses.create(
        model=MODEL,
        input="Weather in Hangzhou?",
        tools=[function, {"type": "web_search"}],
        tool_choice=only_search,
    )
    enabled, options = upstream_search(received)
    assert (enabled, options["forced_search"]) == (True, True)
    assert "tools" not in received[-1].body["parameters"]
    assert [item.type for item in response.output] == ["web_search_call", "message"]


def test_chat_web_search_options_stream_and_fold_the_annotations(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    messages: Any = [{"role": "user", "content": "Weather in Hangzhou?"}]
    stream = client.chat.completions.create(
        model=MODEL, messages=messages, web_search_options={}, stream=True
    )
    with stream:
        chunks = list(stream)
    streamed = [
        annotation
        for chunk in chunks
        for choice in chunk.choices
        for annotation in (choice.delta.model_extra or {}).get("annotations", ())
    ]
    assert [a["url_citation"]["url"] for a in streamed] == URLS
    assert upstream_search(received)[0] is True
    completion = client.chat.completions.create(
        model=MODEL, messages=messages, web_search_options={"search_context_size": "low"}
    )
    message = completion.choices[0].message
    assert [a.model_dump() for a in message.annotations or ()] == streamed
    content = message.content or ""
    first = (message.annotations or [])[0].url_citation
    assert content[first.start_index : first.end_index] == "[ref_1]"
