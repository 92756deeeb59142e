"""What the proxy sends upstream, as the simulated DashScope received it."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from proxy.simulator import TEXT_PATH, ReceivedRequest

MODEL = "qwen3-max-preview"


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def only(received: list[ReceivedRequest]) -> ReceivedRequest:
    assert len(received) == 1, received
    return received[0]


def test_envelope_headers_and_forced_parameters(
    client: openai.OpenAI, received: list[ReceivedRequest], keys: Any
) -> None:
    client.chat.completions.create(model=MODEL, messages=ask("hi"))
    upstream = only(received)
    assert upstream.path == TEXT_PATH
    assert upstream.headers["authorization"] == f"Bearer {keys.server}"
    assert upstream.headers["x-dashscope-sse"] == "enable"
    assert upstream.headers["accept"] == "text/event-stream"
    assert upstream.body == {
        "model": MODEL,
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "parameters": {"result_format": "message", "incremental_output": True},
    }


def test_streaming_request_has_the_same_upstream_shape(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=ask("hi"), stream=True, stream_options={"include_usage": True}
    )
    with stream:
        list(stream)
    parameters = only(received).body["parameters"]
    assert parameters == {"result_format": "message", "incremental_output": True}


def test_pass_through_forwards_the_client_key(
    passthrough_client: openai.OpenAI, received: list[ReceivedRequest], keys: Any
) -> None:
    passthrough_client.chat.completions.create(model=MODEL, messages=ask("hi"))
    assert only(received).headers["authorization"] == f"Bearer {keys.client}"


def test_server_key_replaces_the_client_key(
    client: openai.OpenAI, received: list[ReceivedRequest], keys: Any
) -> None:
    client.chat.completions.create(model=MODEL, messages=ask("hi"))
    authorization = only(received).headers["authorization"]
    assert authorization == f"Bearer {keys.server}"
    assert keys.client not in authorization


def test_openai_parameters_are_mapped(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    client.chat.completions.create(
        model=MODEL,
        messages=ask("hi"),
        max_tokens=100,
        max_completion_tokens=120,
        temperature=0.3,
        top_p=0.9,
        seed=42,
        stop=["END", "STOP"],
        presence_penalty=0.5,
    )
    parameters = only(received).body["parameters"]
    assert parameters == {
        "max_tokens": 100,
        "max_completion_tokens": 120,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 42,
        "stop": ["END", "STOP"],
        "presence_penalty": 0.5,
        "result_format": "message",
        "incremental_output": True,
    }


def test_dashscope_extras_pass_through_extra_body(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    extras = {
        "enable_thinking": True,
        "thinking_budget": 2048,
        "enable_code_interpreter": True,
        "enable_search": True,
        "search_options": {"forced_search": True, "search_strategy": "pro"},
        "top_k": 20,
        "repetition_penalty": 1.05,
    }
    client.chat.completions.create(model=MODEL, messages=ask("hi"), extra_body=extras)
    parameters = only(received).body["parameters"]
    assert {key: parameters[key] for key in extras} == extras
    assert set(only(received).body) == {"model", "input", "parameters"}


def test_client_cannot_switch_off_incremental_output(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=ask("hi"),
        extra_body={"incremental_output": False, "result_format": "text"},
    )
    parameters = only(received).body["parameters"]
    assert parameters["incremental_output"] is True
    assert parameters["result_format"] == "message"
    notes = raw.headers["x-dashscope-proxy-notes"]
    assert "incremental_output" in notes
    assert "result_format" in notes


def test_messages_of_every_role_with_string_and_part_content(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    def parts(*texts: str) -> list[dict[str, str]]:
        return [{"type": "text", "text": text} for text in texts]

    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": parts("Call ", "f.")},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": parts("4", "2")},
        {"role": "assistant", "content": parts("It said ", "42.")},
        {"role": "system", "content": parts("Still ", "brief.")},
        {"role": "tool", "tool_call_id": "call_1", "content": "plain"},
        {"role": "user", "content": "Thanks"},
    ]
    client.chat.completions.create(model=MODEL, messages=messages)
    assert only(received).body["input"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Call f."},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "It said 42."},
        {"role": "system", "content": "Still brief."},
        {"role": "tool", "content": "plain", "tool_call_id": "call_1"},
        {"role": "user", "content": "Thanks"},
    ]


def test_developer_role_is_sent_as_system(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "developer", "content": "Be brief."}, *ask("hi")],
    )
    assert only(received).body["input"]["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }
    assert "developer" in raw.headers["x-dashscope-proxy-notes"]


def test_unknown_top_level_key_is_accepted_and_passed_through(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=ask("hi"), extra_body={"some_future_flag": 1}
    )
    assert raw.http_response.status_code == 200
    assert only(received).body["parameters"]["some_future_flag"] == 1
    assert "x-dashscope-proxy-notes" not in raw.headers


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_inexpressible_openai_fields_are_dropped_and_reported(
    client: openai.OpenAI, received: list[ReceivedRequest], stream: bool
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=ask("hi"),
        frequency_penalty=0.5,
        user="user-1234",
        stream=stream,
    )
    parameters = only(received).body["parameters"]
    assert "frequency_penalty" not in parameters
    assert "user" not in parameters
    notes = raw.headers["x-dashscope-proxy-notes"]
    assert "frequency_penalty: dropped" in notes
    assert "user: dropped" in notes
    raw.parse()  # the answer itself is unaffected


def test_dropped_message_keys_are_reported(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "hi", "name": "alice"}]
    )
    assert only(received).body["input"]["messages"] == [{"role": "user", "content": "hi"}]
    assert "messages[0].name: dropped" in raw.headers["x-dashscope-proxy-notes"]


def test_response_carries_the_upstream_and_proxy_request_ids(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ask("hi"))
    completion = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert request_id == raw.headers["x-dashscope-request-id"]
    assert raw.request_id == request_id
    assert completion._request_id == request_id
    assert raw.headers["x-proxy-request-id"] in completion.id
