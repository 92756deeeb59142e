"""Errors through the real SDK: the right exception class and status, DashScope's code kept,
in-band errors after the first byte, and never a traceback or an empty success."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import httpx
import openai
import pytest

from proxy.simulator import create_simulator_app
from proxy.simulator.scripts import MIDSTREAM_PARTIAL, TRUNCATED_PARTIAL
from tests.contract import check_sse_bytes

MODEL = "qwen3-max"


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def call(sdk: openai.OpenAI, text: str, *, stream: bool, **extra: Any) -> None:
    """One request; a streamed answer is read to the end."""
    response = sdk.chat.completions.create(
        model=MODEL, messages=ask(text), stream=stream, extra_body=extra or None
    )
    if stream:
        for _ in response:
            pass


class _Response(Protocol):
    """An httpx response, or the SDK's own (`openai` 3.x ships its own httpx fork)."""

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Any: ...

    def json(self) -> Any: ...


def assert_clean(response: _Response) -> dict[str, Any]:
    """An OpenAI error body, and nothing of Python's insides."""
    assert "Traceback" not in response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


# (scenario, exception, status, DashScope code, request id, retry allowed)
UPSTREAM_ERRORS = [
    ("error_401", openai.AuthenticationError, 401, "InvalidApiKey", "a1c0561c", False),
    ("error_429", openai.RateLimitError, 429, "Throttling.RateQuota", "4d5e6f7a", True),
    ("error_400", openai.BadRequestError, 400, "InvalidParameter", "b2c3d4e5", False),
    ("error_500", openai.InternalServerError, 500, "InternalError", "c3d4e5f6", True),
    ("error_503", openai.InternalServerError, 503, "ModelUnavailable", "d4e5f6a7", True),
    ("error_event_first", openai.BadRequestError, 400, "InvalidParameter", "7671ecd8", False),
    (
        "error_sse_non2xx",
        openai.RateLimitError,
        429,
        "Throttling.AllocationQuota",
        "566e3621",
        False,
    ),
]


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize(
    ("scenario", "exception", "status", "code", "request_id", "retry"),
    UPSTREAM_ERRORS,
    ids=[row[0] for row in UPSTREAM_ERRORS],
)
def test_upstream_error_keeps_status_and_code(
    client: openai.OpenAI,
    stream: bool,
    scenario: str,
    exception: type[openai.APIStatusError],
    status: int,
    code: str,
    request_id: str,
    retry: bool,
) -> None:
    with pytest.raises(exception) as caught:
        call(client, f"[sim:{scenario}]", stream=stream)
    error = caught.value
    assert type(error) is exception
    assert error.status_code == status
    assert error.code == code
    assert isinstance(error.body, dict)
    assert error.body["code"] == code
    body = assert_clean(error.response)
    assert body["type"] == error.type
    assert (error.request_id or "").startswith(request_id)
    assert error.response.headers["x-dashscope-request-id"].startswith(request_id)
    if retry:
        assert "x-should-retry" not in error.response.headers
    else:
        assert error.response.headers["x-should-retry"] == "false"


def test_error_after_the_first_chunk_is_raised_in_band(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=ask("[sim:error_event_midstream]"), stream=True
    )
    pieces: list[str] = []

    def read_all() -> None:
        for chunk in stream:
            pieces.append(chunk.choices[0].delta.content or "")

    with stream, pytest.raises(openai.APIError) as caught:
        read_all()
    content = "".join(pieces)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "DataInspectionFailed"
    assert "inappropriate" in caught.value.message
    assert content == MIDSTREAM_PARTIAL, "the chunks before the error stay delivered"


def test_midstream_error_wire_format(raw: httpx.Client) -> None:
    body = {"model": MODEL, "messages": ask("[sim:error_event_midstream]"), "stream": True}
    response = raw.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert "Traceback" not in response.text
    *_, error_frame, done, _ = response.content.split(b"\n\n")
    assert error_frame.startswith(b'data: {"error":')
    assert done == b"data: [DONE]"
    result = check_sse_bytes(response.content)
    assert result.error is not None
    assert result.error["code"] == "DataInspectionFailed"
    assert result.message["content"] == MIDSTREAM_PARTIAL


def test_midstream_error_without_stream_is_a_status_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        call(client, "[sim:error_event_midstream]", stream=False)
    assert caught.value.code == "DataInspectionFailed"
    assert_clean(caught.value.response)


