"""Echoed code-interpreter calls are harmless (docs/architecture.md), and a request that only
answers them is answered locally, without DashScope."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.code_runs import CodeFormat
from proxy.chat.request import translate_chat_request
from proxy.chat.stream import ChunkIdentity
from proxy.core.echoes import strip_echoes
from tests.contract import check_chunks

USER = {"role": "user", "content": "What is 123**21?"}
ANSWER = "123**21 is 77269364466549865653073473388030061522211723"


def own(n: int = 0, code: str = "123**21") -> dict[str, Any]:
    """One of the proxy's calls as a client sends it back (LangChain rewrites type to function)."""
    arguments = '{"code": "' + code + '"}'
    return {
        "id": f"call_ci_a1b2c3d4e5f60718_{n}",
        "type": "function",
        "function": {"name": "code_interpreter", "arguments": arguments},
    }


def real(call_id: str = "call_29a870e7106f45deb8add3") -> dict[str, Any]:
    arguments = '{"location": "Hangzhou"}'
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def assistant(content: Any, *calls: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": list(calls), **extra}


def result(
    call: dict[str, Any], content: Any = "Error: code_interpreter is not a valid tool"
) -> Any:
    return {"role": "tool", "tool_call_id": call["id"], "content": content}


# ---- own calls and their results are removed --------------------------------------------------


def test_assistant_keeps_its_text_without_our_call() -> None:
    stripped = strip_echoes([USER, assistant(ANSWER, own())])
    assert stripped.messages == [USER, {"role": "assistant", "content": ANSWER}]
    assert (stripped.removed_calls, stripped.removed_results) == (1, 0)


def test_assistant_with_text_parts_keeps_them() -> None:
    parts = [{"type": "text", "text": ANSWER}]
    stripped = strip_echoes([USER, assistant(parts, own())])
    assert stripped.messages == [USER, {"role": "assistant", "content": parts}]


@pytest.mark.parametrize("content", [None, "", []])
def test_assistant_with_only_our_call_and_no_text_is_dropped(content: Any) -> None:
    stripped = strip_echoes([USER, assistant(content, own()), result(own()), USER])
    assert stripped.messages == [USER, USER]
    assert (stripped.removed_calls, stripped.removed_results) == (1, 1)


def test_assistant_with_only_reasoning_besides_our_call_is_kept() -> None:
    message = assistant(None, own(), reasoning_content="Let me compute.")
    stripped = strip_echoes([USER, message])
    assert stripped.messages[1] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Let me compute.",
    }


def test_mixed_message_keeps_the_real_call() -> None:
    messages = [USER, assistant("Checking.", own(0), real(), own(1))]
    stripped = strip_echoes(messages)
    assert stripped.messages == [USER, assistant("Checking.", real())]
    assert stripped.removed_calls == 2


@pytest.mark.parametrize(
    "content",
    [
        "Error: code_interpreter is not a valid tool, try one of [get_weather].",
        "",
        [{"type": "text", "text": "Error: code_interpreter is not a valid tool"}],
        None,
    ],
)
def test_results_for_our_calls_are_removed_whatever_they_say(content: Any) -> None:
    messages = [USER, assistant(ANSWER, own()), result(own(), content), USER]
    stripped = strip_echoes(messages)
    assert stripped.messages == [USER, {"role": "assistant", "content": ANSWER}, USER]
    assert stripped.removed_results == 1


def test_results_for_real_calls_stay() -> None:
    messages = [USER, assistant("", own(), real()), result(own()), result(real(), "22 C")]
    stripped = strip_echoes(messages)
    assert stripped.messages == [USER, assistant("", real()), result(real(), "22 C")]
    assert stripped.local_answer is None


@pytest.mark.parametrize("call_id", ["call_abc", "call_c1", "ci_call_1", "CALL_CI_1", "xcall_ci_1"])
def test_ids_not_starting_with_our_prefix_are_untouched(call_id: str) -> None:
    call = {**own(), "id": call_id}
    messages = [USER, assistant("", call), result(call, "out")]
    stripped = strip_echoes(messages)
    assert stripped.messages == messages
    assert (stripped.removed_calls, stripped.removed_results, stripped.local_answer) == (0, 0, None)


def test_messages_without_echoes_are_returned_as_they_are() -> None:
    messages: list[Any] = [{"role": "system", "content": "be brief"}, USER, "not a dict"]
    stripped = strip_echoes(messages)
    assert stripped.messages == messages
    assert stripped.local_answer is None


# ---- the local answer -------------------------------------------------------------------------


def test_only_results_for_our_calls_after_the_last_answer_give_a_local_answer() -> None:
    messages = [USER, assistant(ANSWER, own()), result(own())]
    assert strip_echoes(messages).local_answer == ANSWER


