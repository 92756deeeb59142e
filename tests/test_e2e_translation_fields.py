"""Request translation end to end: images and videos (endpoint routing and native parts), field
notes (nothing dropped silently), message rewrites, and keep-alive comments during silences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from proxy.config import ServerSettings
from proxy.simulator import MULTIMODAL_PATH, TEXT_PATH, ReceivedRequest
from proxy.simulator.feature_scripts import CHOICE_TEXTS, VISION_ANSWER
from tests.contract import check_sse_bytes

NOTES = "x-dashscope-proxy-notes"
CAT_URL = "https://images.example.com/cat.jpg"
PNG_URL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
VIDEO_URL = "https://videos.example.com/cat.mp4"
CACHE = {"type": "ephemeral"}


def ask(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def only(received: list[ReceivedRequest]) -> ReceivedRequest:
    assert len(received) == 1, received
    return received[0]


# ---- images and videos ----------------------------------------------------------------------


def image_message(url: str, text: str = "[sim:vision] What is in the picture?") -> Any:
    return {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "text", "text": text},
        ],
    }


@pytest.mark.parametrize("model", ["qwen-vl-max", "qwen-plus"])
@pytest.mark.parametrize("url", [CAT_URL, PNG_URL])
def test_images_go_to_the_multimodal_endpoint_as_native_parts(
    client: openai.OpenAI, received: list[ReceivedRequest], model: str, url: str
) -> None:
    completion = client.chat.completions.create(model=model, messages=[image_message(url)])
    upstream = only(received)
    assert upstream.path == MULTIMODAL_PATH
    assert upstream.body["model"] == model
    assert upstream.body["input"]["messages"] == [
        {
            "role": "user",
            "content": [{"image": url}, {"text": "[sim:vision] What is in the picture?"}],
        }
    ]
    content = completion.choices[0].message.content or ""
    assert content.startswith(VISION_ANSWER)
    assert f"image {url}" in content


def test_images_stream_from_the_multimodal_endpoint(raw: httpx.Client) -> None:
    body = {"model": "qwen-vl-max", "messages": [image_message(CAT_URL)], "stream": True}
    response = raw.post("/v1/chat/completions", json=body)
    result = check_sse_bytes(response.content)
    assert result.message["content"] == f"{VISION_ANSWER} Received: image {CAT_URL}."


def test_video_url_part_becomes_a_video_part(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    video: Any = {"type": "video_url", "video_url": {"url": VIDEO_URL}}
    messages: Any = [{"role": "user", "content": [video, {"type": "text", "text": "[sim:vision]"}]}]
    completion = client.chat.completions.create(model="qwen-vl-max", messages=messages)
    upstream = only(received)
    assert upstream.path == MULTIMODAL_PATH
    assert upstream.body["input"]["messages"][0]["content"] == [
        {"video": VIDEO_URL},
        {"text": "[sim:vision]"},
    ]
    assert f"video {VIDEO_URL}" in (completion.choices[0].message.content or "")


def test_multimodal_model_with_plain_text_gets_text_parts(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    messages: Any = [{"role": "system", "content": "Be brief."}, *ask("[sim:vision] Hello")]
    completion = client.chat.completions.create(model="qwen3.5-plus", messages=messages)
    upstream = only(received)
    assert upstream.path == MULTIMODAL_PATH
    assert upstream.body["input"]["messages"] == [
        {"role": "system", "content": [{"text": "Be brief."}]},
        {"role": "user", "content": [{"text": "[sim:vision] Hello"}]},
    ]
    assert completion.choices[0].message.content == f"{VISION_ANSWER} Received: nothing."


def test_text_model_with_text_stays_on_text_generation(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    client.chat.completions.create(model="qwen-plus", messages=ask("Hello"))
    upstream = only(received)
    assert upstream.path == TEXT_PATH
    assert upstream.body["input"]["messages"] == [{"role": "user", "content": "Hello"}]


def test_image_detail_is_reported(client: openai.OpenAI, received: list[ReceivedRequest]) -> None:
    """What DashScope cannot express per image is reported, not silently lost
    (docs/architecture.md); more rules in tests/test_media_parts.py."""
    image: Any = {"type": "image_url", "image_url": {"url": CAT_URL, "detail": "low"}}
    messages: Any = [{"role": "user", "content": [image, {"type": "text", "text": "[sim:vision]"}]}]
    raw = client.chat.completions.with_raw_response.create(model="qwen-vl-max", messages=messages)
    assert only(received).body["input"]["messages"][0]["content"][0] == {"image": CAT_URL}
    assert "image_url.detail: 'low' dropped" in raw.headers.get(NOTES, "")


def test_base64_audio_without_a_format_is_400_naming_it(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    audio: Any = {"type": "input_audio", "input_audio": {"data": "UklGRg=="}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen-vl-max", messages=[{"role": "user", "content": [audio]}]
        )
    assert caught.value.param == "messages[0].content[0].input_audio.format"
    assert received == []


# ---- fields DashScope cannot express, and mapped ones ----------------------------------------


def test_unsupported_fields_are_dropped_and_reported(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="qwen-plus",
        messages=ask("hi"),
        frequency_penalty=0.5,
        user="user-42",
        metadata={"team": "search"},
    )
    parameters = only(received).body["parameters"]
    notes = raw.headers[NOTES]
    for field in ("frequency_penalty", "user", "metadata"):
        assert field not in parameters
        assert f"{field}: dropped" in notes


@pytest.mark.parametrize("key", ["名字", "nick\r\nx-injected: 1"], ids=["non-latin-1", "crlf"])
@pytest.mark.parametrize("stream", [False, True])
def test_any_unknown_message_key_is_reported_without_breaking_the_response(
    raw: httpx.Client, key: str, stream: bool
) -> None:
    """Reported key names come from the client: the notes header must stay a valid header."""
    message = {"role": "user", "content": "hi", key: "x"}
    body = {"model": "qwen-plus", "messages": [message], "stream": stream}
    response = raw.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert "x-injected" not in response.headers
    assert "messages[0]." in response.headers[NOTES]
    assert "dropped" in response.headers[NOTES]


@pytest.mark.parametrize(("top_p", "sent"), [(0, 1e-06), (1.5, 1.0)])
def test_top_p_is_clamped_and_reported(
    client: openai.OpenAI, received: list[ReceivedRequest], top_p: float, sent: float
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="qwen-plus", messages=ask("hi"), top_p=top_p
    )
    assert only(received).body["parameters"]["top_p"] == sent
    assert "top_p" in raw.headers[NOTES]


@pytest.mark.parametrize(
    ("effort", "extra", "expected"),
    [
        ("low", {}, {"enable_thinking": True, "thinking_budget": 1024}),
        ("none", {}, {"enable_thinking": False}),
        ("high", {"enable_thinking": False}, {"enable_thinking": False}),
    ],
)
def test_reasoning_effort_maps_to_thinking(
    client: openai.OpenAI,
    received: list[ReceivedRequest],
    effort: Any,
    extra: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    client.chat.completions.create(
        model="qwen-plus", messages=ask("hi"), reasoning_effort=effort, extra_body=extra
    )
    parameters = only(received).body["parameters"]
    assert {k: parameters[k] for k in expected} == expected
    assert "reasoning_effort" not in parameters
    if effort == "none":
        assert "thinking_budget" not in parameters


def test_message_rewrites_are_reported(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    messages: Any = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": "hi", "name": "alice"},
        {"role": "assistant", "content": "Hello!", "reasoning_content": "Greet back."},
        {"role": "user", "content": "again"},
    ]
    raw = client.chat.completions.with_raw_response.create(model="qwen-plus", messages=messages)
    sent = only(received).body["input"]["messages"]
    assert sent == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "again"},
    ]
    notes = raw.headers[NOTES]
    assert "messages[0].role: developer sent as system" in notes
    assert "messages[1].name: dropped" in notes
    assert "messages[2].reasoning_content: dropped" in notes


def test_preserve_thinking_keeps_replayed_reasoning(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    messages: Any = [
        *ask("hi"),
        {"role": "assistant", "content": "Hello!", "reasoning_content": "Greet back."},
        *ask("again"),
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="qwen-plus", messages=messages, extra_body={"preserve_thinking": True}
    )
    body = only(received).body
    assert body["input"]["messages"][1]["reasoning_content"] == "Greet back."
    assert body["parameters"]["preserve_thinking"] is True
    assert "reasoning_content" not in raw.headers.get(NOTES, "")


def test_cache_control_reaches_the_part(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    messages: Any = [
        {"role": "system", "content": "A long system prompt.", "cache_control": CACHE},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "A long document.", "cache_control": CACHE},
                {"type": "text", "text": "Summarise it."},
            ],
        },
    ]
    client.chat.completions.create(model="qwen-plus", messages=messages)
    sent = only(received).body["input"]["messages"]
    assert sent == [
        {
            "role": "system",
            "content": [{"type": "text", "text": "A long system prompt.", "cache_control": CACHE}],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "A long document.", "cache_control": CACHE},
                {"type": "text", "text": "Summarise it."},
            ],
        },
    ]


def test_message_cache_control_goes_on_the_last_text_part(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    """proxy/chat/fields.py MESSAGE_ROWS: `cache_control` on a message is "kept on the (last) text
    part", not on whatever part happens to come last."""
    message = image_message(CAT_URL, "[sim:vision] Describe it.")
    message["content"].reverse()  # the text first, the image last
    messages: Any = [{**message, "cache_control": CACHE}]
    client.chat.completions.create(model="qwen-vl-max", messages=messages)
    sent = only(received).body["input"]["messages"]
    assert sent == [
        {
            "role": "user",
            "content": [
                {"text": "[sim:vision] Describe it.", "cache_control": CACHE},
                {"image": CAT_URL},
            ],
        }
    ]


