"""What a response carries beyond one text answer, end to end with the real SDK: several
choices (`n`), per-token logprobs, and web-search sources."""

from __future__ import annotations

import httpx
import openai

from proxy.simulator import ReceivedRequest
from proxy.simulator.feature_scripts import CHOICE_TEXTS, LOGPROBS_ANSWER, SEARCH_RESULTS
from proxy.simulator.timeline import split_tokens
from tests.test_e2e_translation import MODEL, ask, raw_stream, upstream

# ---- several choices ------------------------------------------------------------------------


def test_two_choices_stream_interleaved(
    client: openai.OpenAI, raw: httpx.Client, received: list[ReceivedRequest]
) -> None:
    result = raw_stream(raw, messages=ask("[sim:n2]"), n=2)
    assert upstream(received)["parameters"]["n"] == 2
    order = [e["index"] for c in result.chunks for e in c["choices"]]
    assert order[:4] == [0, 1, 0, 1]
    texts = [choice["message"]["content"] for choice in result.folded["choices"]]
    assert texts == list(CHOICE_TEXTS)
    assert [choice["finish_reason"] for choice in result.folded["choices"]] == ["stop", "stop"]

    stream = client.chat.completions.create(model=MODEL, messages=ask("[sim:n2]"), n=2, stream=True)
    with stream:
        chunks = list(stream)
    roles = [(c.choices[0].index, c.choices[0].delta.role) for c in chunks]
    assert sorted(r for r in roles if r[1]) == [(0, "assistant"), (1, "assistant")]


def test_two_choices_without_streaming(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=ask("[sim:n2]"), n=2)
    assert [c.index for c in completion.choices] == [0, 1]
    assert [c.message.content for c in completion.choices] == list(CHOICE_TEXTS)
    assert {c.finish_reason for c in completion.choices} == {"stop"}


# ---- logprobs -------------------------------------------------------------------------------


def test_logprobs_stream_with_their_chunks(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=ask("[sim:logprobs]"), logprobs=True, top_logprobs=2, stream=True
    )
    with stream:
        chunks = list(stream)
    parameters = upstream(received)["parameters"]
    assert (parameters["logprobs"], parameters["top_logprobs"]) == (True, 2)
    with_text = [c.choices[0] for c in chunks if c.choices[0].delta.content]
    assert with_text
    for choice in with_text:
        assert choice.logprobs is not None
        entries = choice.logprobs.content or []
        assert "".join(e.token for e in entries) == choice.delta.content
        assert all(len(e.top_logprobs) == 2 for e in entries)


def test_logprobs_fold_one_entry_per_token(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=ask("[sim:logprobs]"), logprobs=True, top_logprobs=2
    )
    choice = completion.choices[0]
    assert choice.message.content == LOGPROBS_ANSWER
    assert choice.logprobs is not None
    entries = choice.logprobs.content or []
    assert [e.token for e in entries] == split_tokens(LOGPROBS_ANSWER)
    assert all(e.bytes == list(e.token.encode()) for e in entries)


# ---- web search -----------------------------------------------------------------------------

SEARCH = {"enable_search": True, "search_options": {"enable_source": True}}


def test_search_results_arrive_once_in_a_delta(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=ask("[sim:search] Weather?"), stream=True, extra_body=SEARCH
    )
    with stream:
        chunks = list(stream)
    found = [
        (c.choices[0].delta.model_extra or {}).get("search_info")
        for c in chunks
        if (c.choices[0].delta.model_extra or {}).get("search_info")
    ]
    assert found == [{"search_results": list(SEARCH_RESULTS)}]
    parameters = upstream(received)["parameters"]
    assert (parameters["enable_search"], parameters["search_options"]) == (
        True,
        {"enable_source": True},
    )


def test_search_results_in_the_message(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=ask("[sim:search]"), extra_body=SEARCH
    )
    message = completion.choices[0].message
    assert (message.model_extra or {})["search_info"]["search_results"] == list(SEARCH_RESULTS)
    assert message.content is not None
    assert "[1]" not in message.content  # no citation marks without enable_citation


def test_stream_helper_folds_two_choices_and_search_results(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model=MODEL, messages=ask("[sim:n2]"), n=2) as stream:
        final = stream.get_final_completion()
    assert [c.message.content for c in final.choices] == list(CHOICE_TEXTS)
    with client.chat.completions.stream(
        model=MODEL, messages=ask("[sim:search]"), extra_body=SEARCH
    ) as stream:
        message = stream.get_final_completion().choices[0].message
    assert (message.model_extra or {})["search_info"]["search_results"] == list(SEARCH_RESULTS)