def test_several_of_our_calls_all_answered() -> None:
    messages = [USER, assistant(ANSWER, own(0), own(1)), result(own(0)), result(own(1), "")]
    assert strip_echoes(messages).local_answer == ANSWER


def test_local_answer_joins_text_parts() -> None:
    parts = [{"type": "text", "text": "123**21 is "}, {"type": "text", "text": "big"}]
    messages = [USER, assistant(parts, own()), result(own())]
    assert strip_echoes(messages).local_answer == "123**21 is big"


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param([USER, assistant(ANSWER, own()), result(own()), USER], id="user-follows"),
        pytest.param(
            [USER, assistant(ANSWER, own(), real()), result(own()), result(real(), "22 C")],
            id="also-a-real-call",
        ),
        pytest.param([USER, assistant(ANSWER, own())], id="nothing-after"),
        pytest.param(
            [USER, assistant(ANSWER, own()), result(real(), "22 C")], id="result-for-another"
        ),
        pytest.param([USER, {"role": "assistant", "content": ANSWER}, USER], id="plain-history"),
        pytest.param([USER, assistant(ANSWER), result(own())], id="no-calls-in-last-assistant"),
        pytest.param([USER], id="no-assistant"),
        pytest.param(
            [USER, assistant(ANSWER, own()), {**USER, "tool_call_id": own()["id"]}],
            id="user-with-a-stray-tool-call-id",
        ),
        pytest.param(
            [USER, assistant(ANSWER, own()), result(own()), {"role": "system", "content": "x"}],
            id="system-follows",
        ),
    ],
)
def test_no_local_answer_when_anything_else_is_new(messages: list[Any]) -> None:
    assert strip_echoes(messages).local_answer is None


def test_only_the_last_assistant_message_counts() -> None:
    earlier = [USER, assistant("first", own(0)), result(own(0))]
    later = [USER, {"role": "assistant", "content": "second"}, USER]
    assert strip_echoes(earlier + later).local_answer is None
    again = [*earlier, USER, assistant("second", own(1)), result(own(1))]
    assert strip_echoes(again).local_answer == "second"


def test_request_translation_reports_the_removal_and_the_local_answer() -> None:
    body = {"model": "qwen3-max", "messages": [USER, assistant(ANSWER, own()), result(own())]}
    plan = translate_chat_request(body)
    assert plan.local_answer == ANSWER
    assert plan.body["input"]["messages"] == [
        {"role": "user", "content": USER["content"]},
        {"role": "assistant", "content": ANSWER},
    ]
    assert "messages: removed 1 echoed code_interpreter call(s) and 1 result(s) for them" in (
        plan.notes
    )


def test_request_with_a_new_user_turn_goes_upstream_without_the_echo() -> None:
    messages = [USER, assistant(ANSWER, own()), result(own()), {"role": "user", "content": "and?"}]
    plan = translate_chat_request({"model": "qwen3-max", "messages": messages})
    assert plan.local_answer is None
    sent = plan.body["input"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert all("tool_calls" not in m for m in sent)


# ---- the chat translation's local_answer ----------------------------------------------------

IDENTITY = ChunkIdentity("chatcmpl-local", 1700000000, "qwen3-max", "call_ci_local_")


@pytest.mark.parametrize("include_usage", [True, False])
def test_local_answer_is_a_complete_stream(include_usage: bool) -> None:
    translation = CHAT_COMPLETIONS.new_translation(replace(IDENTITY, include_usage=include_usage))
    chunks = translation.local_answer(ANSWER)
    folded = check_chunks(chunks, include_usage=include_usage)
    [choice] = folded["choices"]
    assert choice["message"] == {"role": "assistant", "content": ANSWER}
    assert choice["finish_reason"] == "stop"
    reasons = [e["finish_reason"] for c in chunks for e in c["choices"] if e["finish_reason"]]
    assert reasons == ["stop"]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ANSWER}
    assert all(c["id"] == "chatcmpl-local" and c["model"] == "qwen3-max" for c in chunks)
    if include_usage:
        assert chunks[-1] == {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "qwen3-max",
            "choices": [],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
    else:
        assert all(c["choices"] and c.get("usage") is None for c in chunks)
        assert "usage" not in folded


@pytest.mark.parametrize("fmt", ["tool_calls", "vendor", "off"])
def test_local_answer_never_shows_a_call(fmt: CodeFormat) -> None:
    chunks = CHAT_COMPLETIONS.new_translation(
        replace(IDENTITY, include_usage=True, code_format=fmt)
    ).local_answer("done")
    assert not any("tool_calls" in e["delta"] for c in chunks for e in c["choices"])
    check_chunks(chunks, include_usage=True)
