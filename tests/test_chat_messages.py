"""OpenAI messages -> DashScope native messages for the text and multimodal endpoints, and which
endpoint a request goes to."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.chat.messages import chat_turns
from proxy.chat.request import translate_chat_request
from proxy.core.errors import InvalidRequest
from proxy.core.models import ModelFamily, ModelTable
from proxy.core.native_request import (
    MULTIMODAL_GENERATION_PATH,
    TEXT_GENERATION_PATH,
    NativeMessage,
    has_media,
    native_messages,
)
from proxy.core.plan import TranslationOptions

CACHE = {"type": "ephemeral"}
IMAGE = "https://example.com/cat.png"
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}


def translate(
    *messages: Any, multimodal: bool, preserve_thinking: bool = False
) -> tuple[list[NativeMessage], list[str]]:
    """Chat messages as the endpoint takes them, and the notes on what changed."""
    notes: list[str] = []
    turns = chat_turns(list(messages), preserve_thinking=preserve_thinking, notes=notes)
    return native_messages(turns, multimodal=multimodal), notes


def one(message: Any, *, multimodal: bool, **kw: Any) -> NativeMessage:
    [out], _ = translate(message, multimodal=multimodal, **kw)
    return out


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


# ---- each role on each endpoint ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["system", "user", "assistant"])
def test_string_content_per_endpoint(role: str) -> None:
    message = {"role": role, "content": "hello"}
    assert one(message, multimodal=False) == {"role": role, "content": "hello"}
    assert one(message, multimodal=True) == {"role": role, "content": [{"text": "hello"}]}


def test_developer_is_sent_as_system_on_both_endpoints() -> None:
    for multimodal, content in ((False, "be brief"), (True, [{"text": "be brief"}])):
        out, notes = translate({"role": "developer", "content": "be brief"}, multimodal=multimodal)
        assert out == [{"role": "system", "content": content}]
        assert notes == ["messages[0].role: developer sent as system"]


def test_tool_message_per_endpoint() -> None:
    message = {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    assert one(message, multimodal=False) == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "call_1",
    }
    assert one(message, multimodal=True) == {
        "role": "tool",
        "content": [{"text": "42"}],
        "tool_call_id": "call_1",
    }


def test_tool_message_with_parts_per_endpoint() -> None:
    parts = [{"type": "text", "text": "4"}, {"type": "text", "text": "2"}]
    message = {"role": "tool", "tool_call_id": "call_1", "content": parts}
    assert one(message, multimodal=False)["content"] == "42"
    assert one(message, multimodal=True)["content"] == [{"text": "4"}, {"text": "2"}]


@pytest.mark.parametrize(("multimodal", "content"), [(False, ""), (True, [])])
def test_assistant_with_tool_calls_and_null_content(multimodal: bool, content: Any) -> None:
    message = {"role": "assistant", "content": None, "tool_calls": [CALL]}
    assert one(message, multimodal=multimodal) == {
        "role": "assistant",
        "content": content,
        "tool_calls": [CALL],
    }


def test_empty_tool_call_arguments_become_an_empty_object() -> None:
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"id": "c2", "type": "function", "function": {"name": "g"}},
    ]
    out = one({"role": "assistant", "content": "", "tool_calls": calls}, multimodal=False)
    assert [c["function"]["arguments"] for c in out["tool_calls"]] == ["{}", "{}"]


def test_tool_call_keeps_only_what_dashscope_takes() -> None:
    call = {**CALL, "index": 3, "type": "code_interpreter"}
    out = one({"role": "assistant", "content": "", "tool_calls": [call]}, multimodal=False)
    assert out["tool_calls"] == [CALL]


# ---- media parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [IMAGE, "http://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="]
)
def test_image_url_becomes_an_image_part(url: str) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "what is it?"}, image(url)]}
    assert one(message, multimodal=True)["content"] == [{"text": "what is it?"}, {"image": url}]


@pytest.mark.parametrize("url", ["ftp://example.com/cat.png", "file:///etc/passwd", "cat.png", ""])
def test_bad_image_url_is_a_400_naming_the_part(url: str) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "x"}, image(url)]}
    with pytest.raises(InvalidRequest) as caught:
        translate({"role": "user", "content": "hi"}, message, multimodal=True)
    assert caught.value.status == 400
    assert caught.value.param == "messages[1].content[1].image_url"
    assert "messages[1].content[1].image_url" in caught.value.message


@pytest.mark.parametrize(
    "part",
    [
        {"type": "file", "file": {"file_id": "f-1"}},
        {"type": "refusal", "refusal": "no"},
        {"type": "text", "text": 5},
        "plain string",
    ],
)
def test_other_part_types_are_a_400_naming_the_part(part: Any) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "x"}, part]}
    with pytest.raises(InvalidRequest) as caught:
        translate(message, multimodal=True)
    assert caught.value.param == "messages[0].content[1]"
    assert "'messages[0].content[1]'" in caught.value.message


def test_image_url_without_an_object_is_a_400() -> None:
    part = {"type": "image_url", "image_url": IMAGE}
    with pytest.raises(InvalidRequest) as caught:
        translate({"role": "user", "content": [part]}, multimodal=True)
    assert caught.value.param == "messages[0].content[0].image_url"


def test_video_url_becomes_a_video_part() -> None:
    part = {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}
    out = one({"role": "user", "content": [part]}, multimodal=True)
    assert out["content"] == [{"video": "https://example.com/clip.mp4"}]


def test_bad_video_url_is_a_400_naming_the_part() -> None:
    part = {"type": "video_url", "video_url": {"url": "rtsp://cam/1"}}
    with pytest.raises(InvalidRequest) as caught:
        translate({"role": "user", "content": [part]}, multimodal=True)
    assert caught.value.param == "messages[0].content[0].video_url"


def test_dashscope_video_frame_list_passes_as_is() -> None:
    frames = ["https://example.com/f1.jpg", "https://example.com/f2.jpg"]
    out = one({"role": "user", "content": [{"type": "video", "video": frames}]}, multimodal=True)
    assert out["content"] == [{"video": frames}]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (image(IMAGE), True),
        ({"type": "video_url", "video_url": {"url": IMAGE}}, True),
        ({"type": "video", "video": [IMAGE]}, True),
        ({"type": "text", "text": "x"}, False),
    ],
)
def test_has_media(part: dict[str, Any], expected: bool) -> None:
    def turns(*messages: Any) -> Any:
        return chat_turns(list(messages), preserve_thinking=False, notes=[])

    assert has_media(turns({"role": "user", "content": [part]})) is expected
    later = turns({"role": "user", "content": "x"}, {"role": "user", "content": [part]})
    assert has_media(later) is expected


# ---- cache_control ----------------------------------------------------------------------------


def test_cache_control_on_a_part_keeps_parts_on_the_text_endpoint() -> None:
    parts = [
        {"type": "text", "text": "long document"},
        {"type": "text", "text": "question", "cache_control": CACHE},
    ]
    out = one({"role": "user", "content": parts}, multimodal=False)
    assert out["content"] == [
        {"type": "text", "text": "long document"},
        {"type": "text", "text": "question", "cache_control": CACHE},
    ]
    multimodal = one({"role": "user", "content": parts}, multimodal=True)
    assert multimodal["content"] == [
        {"text": "long document"},
        {"text": "question", "cache_control": CACHE},
    ]


@pytest.mark.parametrize("multimodal", [False, True])
def test_cache_control_on_a_message_goes_to_its_last_part(multimodal: bool) -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    out, notes = translate(
        {"role": "system", "content": parts, "cache_control": CACHE}, multimodal=multimodal
    )
    prefix = {"type": "text"} if not multimodal else {}
    assert out == [
        {
            "role": "system",
            "content": [{**prefix, "text": "a"}, {**prefix, "text": "b", "cache_control": CACHE}],
        }
    ]
    assert notes == []


def test_cache_control_on_a_message_skips_media_parts() -> None:
    parts = [{"type": "text", "text": "describe"}, image(IMAGE)]
    out = one({"role": "user", "content": parts, "cache_control": CACHE}, multimodal=True)
    assert out["content"] == [{"text": "describe", "cache_control": CACHE}, {"image": IMAGE}]


def test_cache_control_on_a_string_message() -> None:
    out = one({"role": "user", "content": "hi", "cache_control": CACHE}, multimodal=False)
    assert out == {
        "role": "user",
        "content": [{"type": "text", "text": "hi", "cache_control": CACHE}],
    }


# ---- reasoning_content and name ---------------------------------------------------------------


def test_reasoning_content_is_dropped_and_noted() -> None:
    message = {"role": "assistant", "content": "42", "reasoning_content": "6*7"}
    out, notes = translate(message, multimodal=False)
    assert out == [{"role": "assistant", "content": "42"}]
    assert notes == ["messages[0].reasoning_content: dropped (send preserve_thinking to keep it)"]


@pytest.mark.parametrize("multimodal", [False, True])
def test_reasoning_content_is_replayed_with_preserve_thinking(multimodal: bool) -> None:
    message = {"role": "assistant", "content": "42", "reasoning_content": "6*7"}
    out, notes = translate(message, multimodal=multimodal, preserve_thinking=True)
    assert out[0]["reasoning_content"] == "6*7"
    assert notes == []


def test_reasoning_content_through_the_request() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "42", "reasoning_content": "6*7"},
        {"role": "user", "content": "why?"},
    ]
    kept = translate_chat_request(
        {"model": "qwen-plus", "messages": messages, "preserve_thinking": True}
    )
    assert kept.body["input"]["messages"][1]["reasoning_content"] == "6*7"
    dropped = translate_chat_request({"model": "qwen-plus", "messages": messages})
    assert "reasoning_content" not in dropped.body["input"]["messages"][1]
    assert any(n.startswith("messages[1].reasoning_content: dropped") for n in dropped.notes)


def test_name_is_kept_on_tool_messages_only() -> None:
    out, notes = translate(
        {"role": "user", "content": "hi", "name": "bob"},
        {"role": "tool", "tool_call_id": "call_1", "content": "42", "name": "f"},
        multimodal=False,
    )
    assert out == [
        {"role": "user", "content": "hi"},
        {"role": "tool", "content": "42", "tool_call_id": "call_1", "name": "f"},
    ]
    assert notes == ["messages[0].name: dropped"]


@pytest.mark.parametrize("role", ["system", "assistant"])
def test_name_elsewhere_is_dropped_and_noted(role: str) -> None:
    out, notes = translate({"role": role, "content": "x", "name": "n"}, multimodal=True)
    assert "name" not in out[0]
    assert notes == ["messages[0].name: dropped"]


# ---- routing ----------------------------------------------------------------------------------


DEFAULTS = TranslationOptions()


def route(model: str, options: TranslationOptions = DEFAULTS, content: Any = "hi") -> str:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    return translate_chat_request(body, options).path


@pytest.mark.parametrize(
    "model",
    ["qwen-vl-max", "qwen3-vl-plus", "qwen3.5-plus", "qwen3.6-plus", "qvq-max"],
)
def test_multimodal_models_go_to_the_multimodal_endpoint(model: str) -> None:
    assert route(model) == MULTIMODAL_GENERATION_PATH


@pytest.mark.parametrize("model", ["qwen-plus", "qwen3-max", "qwen-flash", "qwen3-max-preview"])
def test_text_models_go_to_the_text_endpoint(model: str) -> None:
    assert route(model) == TEXT_GENERATION_PATH


def test_multimodal_endpoint_gets_list_content() -> None:
    plan = translate_chat_request(
        {"model": "qwen3.5-plus", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert plan.body["input"]["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


def test_the_model_table_decides_the_endpoint() -> None:
    vision = ModelFamily("my-vision", (r"my-vision",), endpoint="multimodal")
    options = TranslationOptions(models=ModelTable((vision,)))
    assert route("my-vision-1", options) == MULTIMODAL_GENERATION_PATH
    assert route("qwen-vl-max", options) == TEXT_GENERATION_PATH
    assert route("qwen3.5-plus", TranslationOptions(models=ModelTable(()))) == TEXT_GENERATION_PATH


@pytest.mark.parametrize("model", ["qwen-plus", "qwen3-max", "anything"])
def test_media_parts_force_the_multimodal_endpoint(model: str) -> None:
    content = [{"type": "text", "text": "what is it?"}, image(IMAGE)]
    assert route(model, content=content) == MULTIMODAL_GENERATION_PATH
    options = TranslationOptions(models=ModelTable(()))
    assert route(model, options, content=content) == MULTIMODAL_GENERATION_PATH