# ---- keep-alive -----------------------------------------------------------------------------


def keepalive_stream(
    start: Callable[..., str],
    upstream: str,
    http_for: Callable[[str], httpx.Client],
    interval: float,
) -> tuple[bytes, str]:
    url = start(upstream, server=ServerSettings(keepalive_interval=interval))
    body = {"model": "qwen-plus", "messages": ask("[sim:n2]"), "stream": True}
    response = http_for(url).post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    return response.content, url


def test_keepalive_comments_fill_silences(
    start_configured_proxy: Callable[..., str],
    slow_simulator_url: str,
    http_for: Callable[[str], httpx.Client],
    sdk_for: Callable[..., openai.OpenAI],
) -> None:
    body, url = keepalive_stream(start_configured_proxy, slow_simulator_url, http_for, 0.05)
    assert b"\n: keep-alive\n\n" in body
    result = check_sse_bytes(body)
    assert result.message["content"] == CHOICE_TEXTS[0]

    stream = sdk_for(url).chat.completions.create(
        model="qwen-plus", messages=ask("[sim:n2]"), stream=True
    )
    with stream:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == CHOICE_TEXTS[0]


def test_no_keepalive_comments_when_turned_off(
    start_configured_proxy: Callable[..., str],
    slow_simulator_url: str,
    http_for: Callable[[str], httpx.Client],
) -> None:
    body, _ = keepalive_stream(start_configured_proxy, slow_simulator_url, http_for, 0)
    assert not [line for line in body.split(b"\n") if line.startswith(b":")]
    assert check_sse_bytes(body).message["content"] == CHOICE_TEXTS[0]
