"""How code-interpreter runs are shown (docs/architecture.md), end to end on the recorded seed run.

Every representation is checked on the raw bytes (tests/contract.py) and through the SDK, and
selected each of the three ways: per request (`extra_body`), by base URL (`/ci/<format>/v1`)
and by server configuration. A request beats its path, and a path beats the configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from proxy.config import CodeInterpreterSettings
from proxy.simulator.scripts import SEED_ANSWER, TWO_RUNS_SECOND_CODE
from tests.contract import check_chunks, check_sse_bytes

MODEL = "qwen3-max-preview"
CODE_FLAGS = {"enable_code_interpreter": True, "enable_thinking": True}
QUESTION = "What is 123 to the power of 21?"
CODE = "123**21"
FENCED = "```python\n123**21\n```"
FORMATS = ("tool_calls", "reasoning", "content", "vendor", "off")
VENDOR_KEY = "code_interpreter_calls"


def ask(text: str = QUESTION) -> list[Any]:
    return [{"role": "user", "content": text}]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry["delta"] for chunk in chunks for entry in chunk["choices"]]


def check_representation(
    fmt: str, chunks: list[dict[str, Any]], message: dict[str, Any], usage: dict[str, Any]
) -> None:
    """What each representation must look like, on chunks and on the folded message."""
    reasoning = message.get("reasoning_content") or ""
    content = message.get("content") or ""
    vendor = [run for delta in deltas(chunks) for run in delta.get(VENDOR_KEY) or ()]
    assert usage["x_tools"] == {"code_interpreter": {"count": 1}}
    assert content.endswith(SEED_ANSWER)
    if fmt == "tool_calls":
        calls = message.get("tool_calls") or []
        assert len(calls) == 1, calls
        call = calls[0]
        assert call["function"]["name"] == "code_interpreter"
        assert json.loads(call["function"]["arguments"]) == {"code": CODE}
    else:
        assert all("tool_calls" not in delta for delta in deltas(chunks)), fmt
        assert not message.get("tool_calls")
    assert (FENCED in reasoning) == (fmt == "reasoning")
    assert (FENCED in content) == (fmt == "content")
    if fmt == "content":
        assert content.index(FENCED) < content.index(SEED_ANSWER)
    if fmt == "vendor":
        assert "".join(run["code"] for run in vendor) == (CODE if chunks else "")
        assert [run["index"] for run in vendor if "id" in run] == ([0] if chunks else [])
        assert message[VENDOR_KEY][0]["code"] == CODE
    else:
        assert vendor == []
        assert VENDOR_KEY not in message
    if fmt == "off":
        assert CODE not in json.dumps([chunks, message])


def raw_request(
    http: httpx.Client, prefix: str = "", text: str = QUESTION, **extra: Any
) -> httpx.Response:
    body = {
        "model": MODEL,
        "messages": ask(text),
        "stream": True,
        "stream_options": {"include_usage": True},
        **CODE_FLAGS,
        **extra,
    }
    response = http.post(f"{prefix}/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response


def check_raw(fmt: str, response: httpx.Response) -> None:
    result = check_sse_bytes(response.content, include_usage=True)
    assert result.error is None
    check_representation(fmt, result.chunks, result.message, result.folded["usage"])


def check_sdk(fmt: str, sdk: openai.OpenAI, **extra: Any) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=ask(),
        stream=True,
        stream_options={"include_usage": True},
        extra_body={**CODE_FLAGS, **extra},
    )
    with stream:
        chunks = [chunk.to_dict() for chunk in stream]
    folded = check_chunks(chunks, include_usage=True)
    check_representation(fmt, chunks, folded["choices"][0]["message"], folded["usage"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_selected_per_request(
    fmt: str,
    proxy_url: str,
    http_for: Callable[[str], httpx.Client],
    sdk_for: Callable[..., openai.OpenAI],
) -> None:
    check_raw(fmt, raw_request(http_for(proxy_url), code_interpreter_format=fmt))
    check_sdk(fmt, sdk_for(proxy_url), code_interpreter_format=fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_selected_by_base_url_path(
    fmt: str,
    proxy_url: str,
    http_for: Callable[[str], httpx.Client],
    sdk_for: Callable[..., openai.OpenAI],
) -> None:
    check_raw(fmt, raw_request(http_for(proxy_url), prefix=f"/ci/{fmt}"))
    sdk = sdk_for(f"{proxy_url}/ci/{fmt}")
    check_sdk(fmt, sdk)
    assert MODEL in [model.id for model in sdk.models.list()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_selected_by_server_config(
    fmt: str,
    simulator_url: str,
    start_configured_proxy: Callable[..., str],
    http_for: Callable[[str], httpx.Client],
    sdk_for: Callable[..., openai.OpenAI],
) -> None:
    url = start_configured_proxy(simulator_url, code_interpreter=CodeInterpreterSettings(fmt))
    check_raw(fmt, raw_request(http_for(url)))
    check_sdk(fmt, sdk_for(url))


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_stream_answers_fold_each_representation(fmt: str, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL, messages=ask(), extra_body={**CODE_FLAGS, "code_interpreter_format": fmt}
    )
    assert completion.usage is not None
    message = completion.choices[0].message.to_dict()
    check_representation(fmt, [], message, completion.usage.to_dict())
    assert completion.choices[0].finish_reason == "stop"


def test_request_beats_path_beats_config(
    simulator_url: str,
    start_configured_proxy: Callable[..., str],
    http_for: Callable[[str], httpx.Client],
) -> None:
    url = start_configured_proxy(simulator_url, code_interpreter=CodeInterpreterSettings("off"))
    http = http_for(url)
    check_raw("off", raw_request(http))
    check_raw("content", raw_request(http, prefix="/ci/content"))
    check_raw(
        "reasoning", raw_request(http, prefix="/ci/content", code_interpreter_format="reasoning")
    )


def test_unknown_path_format_is_404(
    proxy_url: str, sdk_for: Callable[..., openai.OpenAI], http_for: Callable[[str], httpx.Client]
) -> None:
    sdk = sdk_for(f"{proxy_url}/ci/markdown")
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=ask(), extra_body=CODE_FLAGS)
    assert "markdown" in caught.value.message


def test_unknown_path_format_is_404_for_models_too(
    proxy_url: str, http_for: Callable[[str], httpx.Client]
) -> None:
    """An app that lists models first must learn about a mistyped base URL at once."""
    http = http_for(proxy_url)
    assert http.get("/ci/content/v1/models").status_code == 200
    assert http.get(f"/ci/content/v1/models/{MODEL}").status_code == 200
    assert http.get("/ci/markdown/v1/models").status_code == 404
    assert http.get(f"/ci/markdown/v1/models/{MODEL}").status_code == 404


def test_invalid_format_in_request_is_400_naming_it(
    client: openai.OpenAI, received: list[Any]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL,
            messages=ask(),
            extra_body={**CODE_FLAGS, "code_interpreter_format": "markdown"},
        )
    assert caught.value.param == "code_interpreter_format"
    assert "code_interpreter_format" in caught.value.message
    assert received == []


def test_two_runs_in_content_show_two_fenced_blocks(
    proxy_url: str, http_for: Callable[[str], httpx.Client]
) -> None:
    response = raw_request(
        http_for(proxy_url), text="[sim:seed_two_runs]", code_interpreter_format="content"
    )
    result = check_sse_bytes(response.content, include_usage=True)
    content = result.message["content"]
    assert content.count("```python\n") == 2
    assert "```python\n123**23\n```" in content
    assert f"```python\n{TWO_RUNS_SECOND_CODE}\n```" in content
    assert content.index(TWO_RUNS_SECOND_CODE) < content.index("First run result:")
    assert "tool_calls" not in result.message


def test_vendor_runs_survive_the_stream_helper(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model=MODEL,
        messages=ask(),
        extra_body={**CODE_FLAGS, "code_interpreter_format": "vendor"},
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.tool_calls is None
    assert message.content == SEED_ANSWER
    (run,) = (message.model_extra or {})[VENDOR_KEY]
    assert run["code"] == CODE
    assert run["id"].startswith("call_ci_")


def test_reasoning_format_through_the_stream_helper(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model=MODEL,
        messages=ask(),
        extra_body={**CODE_FLAGS, "code_interpreter_format": "reasoning"},
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.tool_calls is None
    assert FENCED in (message.model_extra or {})["reasoning_content"]
    assert final.choices[0].finish_reason == "stop"
