"""The simulator's feature scenarios: function calls, several choices, search, logprobs,
structured output and images, in DashScope's native wire format."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from proxy.simulator import build_scenario, select_scenario
from proxy.simulator.feature_scripts import (
    CHOICE_TEXTS,
    JSON_ANSWER,
    SEARCH_RESULTS,
    SHANGHAI_ARGUMENTS,
    WEATHER_ANSWER,
    WEATHER_ARGUMENTS,
    WEATHER_CALL_ID,
    search_text,
)
from proxy.simulator.timeline import split_tokens


def request(text: str, *messages: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": text}, *messages]},
        "parameters": {"result_format": "message", "incremental_output": True, **parameters},
    }


def frames(name: str, *messages: dict[str, Any], **parameters: Any) -> list[dict[str, Any]]:
    scenario = build_scenario(name, request(f"[sim:{name}]", *messages, **parameters))
    assert scenario.http_status == 200
    return [frame.data for frame in scenario.frames]


def choice(data: dict[str, Any]) -> dict[str, Any]:
    (only,) = data["output"]["choices"]
    return dict(only)


def calls(data: dict[str, Any]) -> list[dict[str, Any]]:
    return list(choice(data)["message"].get("tool_calls", []))


def test_function_call_streams_fragments_with_id_and_name_once() -> None:
    stream = frames("function_call")
    pieces = [call for data in stream for call in calls(data)]
    assert pieces[0]["id"] == WEATHER_CALL_ID
    assert pieces[0]["function"]["name"] == "get_weather"
    assert all(p["id"] == "" and "name" not in p["function"] for p in pieces[1:])
    assert len(pieces) >= 3
    assert "".join(p["function"]["arguments"] for p in pieces) == WEATHER_ARGUMENTS
    assert json.loads(WEATHER_ARGUMENTS) == {"city": "Hangzhou"}
    assert [choice(d)["finish_reason"] for d in stream] == ["null", "null", "tool_calls"]
    assert calls(stream[-1]), "the terminal frame carries the last fragment"


def test_function_call_answers_in_text_once_the_result_is_in() -> None:
    assistant = {"role": "assistant", "content": "", "tool_calls": [{"id": WEATHER_CALL_ID}]}
    result = {"role": "tool", "tool_call_id": WEATHER_CALL_ID, "content": "sunny"}
    for name in ("function_call", "function_call_cumulative"):
        stream = frames(name, assistant, result)
        assert "".join(choice(d)["message"]["content"] for d in stream) == WEATHER_ANSWER
        assert not any(calls(d) for d in stream)
        assert choice(stream[-1])["finish_reason"] == "stop"


def test_cumulative_function_call_repeats_everything_so_far() -> None:
    pieces = [call for data in frames("function_call_cumulative") for call in calls(data)]
    arguments = [p["function"]["arguments"] for p in pieces]
    assert arguments[-1] == WEATHER_ARGUMENTS
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(arguments))
    assert {p["function"]["name"] for p in pieces} == {"get_weather"}
    assert {p["id"] for p in pieces} == {WEATHER_CALL_ID}


def test_parallel_calls_share_a_frame() -> None:
    stream = frames("parallel_calls", parallel_tool_calls=True)
    assert [sorted(c["index"] for c in calls(d)) for d in stream] == [[0], [0, 1], [1]]
    by_index: dict[int, str] = {}
    for data in stream:
        for call in calls(data):
            by_index[call["index"]] = (
                by_index.get(call["index"], "") + call["function"]["arguments"]
            )
    assert by_index == {0: WEATHER_ARGUMENTS, 1: SHANGHAI_ARGUMENTS}
    assert choice(stream[-1])["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("parallel", [None, False])
def test_one_call_unless_parallel_calls_are_allowed(parallel: bool | None) -> None:
    """DashScope's default for `parallel_tool_calls` is false: one call where two were due."""
    extra = {} if parallel is None else {"parallel_tool_calls": parallel}
    stream = frames("parallel_calls", **extra)
    pieces = [call for data in stream for call in calls(data)]
    assert {p["index"] for p in pieces} == {0}
    assert pieces[0]["id"] == WEATHER_CALL_ID
    assert "".join(p["function"]["arguments"] for p in pieces) == WEATHER_ARGUMENTS
    assert choice(stream[-1])["finish_reason"] == "tool_calls"


def test_non_incremental_calls_are_cumulative() -> None:
    body = request("[sim:function_call]")
    body["parameters"]["incremental_output"] = False
    stream = [f.data for f in build_scenario("function_call", body).frames]
    assert calls(stream[-1])[0]["function"] == {
        "name": "get_weather",
        "arguments": WEATHER_ARGUMENTS,
    }


def test_n2_interleaves_one_choice_per_frame() -> None:
    stream = frames("n2", n=2)
    indexes = [choice(d)["index"] for d in stream]
    assert indexes[:4] == [0, 1, 0, 1]
    for i, text in enumerate(CHOICE_TEXTS):
        mine = [choice(d) for d in stream if choice(d)["index"] == i]
        assert "".join(c["message"]["content"] for c in mine) == text
        assert [c["finish_reason"] for c in mine][-1] == "stop"
        assert [c["finish_reason"] for c in mine].count("stop") == 1


