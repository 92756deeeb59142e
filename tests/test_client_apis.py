"""One class per client API: the settings a translation records are its identity's fields and
the API's name, and reading them back (a replay) makes the same translation again. Old chat
records, which named no API, are read as chat; anything else unreadable says why."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.code_runs import FORMATS, code_format
from proxy.chat.request import ChatExtras
from proxy.chat.stream import ChunkIdentity
from proxy.core.client_api import identity_from
from proxy.core.native_request import TEXT_GENERATION_PATH
from proxy.core.plan import UpstreamPlan
from proxy.core.sse import SSEEvent
from proxy.core.translation import Translation
from proxy.responses.api import RESPONSES_API
from proxy.responses.stream import ResponseIdentity
from proxy.traffic.apis import CHAT, RESPONSES, UnknownApi, api_of

CHUNKS = ChunkIdentity("chatcmpl-1", 1700000000, "qwen-plus", "call_ci_1_", True, "reasoning")
RESPONSE = ResponseIdentity("resp_1", 1700000000, "qwen-plus", "1", {"instructions": "Be brief."})
FRAMES = [
    SSEEvent("result", json.dumps({"output": {"choices": [{"message": {"content": "hi"}}]}})),
    SSEEvent(
        "result",
        json.dumps(
            {
                "output": {"choices": [{"message": {}, "finish_reason": "stop"}]},
                "usage": {"input_tokens": 3, "output_tokens": 1},
            }
        ),
    ),
]


def stored(translation: Translation) -> dict[str, Any]:
    """The settings as the traffic log keeps them: through JSON."""
    settings: dict[str, Any] = json.loads(json.dumps(translation.settings()))
    return settings


def items(translation: Translation) -> list[Any]:
    return [*translation.feed(FRAMES), *translation.finish()]


@pytest.mark.parametrize(
    ("api", "identity"), [(CHAT_COMPLETIONS, CHUNKS), (RESPONSES_API, RESPONSE)]
)
def test_settings_are_the_identity_and_the_api_and_replay_the_same_items(
    api: Any, identity: Any
) -> None:
    original = api.new_translation(identity)
    settings = stored(original)
    assert settings == {"api": api.name, **dataclasses.asdict(identity)}
    assert api_of(settings) is api
    assert items(api.restore(settings)) == items(original)


def test_the_shell_gets_the_same_settings_from_a_plan() -> None:
    plan = UpstreamPlan(
        model="qwen-plus",
        path=TEXT_GENERATION_PATH,
        body={"model": "qwen-plus", "input": {"messages": []}, "parameters": {}},
        stream=False,
        extras=ChatExtras(include_usage=False, code_format="vendor"),
    )
    settings = CHAT.translation("abcdef0123456789ffff", plan, 1700000000).settings()
    assert settings == {
        "api": "chat.completions",
        "chunk_id": "chatcmpl-abcdef0123456789ffff",
        "created": 1700000000,
        "model": "qwen-plus",
        "call_id_prefix": "call_ci_abcdef0123456789_",
        "include_usage": True,  # a non-stream reply is folded, usage included
        "code_format": "vendor",
    }


def test_a_chat_record_from_before_apis_were_named_is_read_as_chat() -> None:
    settings = stored(CHAT_COMPLETIONS.new_translation(CHUNKS))
    del settings["api"]
    assert api_of(settings) is CHAT
    assert items(CHAT.restore(settings)) == items(CHAT_COMPLETIONS.new_translation(CHUNKS))


@pytest.mark.parametrize("name", ["embeddings", 7, None])
def test_an_api_this_proxy_does_not_serve_is_refused(name: object) -> None:
    with pytest.raises(UnknownApi, match="does not serve"):
        api_of({"api": name})
    assert api_of({"api": RESPONSES.name}) is RESPONSES


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"created": "yesterday"}, TypeError),
        ({"created": True}, TypeError),  # a bool is no count in JSON
        ({"include_usage": "yes"}, TypeError),
        ({"code_format": "html"}, TypeError),
        ({"chunk_id": None}, TypeError),
    ],
)
def test_settings_of_the_wrong_type_are_refused(change: dict[str, Any], error: type) -> None:
    settings = {**stored(CHAT_COMPLETIONS.new_translation(CHUNKS)), **change}
    with pytest.raises(error, match=next(iter(change))):
        identity_from(ChunkIdentity, settings)


def test_every_field_must_be_recorded_even_one_with_a_default() -> None:
    settings = stored(CHAT_COMPLETIONS.new_translation(CHUNKS))
    del settings["code_format"]
    with pytest.raises(KeyError, match="code_format"):
        CHAT.restore(settings)
    wrong_echo = {
        **stored(RESPONSES_API.new_translation(RESPONSE)),
        "echo": ["not", "an", "object"],
    }
    with pytest.raises(TypeError, match="echo"):
        RESPONSES.restore(wrong_echo)


def test_a_plan_names_its_code_format_as_one_of_the_formats() -> None:
    assert [code_format(name) for name in FORMATS] == list(FORMATS)
    with pytest.raises(ValueError, match="unknown code format 'html': one of tool_calls, "):
        code_format("html")
