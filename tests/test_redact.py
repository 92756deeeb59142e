"""Secrets never reach a traffic record; prompts and answers stay readable.

Unit tests of `Redactor`, then real proxies writing to a file or to stdout in every capture
mode, asked with every kind of secret the contract names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from proxy.config import TrafficLogSettings, settings_from_mapping
from proxy.simulator.scripts import SEED_ANSWER
from proxy.traffic.redact import MASK, Redactor
from tests.conftest import TrafficProxy, read_jsonl


@pytest.mark.parametrize(
    "secret",
    [
        "sk-" + "fake0123456789abcdef",
        "sk-fakeproj_AbC-dEf_123456",
        "Bearer eyJhbGciOi.payload.sig",
        "bearer   abcdefgh12345678",
        # Assembled here, so no literal in the repository looks like an access key id.
        "AKIA" + "FAKE0000" * 2,
    ],
)
def test_well_known_key_formats_are_masked_and_the_text_around_them_stays(secret: str) -> None:
    text = f"My key is {secret}, please keep it safe."
    assert Redactor().redact(text) == f"My key is {MASK}, please keep it safe."


def test_nested_structures_are_walked_and_the_original_is_left_alone() -> None:
    record = {
        "request": {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "use sk-" + "fakeabcdefgh12345678"}],
                }
            ],
            "temperature": 0.5,
            "n": 1,
            "stream": True,
            "user": None,
        },
        "frames": ({"data": "key sk-" + "fakeabcdefgh12345678 leaked"},),
    }
    before = orjson.dumps(record)
    redacted = Redactor().redact(record)
    assert orjson.dumps(record) == before
    assert redacted == {
        "request": {
            "messages": [{"role": "user", "content": [{"type": "text", "text": f"use {MASK}"}]}],
            "temperature": 0.5,
            "n": 1,
            "stream": True,
            "user": None,
        },
        "frames": [{"data": f"key {MASK} leaked"}],
    }


def test_exact_secrets_of_any_format_are_masked_configured_and_per_call() -> None:
    redactor = Redactor(secrets=["server-key-QWE987654321"])
    text = "server-key-QWE987654321 and client-key-XYZ123456 and client-key-other"
    assert redactor.redact(text, ["client-key-XYZ123456"]) == (
        f"{MASK} and {MASK} and client-key-other"
    )
    assert redactor.redact("client-key-XYZ123456") == "client-key-XYZ123456"  # not this call's


def test_a_secret_containing_another_is_masked_whole() -> None:
    redactor = Redactor(secrets=["token-abcdef"])
    text = "first token-abcdef-LONGER-987 then token-abcdef"
    redacted = redactor.redact(text, ["token-abcdef-LONGER-987"])
    assert redacted == f"first {MASK} then {MASK}"


@pytest.mark.parametrize("short", ["", "a", "the", "abcde"])
def test_short_secrets_do_not_mask_ordinary_words(short: str) -> None:
    text = "the abcde of a sentence"
    assert Redactor(secrets=[short]).redact(text, [short]) == text


@pytest.mark.parametrize(
    "name",
    ["authorization", "Authorization", "api_key", "api-key", "apiKey", "x-api-key", "password"],
)
def test_fields_named_like_secrets_are_masked_whatever_their_value(name: str) -> None:
    body = {"extra": [{name: "hunter2-not-a-known-format", "note": "visible"}]}
    assert Redactor().redact(body) == {"extra": [{name: MASK, "note": "visible"}]}


@pytest.mark.parametrize("name", ["secret", "access_token", "refresh-token"])
def test_a_secret_field_masks_a_whole_nested_value(name: str) -> None:
    assert Redactor().redact({name: {"nested": ["a", 1]}}) == {name: MASK}


def test_empty_secret_fields_stay_empty() -> None:
    assert Redactor().redact({"api_key": "", "password": None}) == {"api_key": "", "password": None}


def test_logprobs_tokens_and_token_counts_are_not_masked() -> None:
    record = {
        "logprobs": {
            "content": [
                {
                    "token": "Hello",
                    "logprob": -0.1,
                    "top_logprobs": [{"token": " hi", "logprob": -2}],
                }
            ]
        },
        "usage": {"prompt_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 9}},
        "max_tokens": 100,
    }
    assert Redactor().redact(record) == record


def test_extra_patterns_are_masked() -> None:
    redactor = Redactor([r"ACME-\d{6}", r"internal-[a-z]+"])
    redacted = redactor.redact("ticket ACME-424242 on internal-billing, ACME-12 stays")
    assert redacted == f"ticket {MASK} on {MASK}, ACME-12 stays"


def test_a_pattern_with_inline_flags_that_the_config_accepts_works() -> None:
    settings = settings_from_mapping({"traffic_log": {"redact_patterns": ["(?i)acme-[0-9]{6}"]}})
    redactor = Redactor(settings.traffic_log.redact_patterns)
    assert redactor.redact("ACME-424242 and acme-123456") == f"{MASK} and {MASK}"


def test_a_key_used_as_a_field_name_is_masked() -> None:
    body = {"metadata": {"sk-" + "fakelive0123456789abcdef": "my team's key"}}
    assert b"sk-" + b"fakelive0123456789abcdef" not in orjson.dumps(Redactor().redact(body))


# ---- end to end: every capture mode, file and stdout ----------------------------------------

SERVER_KEY = "server-key-QWE987654321"  # no well-known shape: only exact matching can catch it
CLIENT_KEY = "client-key-XYZ123456"
SK_CLIENT_KEY = "sk-client-abcdef0123456789"
PASTED_KEY = "sk-" + "fakepasted0123456789abcdef"
BODY_KEY = "extra-body-value-4242"
BEARER = "Bearer tok3n.abcdefghij"
TICKET = "ACME-424242"
SECRETS = (SERVER_KEY, CLIENT_KEY, SK_CLIENT_KEY, PASTED_KEY, BODY_KEY, "tok3n.abcdefghij", TICKET)


def prompt(client_key: str) -> str:
    return (
        f"Please check: my key {client_key}, the server's {SERVER_KEY}, an old one {PASTED_KEY}, "
        f"the header {BEARER} and ticket {TICKET}. What is 123 to the power of 21?"
    )


def masked_prompt() -> str:
    return (
        f"Please check: my key {MASK}, the server's {MASK}, an old one {MASK}, "
        f"the header {MASK} and ticket {MASK}. What is 123 to the power of 21?"
    )


def ask(url: str, headers: dict[str, str], client_key: str, *, stream: bool) -> httpx.Response:
    body = {
        "model": "qwen3-max-preview",
        "messages": [{"role": "user", "content": prompt(client_key)}],
        "stream": stream,
        "enable_code_interpreter": True,
        "enable_thinking": True,
        "api_key": BODY_KEY,  # what `extra_body={"api_key": ...}` sends
    }
    response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("sink", ["file", "stdout"])
@pytest.mark.parametrize(
    ("frames", "chunks"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_no_key_reaches_the_log_in_any_capture_mode(
    traffic_proxy: Callable[..., TrafficProxy],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    sink: str,
    frames: bool,
    chunks: bool,
) -> None:
    path = tmp_path / "traffic.jsonl"
    traffic = TrafficLogSettings(
        path=str(path) if sink == "file" else "stdout",
        capture_frames=frames,
        capture_chunks=chunks,
        redact_patterns=(r"ACME-\d{6}",),
    )
    proxy = traffic_proxy(traffic, api_key=SERVER_KEY)
    capfd.readouterr()
    ask(proxy.url, {"authorization": f"Bearer {CLIENT_KEY}"}, CLIENT_KEY, stream=True)
    ask(proxy.url, {"api-key": SK_CLIENT_KEY}, SK_CLIENT_KEY, stream=False)
    proxy.stop()

    written = path.read_bytes() if sink == "file" else capfd.readouterr().out.encode()
    leaked = [secret for secret in SECRETS if secret.encode() in written]
    assert leaked == []
    records = read_jsonl(path) if sink == "file" else [json.loads(x) for x in written.splitlines()]
    assert len(records) == 2  # one JSON line per exchange
    for record in records:
        assert record["outcome"] == "ok"
        assert record["request"]["messages"][0]["content"] == masked_prompt()
        assert record["request"]["api_key"] == MASK
        upstream = record["upstream_request"]["body"]
        assert upstream["input"]["messages"][0]["content"] == masked_prompt()
        assert record["response"]["choices"][0]["message"]["content"] == SEED_ANSWER
        assert record["response"]["code_runs"] == ["123**21"]
        assert ("frames" in record, "chunks" in record) == (frames, chunks)