def test_truncated_stream_ends_with_an_in_band_error(
    client: openai.OpenAI, raw: httpx.Client
) -> None:
    with pytest.raises(openai.APIError) as caught:
        call(client, "[sim:truncated]", stream=True)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "upstream_truncated"

    body = {"model": MODEL, "messages": ask("[sim:truncated]"), "stream": True}
    response = raw.post("/v1/chat/completions", json=body)
    result = check_sse_bytes(response.content)
    assert result.error is not None
    assert result.error["code"] == "upstream_truncated"
    assert result.message["content"] == TRUNCATED_PARTIAL
    assert "Traceback" not in response.text


def test_truncated_stream_without_stream_is_a_502(
    client: openai.OpenAI, scenario_text: Callable[..., Any]
) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        call(client, "[sim:truncated]", stream=False)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_truncated"
    assert caught.value.request_id == scenario_text("truncated").request_id
    assert_clean(caught.value.response)


def test_malformed_json_is_a_400(raw: httpx.Client) -> None:
    response = raw.post(
        "/v1/chat/completions",
        content=b'{"model": "qwen3-max", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    error = assert_clean(response)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"enable_thinking": "yes"}, "enable_thinking"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ],
    ids=["missing-messages", "empty-messages", "temperature", "max_tokens", "thinking", "role"],
)
def test_invalid_request_is_a_400_naming_the_field(
    client: openai.OpenAI, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("hi"), extra_body=body)
    assert caught.value.param == field
    assert f"'{field}'" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert_clean(caught.value.response)


def test_tools_with_code_interpreter_is_a_400(client: openai.OpenAI, received: list[Any]) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL,
            messages=ask("hi"),
            tools=[tool],  # type: ignore[list-item]
            extra_body={"enable_code_interpreter": True, "enable_thinking": True},
        )
    assert caught.value.param == "tools"
    assert "cannot be combined" in caught.value.message
    assert received == [], "a request that cannot work never goes upstream"


def test_no_api_key_anywhere_is_a_401(passthrough_url: str, received: list[Any]) -> None:
    body = {"model": MODEL, "messages": ask("hi")}
    response = httpx.post(f"{passthrough_url}/v1/chat/completions", json=body)
    assert response.status_code == 401
    assert assert_clean(response)["type"] == "invalid_request_error"  # as OpenAI's 401
    assert response.headers["x-should-retry"] == "false"
    assert received == []


def test_rejected_pass_through_key_is_an_authentication_error(
    passthrough_url: str, sdk_for: Callable[..., openai.OpenAI]
) -> None:
    # The simulator refuses this key, as DashScope would refuse a bad one.
    sdk = sdk_for(passthrough_url, api_key="sk-invalid")
    with pytest.raises(openai.AuthenticationError) as caught:
        call(sdk, "hi", stream=True)
    assert caught.value.code == "InvalidApiKey"


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_unreachable_upstream_is_a_502(
    closed_port_url: str,
    start_proxy: Callable[..., str],
    sdk_for: Callable[..., openai.OpenAI],
    stream: bool,
) -> None:
    proxy = start_proxy(closed_port_url)
    with pytest.raises(openai.InternalServerError) as caught:
        call(sdk_for(proxy), "hi", stream=stream)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unavailable"
    assert_clean(caught.value.response)


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_no_first_frame_in_time_is_a_504(
    hanging_upstream: Any,
    start_proxy: Callable[..., str],
    sdk_for: Callable[..., openai.OpenAI],
    stream: bool,
) -> None:
    proxy = start_proxy(hanging_upstream.url, first_frame_timeout=0.2)
    with pytest.raises(openai.APIStatusError) as caught:
        call(sdk_for(proxy), "hi", stream=stream)
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"
    assert caught.value.request_id == hanging_upstream.request_id
    assert_clean(caught.value.response)


def test_upstream_going_silent_is_a_504_or_an_in_band_timeout(
    serve: Callable[[Any], str],
    start_proxy: Callable[..., str],
    sdk_for: Callable[..., openai.OpenAI],
) -> None:
    # The simulator sends its first frame at once and then pauses between frames.
    slow_simulator = serve(create_simulator_app(frame_delay=5.0))
    sdk = sdk_for(start_proxy(slow_simulator, read_timeout=0.2))

    with pytest.raises(openai.APIStatusError) as caught:
        call(sdk, "hi", stream=False)
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"
    assert_clean(caught.value.response)

    with pytest.raises(openai.APIError) as in_band:
        call(sdk, "hi", stream=True)
    assert not isinstance(in_band.value, openai.APIStatusError)
    assert in_band.value.code == "upstream_timeout"
