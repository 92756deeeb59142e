"""Audio parts and image detail, on both client APIs: `input_audio` (and audio `input_file`)
become native audio parts on the multimodal endpoint; an image asking for `high` detail turns
`vl_high_resolution_images` on for the whole request and the notes say so
(docs/dashscope-protocol.md, "Request body")."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from proxy.chat.messages import chat_turns
from proxy.chat.request import translate_chat_request
from proxy.core.errors import InvalidRequest
from proxy.core.native_request import MULTIMODAL_GENERATION_PATH, has_media
from proxy.core.plan import UpstreamPlan
from proxy.responses.input import input_turns
from proxy.responses.request import translate_responses_request
from proxy.simulator import MULTIMODAL_PATH, ReceivedRequest

WAV = "UklGRiQAAABXQVZF"  # the first bytes of a WAV file, in base64
IMAGE = "https://example.com/cat.png"
AUDIO_URL = "https://dashscope.oss-cn-beijing.aliyuncs.com/audios/welcome.mp3"
HIGH = "vl_high_resolution_images"
NOTES = "x-dashscope-proxy-notes"


def chat(*parts: Any, model: str = "qwen-plus", **extra: Any) -> UpstreamPlan[Any]:
    body = {"model": model, "messages": [{"role": "user", "content": list(parts)}], **extra}
    return translate_chat_request(body)


def responses(*parts: Any, model: str = "qwen-plus", **extra: Any) -> UpstreamPlan[Any]:
    body = {"model": model, "input": [{"role": "user", "content": list(parts)}], **extra}
    return translate_responses_request(body)


def content(plan: UpstreamPlan[Any]) -> Any:
    return plan.body["input"]["messages"][-1]["content"]


def audio(data: str, audio_format: str | None = "wav") -> dict[str, Any]:
    value = {"data": data} if audio_format is None else {"data": data, "format": audio_format}
    return {"type": "input_audio", "input_audio": value}


def image(detail: str | None, url: str = IMAGE) -> dict[str, Any]:
    image_url = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": image_url}


def input_image(detail: str | None, url: str = IMAGE) -> dict[str, Any]:
    part = {"type": "input_image", "image_url": url}
    return part if detail is None else {**part, "detail": detail}


TEXT = {"type": "text", "text": "What is said?"}
INPUT_TEXT = {"type": "input_text", "text": "What is said?"}


# ---- audio: chat completions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audio_format", "mime"), [("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("WAV", "audio/wav")]
)
def test_base64_audio_becomes_a_data_url_on_the_multimodal_endpoint(
    audio_format: str, mime: str
) -> None:
    plan = chat(TEXT, audio(WAV, audio_format))  # qwen-plus alone would go to the text endpoint
    assert plan.path == MULTIMODAL_GENERATION_PATH
    assert content(plan) == [{"text": "What is said?"}, {"audio": f"data:{mime};base64,{WAV}"}]
    assert plan.notes == ()


@pytest.mark.parametrize("url", [AUDIO_URL, f"data:audio/wav;base64,{WAV}", "oss://b/a.wav"])
def test_audio_data_that_is_already_a_url_is_sent_as_it_is(url: str) -> None:
    # DashScope's own compatible-mode samples put a URL in `data`, without a format.
    assert content(chat(audio(url, None))) == [{"audio": url}]


def test_audio_extra_keys_are_dropped_and_noted() -> None:
    part = {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav", "rate": 16000}}
    assert chat(part).notes == ("messages[0].content[0].input_audio.rate: dropped",)


@pytest.mark.parametrize(
    ("part", "param"),
    [
        (audio(WAV, None), "messages[0].content[0].input_audio.format"),
        (audio(WAV, "aiff"), "messages[0].content[0].input_audio.format"),
        (audio("", "wav"), "messages[0].content[0].input_audio.data"),
        ({"type": "input_audio", "input_audio": WAV}, "messages[0].content[0].input_audio.data"),
        ({"type": "input_audio"}, "messages[0].content[0].input_audio.data"),
    ],
)
def test_unusable_audio_is_a_400_naming_the_field(part: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat(part)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert f"'{param}'" in caught.value.message


def test_audio_counts_as_media() -> None:
    turns = chat_turns(
        [{"role": "user", "content": [audio(WAV)]}], preserve_thinking=False, notes=[]
    )
    assert has_media(turns)


# ---- audio: Responses ---------------------------------------------------------------------------


def test_responses_input_audio_becomes_an_audio_part() -> None:
    plan = responses(INPUT_TEXT, audio(WAV, "mp3"))
    assert plan.path == MULTIMODAL_GENERATION_PATH
    assert content(plan) == [{"text": "What is said?"}, {"audio": f"data:audio/mpeg;base64,{WAV}"}]


@pytest.mark.parametrize(
    ("part", "url"),
    [
        ({"file_data": f"data:audio/wav;base64,{WAV}"}, f"data:audio/wav;base64,{WAV}"),
        ({"file_data": WAV, "filename": "note.WAV"}, f"data:audio/wav;base64,{WAV}"),
        (
            {"file_data": f"data:application/octet-stream;base64,{WAV}", "filename": "a.mp3"},
            f"data:audio/mpeg;base64,{WAV}",
        ),
        ({"file_url": AUDIO_URL}, AUDIO_URL),
        ({"file_url": "https://example.com/a.flac?sig=1"}, "https://example.com/a.flac?sig=1"),
        ({"file_url": "https://example.com/get", "filename": "a.m4a"}, "https://example.com/get"),
    ],
)
def test_responses_audio_files_become_audio_parts(part: dict[str, str], url: str) -> None:
    plan = responses({"type": "input_file", **part})
    assert plan.path == MULTIMODAL_GENERATION_PATH
    assert content(plan) == [{"audio": url}]


@pytest.mark.parametrize(
    "part",
    [
        {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
        {"file_url": "https://example.com/a.pdf"},
        {"file_id": "file-123"},
        {"file_url": "ftp://example.com/a.wav"},
    ],
)
def test_responses_other_files_are_a_400_naming_the_part(part: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses({"type": "input_file", **part})
    assert caught.value.param is not None
    assert caught.value.param.startswith("input[0].content[0]")


def test_turns_alone_need_no_parameters() -> None:
    # The log inspector reads a Responses input back as turns, with no request to set.
    turns = input_turns([{"role": "user", "content": [input_image("high")]}], None, [])
    assert turns == [{"role": "user", "content": [{"image": IMAGE}]}]


# ---- image detail, both APIs --------------------------------------------------------------------

CHAT_WHERE = "messages[0].content[{}].image_url.detail"
RESPONSES_WHERE = "input[0].content[{}].detail"
APIS = [(chat, image, CHAT_WHERE), (responses, input_image, RESPONSES_WHERE)]


@pytest.mark.parametrize(("api", "part", "where"), APIS)
@pytest.mark.parametrize("detail", ["high", "original"])
def test_one_high_detail_image_turns_high_resolution_on_for_the_request(
    api: Any, part: Any, where: str, detail: str
) -> None:
    plan = api(part(None), part(detail), part("high"))
    assert plan.body["parameters"][HIGH] is True
    assert content(plan) == [{"image": IMAGE}] * 3
    [note] = plan.notes  # once, for the first image that asked
    assert note.startswith(f"{HIGH}: true for every image of the request")
    assert f"{where.format(1)} is {detail!r}" in note


@pytest.mark.parametrize(("api", "part", "where"), APIS)
def test_auto_and_no_detail_change_nothing(api: Any, part: Any, where: str) -> None:
    plan = api(part("auto"), part(None))
    assert HIGH not in plan.body["parameters"]
    assert plan.notes == ()


@pytest.mark.parametrize(("api", "part", "where"), APIS)
def test_low_detail_is_dropped_and_noted(api: Any, part: Any, where: str) -> None:
    plan = api(part("low"))
    assert HIGH not in plan.body["parameters"]
    assert plan.notes == (f"{where.format(0)}: 'low' dropped (DashScope has no per-image detail)",)


@pytest.mark.parametrize(("api", "part", "where"), APIS)
def test_the_requests_own_setting_wins(api: Any, part: Any, where: str) -> None:
    off = api(part("high"), vl_high_resolution_images=False)
    assert off.body["parameters"][HIGH] is False
    assert off.notes == (
        f"{where.format(0)}: 'high' not applied (the request sets {HIGH} to False)",
    )
    on = api(part("high"), vl_high_resolution_images=True)
    assert on.body["parameters"][HIGH] is True
    assert on.notes == ()


# ---- through the proxy --------------------------------------------------------------------------


def test_audio_and_high_detail_reach_dashscope_and_the_notes_header(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    messages: Any = [{"role": "user", "content": [TEXT, audio(WAV, "mp3"), image("high")]}]
    raw = client.chat.completions.with_raw_response.create(model="qwen-plus", messages=messages)
    [upstream] = received
    assert upstream.path == MULTIMODAL_PATH
    assert upstream.body["input"]["messages"][0]["content"] == [
        {"text": "What is said?"},
        {"audio": f"data:audio/mpeg;base64,{WAV}"},
        {"image": IMAGE},
    ]
    assert upstream.body["parameters"][HIGH] is True
    assert f"{HIGH}: true for every image of the request" in raw.headers[NOTES]


def test_responses_audio_reaches_dashscope(
    client: openai.OpenAI, received: list[ReceivedRequest]
) -> None:
    part: Any = {"type": "input_file", "file_url": AUDIO_URL}
    client.responses.create(model="qwen-plus", input=[{"role": "user", "content": [part]}])
    [upstream] = received
    assert upstream.path == MULTIMODAL_PATH
    assert upstream.body["input"]["messages"][0]["content"] == [{"audio": AUDIO_URL}]