def test_n2_packets_carry_their_own_choices_usage() -> None:
    """Each packet counts only its own choice's output so far; the request's total is the sum
    of each choice's last packet, never the last packet's."""
    stream = frames("n2", n=2)
    last: dict[int, int] = {}
    for data in stream:
        index, usage = choice(data)["index"], data["usage"]
        assert usage["output_tokens"] >= last.get(index, 0)
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        last[index] = usage["output_tokens"]
    assert set(last) == {0, 1}
    assert last[1] > last[0]  # the longer answer
    assert stream[-1]["usage"]["output_tokens"] == last[choice(stream[-1])["index"]]
    assert stream[-1]["usage"]["output_tokens"] < sum(last.values())


def test_n2_without_n_has_one_choice() -> None:
    assert {choice(d)["index"] for d in frames("n2")} == {0}


def test_search_info_on_the_first_frame_only() -> None:
    options = {"enable_source": True}
    stream = frames("search", enable_search=True, search_options=options)
    infos = [d["output"]["search_info"] for d in stream]
    assert infos[0] == {"search_results": list(SEARCH_RESULTS), "extra_tool_info": []}
    assert all(info == {"search_results": [], "extra_tool_info": []} for info in infos[1:])
    assert stream[-1]["usage"]["plugins"]["search"]["count"] == 1
    assert set(SEARCH_RESULTS[0]) == {"index", "title", "url", "site_name", "icon"}


@pytest.mark.parametrize("options", [{}, {"enable_source": True}])
def test_a_search_answers_first_frame_has_empty_usage(options: dict[str, Any]) -> None:
    """The frame the sources come on counts nothing: `usage: {}`, then running totals."""
    stream = frames("search", enable_search=True, search_options=options)
    assert stream[0]["usage"] == {}
    assert choice(stream[0])["message"]["content"] == ""
    assert all(d["usage"]["output_tokens"] > 0 for d in stream[1:])


@pytest.mark.parametrize("parameters", [{}, {"enable_search": True}])
def test_search_sources_only_when_asked_for(parameters: dict[str, Any]) -> None:
    stream = frames("search", **parameters)
    assert all("search_info" not in d["output"] for d in stream)
    assert ("plugins" in stream[-1]["usage"]) == bool(parameters)


def test_logprobs_cover_each_content_frame() -> None:
    stream = frames("logprobs", logprobs=True, top_logprobs=2)
    for data in stream:
        text = choice(data)["message"]["content"]
        entries = choice(data).get("logprobs", {}).get("content", [])
        assert [e["token"] for e in entries] == split_tokens(text)
        for entry in entries:
            assert set(entry) == {"token", "bytes", "logprob", "top_logprobs"}
            assert entry["bytes"] == list(entry["token"].encode())
            assert len(entry["top_logprobs"]) == 2
            assert entry["top_logprobs"][0]["token"] == entry["token"]


def test_no_logprobs_unless_asked_for() -> None:
    assert all("logprobs" not in choice(d) for d in frames("logprobs"))


def test_json_answer_is_a_json_object() -> None:
    stream = frames("json_answer")
    text = "".join(choice(d)["message"]["content"] for d in stream)
    assert text == JSON_ANSWER
    assert json.loads(text) == {"city": "Hangzhou", "temperature": 21}


def test_vision_names_what_it_received() -> None:
    body = request("x")
    body["input"]["messages"] = [
        {
            "role": "user",
            "content": [
                {"image": "https://a.example/cat.png"},
                {"video": ["https://a.example/1.jpg", "https://a.example/2.jpg"]},
                {"text": "[sim:vision]"},
            ],
        }
    ]
    scenario = build_scenario("vision", body, multimodal=True)
    parts = [p for f in scenario.frames for p in choice(f.data)["message"]["content"]]
    text = "".join(part["text"] for part in parts)
    assert text.startswith("The image shows a cat.")
    for expected in (
        "image https://a.example/cat.png",
        "video https://a.example/1.jpg",
        "video https://a.example/2.jpg",
    ):
        assert expected in text


def test_a_request_that_searches_gets_the_search_answer_without_a_marker() -> None:
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "Hi"}]}}
    assert select_scenario({**body, "parameters": {"enable_search": True}}) == "search"
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert select_scenario({**body, "parameters": {"enable_search": True, "tools": tools}}) == (
        "function_call"  # a model given functions calls one first
    )


def answer_text(**parameters: Any) -> str:
    return "".join(choice(d)["message"]["content"] for d in frames("search", **parameters))


@pytest.mark.parametrize(
    ("options", "marks"),
    [
        ({"enable_source": True}, []),
        ({"enable_citation": True}, ["[1]", "[2]"]),
        ({"enable_citation": True, "citation_format": "[ref_<number>]"}, ["[ref_1]", "[ref_2]"]),
        ({"enable_citation": True, "citation_format": 3}, ["[1]", "[2]"]),
    ],
)
def test_citation_marks_only_with_enable_citation_in_its_format(
    options: dict[str, Any], marks: list[str]
) -> None:
    text = answer_text(enable_search=True, search_options=options)
    assert re.findall(r"\[[^\]]*\]", text) == marks
    assert text.startswith("Hangzhou is sunny today")
    assert answer_text(search_options=options) == search_text(None)  # no search, no marks
