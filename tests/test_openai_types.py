"""Every body and event the proxy emits for the golden streams, read with the openai SDK's own
types, as a strict client would read them; and, where the SDK is lax, the raw JSON checked
against OpenAI's API specification (openai/openai-openapi: the required keys of
`CreateChatCompletionResponse`, `ChatCompletionResponseMessage`,
`CreateChatCompletionStreamResponse`, `CompletionUsage` and `Error`).

Each golden in tests/golden/ is translated for both client APIs: chat chunks, the folded
`chat.completion`, the in-band error; Responses events with the Response object a real request
would repeat (its echo comes from the request translator, not from test data).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai.types import ErrorObject
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_error import ResponseError

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.fold import fold_chunks
from proxy.chat.stream import ChatChunkEncoder
from proxy.core.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ProxyError,
    Unavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.core.events import ContentDelta, Finish, Usage
from proxy.core.native_stream import native_error
from proxy.core.plan import TranslationOptions
from proxy.core.sse import SSEDecoder
from proxy.core.wire import Item
from proxy.responses.api import RESPONSES_API
from proxy.responses.request import translate_responses_request
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder
from tests.golden_tools import identity, translate

GOLDEN = Path(__file__).parent / "golden"
# Every recorded upstream body, with the model its reviewed output was made for.
GOLDENS = {
    path.stem: json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))["model"]
    for path in sorted(GOLDEN.glob("*.sse"))
}

EVENT_TYPES = pydantic.TypeAdapter(ResponseStreamEvent)
# The union's members by their `type`, to name the one model that must accept an event.
EVENT_MODELS: dict[str, type[pydantic.BaseModel]] = {
    typing.get_args(model.model_fields["type"].annotation)[0]: model
    for model in typing.get_args(typing.get_args(ResponseStreamEvent)[0])
}
RESPONSE_ERROR_CODES = set(typing.get_args(ResponseError.model_fields["code"].annotation))
# OpenAI's error types, as its API returns them (docs/failures.md says which status has which).
OPENAI_ERROR_TYPES = {"invalid_request_error", "requests", "insufficient_quota", "server_error"}

CHUNK_KEYS = {"id", "object", "created", "model", "choices"}
CHUNK_CHOICE_KEYS = {"index", "delta", "finish_reason"}
COMPLETION_CHOICE_KEYS = {"index", "message", "logprobs", "finish_reason"}
MESSAGE_KEYS = {"role", "content", "refusal"}
USAGE_KEYS = {"prompt_tokens", "completion_tokens", "total_tokens"}
ERROR_KEYS = {"message", "type", "param", "code"}


def required(keys: set[str], body: Mapping[str, Any], what: str) -> None:
    missing = keys - set(body)
    assert not missing, f"{what} lacks {sorted(missing)}, required by OpenAI's specification"


def check_chunk(chunk: Mapping[str, Any]) -> None:
    ChatCompletionChunk.model_validate(chunk)
    required(CHUNK_KEYS, chunk, "chunk")
    for choice in chunk["choices"]:
        required(CHUNK_CHOICE_KEYS, choice, "chunk choice")
    if chunk.get("usage") is not None:
        required(USAGE_KEYS, chunk["usage"], "usage")


def check_completion(completion: Mapping[str, Any]) -> None:
    ChatCompletion.model_validate(completion)
    required(CHUNK_KEYS, completion, "chat.completion")
    for choice in completion["choices"]:
        required(COMPLETION_CHOICE_KEYS, choice, "choice")
        required(MESSAGE_KEYS, choice["message"], "message")
        assert choice["message"]["refusal"] is None
    if "usage" in completion:
        required(USAGE_KEYS, completion["usage"], "usage")


def check_error_body(body: Mapping[str, Any]) -> None:
    (error,) = body.values()
    ErrorObject.model_validate(error)
    required(ERROR_KEYS, error, "error")
    assert error["type"] in OPENAI_ERROR_TYPES, error


def check_event(event: Mapping[str, Any]) -> None:
    EVENT_MODELS[event["type"]].model_validate(event)  # names the model that refuses it
    EVENT_TYPES.validate_python(event)
    response = event.get("response")
    if response is None:
        return
    Response.model_validate(response)
    if response["error"] is not None:
        assert response["error"]["code"] in RESPONSE_ERROR_CODES
    if response["usage"] is not None:
        details = response["usage"]["input_tokens_details"]
        assert {"cached_tokens", "cache_write_tokens"} <= set(details)


def responses_events(name: str) -> list[Item]:
    """The golden's Responses events, as the exchange sends them (a failure after the first
    event in-band), for a request that asked for nothing special."""
    model = GOLDENS[name]
    plan = translate_responses_request({"model": model, "input": "hi"}, TranslationOptions())
    identity = ResponseIdentity("resp_types", 1700000000, model, "types", plan.extras.echo)
    translation = RESPONSES_API.new_translation(identity)
    decoder = SSEDecoder()
    events: list[Item] = []
    try:
        events.extend(translation.feed(decoder.feed(load(name)) + decoder.finish()))
        events.extend(translation.finish())
    except ProxyError as error:
        if events:
            events.extend(translation.failure(error))
    return events


def responses_failure(error: ProxyError, usage: Usage | None = None) -> Item:
    """The `response.failed` event of an answer that failed before it said anything."""
    model = "qwen-plus"
    plan = translate_responses_request({"model": model, "input": "hi"}, TranslationOptions())
    encoder = ResponsesEventEncoder(
        ResponseIdentity("resp_types", 1, model, "types", plan.extras.echo)
    )
    return encoder.fail(error, usage)[-1]


def load(name: str) -> bytes:
    return (GOLDEN / f"{name}.sse").read_bytes()


# ---- Chat Completions -------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDENS)
def test_every_chat_chunk_and_completion_is_what_the_sdk_reads(name: str) -> None:
    result = translate(load(name), GOLDENS[name])
    for chunk in result.chunks:
        check_chunk(chunk)
    if result.error is None:
        check_completion(dict(fold_chunks(result.chunks)))
    else:
        check_error_body(result.error.to_body())


def test_a_non_stream_message_says_refusal_null() -> None:
    """OpenAI's specification requires `refusal` (nullable), as DashScope's compatible mode
    sends it; the SDK would accept its absence, a strict client does not."""
    chunks = CHAT_COMPLETIONS.new_translation(identity("qwen-plus")).local_answer("hi")
    raw = json.loads(json.dumps(fold_chunks(chunks)))
    assert raw["choices"][0]["message"] == {"role": "assistant", "content": "hi", "refusal": None}


def test_the_proxys_own_answer_is_what_the_sdk_reads() -> None:
    """The answer to echoed tool results, made without DashScope, on both APIs."""
    chat = CHAT_COMPLETIONS.new_translation(replace(identity("m"), include_usage=True))
    chunks = chat.local_answer("done")
    for chunk in chunks:
        check_chunk(chunk)
    check_completion(fold_chunks(chunks))
    plan = translate_responses_request({"model": "m", "input": "hi"}, TranslationOptions())
    responses = RESPONSES_API.new_translation(
        ResponseIdentity("resp_types", 1, "m", "types", plan.extras.echo)
    )
    for event in responses.local_answer("done"):
        check_event(event)


def test_a_usage_chunk_with_every_detail_is_what_the_sdk_reads() -> None:
    usage = Usage(
        1200,
        40,
        10,
        900,
        1,
        cache_write_tokens=250,
        web_searches=2,
        prompt_text_tokens=21,
        prompt_image_tokens=1091,
        prompt_audio_tokens=0,
        prompt_video_tokens=88,
    )
    encoder = ChatChunkEncoder(replace(identity("m"), include_usage=True))
    chunks = [c for e in (ContentDelta(0, "x"), Finish(0, "stop"), usage) for c in encoder.feed(e)]
    chunks += encoder.finish()
    for chunk in chunks:
        check_chunk(chunk)
    parsed = ChatCompletionChunk.model_validate(chunks[-1]).usage
    assert parsed is not None
    assert parsed.prompt_tokens_details is not None
    assert parsed.prompt_tokens_details.cache_write_tokens == 250
    assert parsed.prompt_tokens_details.image_tokens == 1091
    response = Response.model_validate(
        responses_failure(UpstreamUnavailable("cut"), usage)["response"]
    )
    assert response.usage is not None
    assert response.usage.input_tokens_details.cache_write_tokens == 250


# ---- Responses --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDENS)
def test_every_responses_event_is_what_the_sdk_reads(name: str) -> None:
    for event in responses_events(name):
        check_event(event)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            native_error(b'{"code":"DataInspectionFailed","message":"Bad."}', 400),
            "invalid_prompt",
            "Bad. (DashScope code: DataInspectionFailed)",
        ),
        (
            native_error(b'{"code":"Throttling.RateQuota","message":"Slow."}', 429),
            "rate_limit_exceeded",
            "Slow. (DashScope code: Throttling.RateQuota)",
        ),
        (
            native_error(b'{"code":"InternalError","message":"Oops."}', None),
            "server_error",
            "Oops. (DashScope code: InternalError)",
        ),
        (
            UpstreamUnavailable("Cut.", code="upstream_truncated"),
            "server_error",
            "Cut. (code: upstream_truncated)",
        ),
        (
            UpstreamTimeout("Slow.", code="total_timeout"),
            "server_error",
            "Slow. (code: total_timeout)",
        ),
        (Unavailable("Bye.", code="draining"), "server_error", "Bye. (code: draining)"),
        (ProxyError("No code.", code=None), "server_error", "No code. (code: internal_error)"),
    ],
)
def test_a_failed_response_has_an_openai_code_and_the_original_in_its_message(
    error: ProxyError, code: str, message: str
) -> None:
    failed = responses_failure(error)
    check_event(failed)
    assert failed["response"]["error"] == {"code": code, "message": message}


# ---- error bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "InvalidParameter", "invalid_request_error"),
        (401, "InvalidApiKey", "invalid_request_error"),  # what OpenAI answers a bad key with
        (403, "AccessDenied", "invalid_request_error"),
        (404, "ModelNotFound", "invalid_request_error"),
        (408, "RequestTimeOut", "invalid_request_error"),
        (429, "Throttling.RateQuota", "requests"),
        (429, "Arrearage", "insufficient_quota"),
        (500, "InternalError", "server_error"),
        (503, "ModelUnavailable", "server_error"),
    ],
)
def test_upstream_error_bodies_use_openai_types_and_keep_dashscope_codes(
    status: int, code: str, expected: str
) -> None:
    body = native_error(json.dumps({"code": code, "message": "m"}).encode(), status).to_body()
    check_error_body(body)
    assert (body["error"]["type"], body["error"]["code"]) == (expected, code)


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("bad"),
        AuthenticationFailed("who"),
        NotFound("where"),
        PayloadTooLarge("big"),
        Unavailable("busy", code="too_many_streams"),
        UpstreamUnavailable("gone"),
        UpstreamTimeout("slow"),
        ProxyError("internal error in the proxy"),
        ProxyError("slow down", status=429, code="Throttling"),
    ],
)
def test_the_proxys_own_error_bodies_use_openai_types(error: ProxyError) -> None:
    check_error_body(error.to_body())
    assert (error.type == "server_error") == (error.status >= 500)
