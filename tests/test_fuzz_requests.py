"""Fuzzed request bodies: whatever a client sends, never a 5xx, never a traceback, always an
OpenAI error body for a refusal, and only headers HTTP can carry.

The app runs in-process (httpx.ASGITransport) in front of an upstream that answers every
request with the same native stream (httpx.MockTransport), so a case costs no socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from proxy.chat.fields import FIELD_BY_NAME
from proxy.config import Settings, UpstreamSettings
from proxy.server.app import create_app
from tests.faulty_upstream import frames
from tests.loop_upstream import loop_upstream

NATIVE_STREAM = b"".join(frames("plain_text"))
FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class InProcessProxy:
    """One app and one event loop for a whole module of cases."""

    def __init__(self) -> None:
        def upstream(request: httpx.Request) -> httpx.Response:
            headers = {"content-type": "text/event-stream", "x-request-id": "fuzz-request-id"}
            return httpx.Response(200, headers=headers, content=NATIVE_STREAM)

        self.loop = asyncio.new_event_loop()
        self._upstream = loop_upstream(upstream)
        url = self.loop.run_until_complete(self._upstream.__aenter__())
        self.app: Starlette = create_app(
            Settings(upstream=UpstreamSettings(base_url=url, api_key="sk-k"))
        )
        # A crash must show as the 500 a real server would send, not as an exception here.
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://proxy.test")
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self._lifespan.__aenter__())

    def post(self, content: bytes, path: str = "/v1/chat/completions") -> httpx.Response:
        headers = {"content-type": "application/json"}
        request = self.client.post(path, content=content, headers=headers)
        return self.loop.run_until_complete(request)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self.loop.run_until_complete(self._upstream.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def proxy() -> Iterator[InProcessProxy]:
    in_process = InProcessProxy()
    yield in_process
    in_process.close()


def check(response: httpx.Response) -> None:
    """The properties every answer has, whatever was asked."""
    assert response.status_code < 500, response.text
    assert b"Traceback" not in response.content
    for name, value in response.headers.raw:
        assert name.isascii()
        assert name.strip() == name
        assert b":" not in name
        assert all(32 <= byte < 127 or byte == 9 for byte in value), (name, value)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert isinstance(error["message"], str)
        assert error["message"]
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.content.endswith(b"data: [DONE]\n\n")
    else:
        assert response.json()["object"] == "chat.completion"


def dumps(value: Any, ascii_only: bool = False) -> bytes:
    # The standard library writes integers of any size, which orjson would refuse.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def nest(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# Scalars that break assumptions: huge and tiny numbers, control characters, odd unicode.
texts = st.text(max_size=40) | st.sampled_from(
    [
        "",
        "\x00",
        "\r\n",
        "\u2028",
        "\ufeff",
        "é" * 300,
        "\U0001f916",
        "null",
        "[DONE]",
        "\x7f\x1b[31m",
    ]
)
numbers = (
    st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**40, 1e308, -1e-308, 0, -1])
)
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
) | st.integers(1, 100).map(nest)
known_keys = st.sampled_from(sorted(FIELD_BY_NAME))
message_keys = st.sampled_from(
    ["role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content", "partial"]
)
roles = st.sampled_from(["system", "user", "assistant", "tool", "developer", "function", "x"])


def valid_request() -> dict[str, Any]:
    return {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}


@FUZZ
@given(value=json_values)
def test_any_json_value(proxy: InProcessProxy, value: Any) -> None:
    check(proxy.post(dumps(value)))


@FUZZ
@given(body=st.dictionaries(known_keys | texts, json_values, max_size=8))
def test_objects_with_random_keys_and_values(proxy: InProcessProxy, body: dict[str, Any]) -> None:
    check(proxy.post(dumps(body)))


@FUZZ
@given(
    changes=st.dictionaries(known_keys | texts, json_values, min_size=1, max_size=4),
    stream=st.booleans(),
    ascii_only=st.booleans(),
)
def test_near_valid_requests_with_mutated_fields(
    proxy: InProcessProxy, changes: dict[str, Any], stream: bool, ascii_only: bool
) -> None:
    body = {**valid_request(), "stream": stream, **changes}
    check(proxy.post(dumps(body, ascii_only)))


@FUZZ
@given(
    message=st.dictionaries(message_keys | texts, json_values, max_size=5),
    role=roles,
    content=json_values,
    stream=st.booleans(),
)
def test_near_valid_messages_with_mutated_fields(
    proxy: InProcessProxy, message: dict[str, Any], role: str, content: Any, stream: bool
) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": role, "content": content, **message}]
    check(proxy.post(dumps({**valid_request(), "messages": messages, "stream": stream})))


@FUZZ
@given(
    parts=st.lists(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["text", "image_url", "video_url", "video", "x"])
                | json_values
            },
            optional={
                "text": json_values,
                "image_url": json_values,
                "video_url": json_values,
                "video": json_values,
            },
        ),
        max_size=4,
    )
)
def test_content_parts_with_mutated_fields(proxy: InProcessProxy, parts: list[Any]) -> None:
    check(proxy.post(dumps({**valid_request(), "messages": [{"role": "user", "content": parts}]})))


@FUZZ
@given(raw=st.binary(max_size=300) | st.binary(max_size=200).map(lambda b: b'{"model":' + b))
def test_raw_random_bytes(proxy: InProcessProxy, raw: bytes) -> None:
    check(proxy.post(raw))


@settings(max_examples=200, deadline=None)
@given(fmt=st.text(min_size=1, max_size=20))
def test_random_representation_in_the_path(proxy: InProcessProxy, fmt: str) -> None:
    path = f"/ci/{quote(fmt, safe='')}/v1/chat/completions"
    check(proxy.post(dumps(valid_request()), path=path))


# ---- what the fuzzing found (500s until fixed): kept as regression tests ---------------------


@pytest.mark.parametrize("role", [{"k": "user"}, ["user"]], ids=["object", "array"])
def test_a_role_that_is_not_a_string_is_a_400(proxy: InProcessProxy, role: Any) -> None:
    response = proxy.post(dumps({**valid_request(), "messages": [{"role": role, "content": "x"}]}))
    check(response)
    assert response.json()["error"]["param"] == "messages[0].role"


@pytest.mark.parametrize("kind", [{"k": "text"}, ["image_url"]], ids=["object", "array"])
def test_a_part_type_that_is_not_a_string_is_a_400(proxy: InProcessProxy, kind: Any) -> None:
    parts = [{"type": kind, "text": "x"}]
    response = proxy.post(
        dumps({**valid_request(), "messages": [{"role": "user", "content": parts}]})
    )
    check(response)
    assert response.json()["error"]["param"] == "messages[0].content[0]"


@pytest.mark.parametrize("depth", [100, 260, 1100])
@pytest.mark.parametrize("field", ["response_format", "x_unknown_extra"])
def test_deeply_nested_fields(proxy: InProcessProxy, field: str, depth: int) -> None:
    # orjson reads up to 1024 levels but writes only 254: in between, the proxy must refuse.
    nested = b'{"k":' * depth + b"1" + b"}" * depth
    body = dumps(valid_request())[:-1] + b', "' + field.encode() + b'": ' + nested + b"}"
    check(proxy.post(body))
