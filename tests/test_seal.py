"""Sealed reasoning (`include: ["reasoning.encrypted_content"]`, `store: false`): the sealer
itself, the `[auth] seal_key` setting, and the round trip through two proxies with the openai
SDK: what one replica sealed another with the same secret restores upstream, and what another
secret sealed, or what was altered, is dropped with a note, never refused."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import openai
import pytest

from proxy.config import AuthSettings, ConfigError, load_settings
from proxy.server.seal import PREFIX, AesGcmSealer, server_sealer, warn_without_seal_key
from proxy.simulator import ReceivedRequest
from tests.conftest import RunningProxy

SECRET = "a shared secret of at least thirty-two characters"
THINKING = "Some private thinking, with unicode: 思考."


def test_a_sealed_text_opens_only_with_its_secret_and_unaltered() -> None:
    sealer = AesGcmSealer(SECRET.encode())
    token = sealer.seal(THINKING)
    assert token.startswith(PREFIX)
    assert "private" not in token
    assert AesGcmSealer(SECRET.encode()).open(token) == THINKING  # another replica
    assert AesGcmSealer(b"another secret").open(token) is None
    raw = bytearray(base64.urlsafe_b64decode(token[len(PREFIX) :] + "=="))
    raw[-1] ^= 1
    altered = PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert sealer.open(altered) is None
    for junk in ("", "dsp1.", "dsp1.!!!", "dsp1.AAAA", "dsp0." + token[len(PREFIX) :], "x"):
        assert sealer.open(junk) is None


def test_each_seal_draws_a_fresh_nonce() -> None:
    drawn: list[int] = []

    def random(size: int) -> bytes:
        drawn.append(size)
        return bytes([len(drawn)]) * size

    sealer = AesGcmSealer(SECRET.encode(), random)
    assert sealer.seal("same") != sealer.seal("same")
    assert drawn == [12, 12]


def test_without_a_secret_the_process_draws_one_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    first, second = server_sealer(""), server_sealer("")
    assert second.open(first.seal("x")) is None
    assert server_sealer(SECRET).open(server_sealer(SECRET).seal("x")) == "x"
    warn_without_seal_key(SECRET)
    assert caplog.text == ""
    warn_without_seal_key("")
    assert "no seal key configured" in caplog.text


def test_the_secret_comes_from_the_environment_and_must_be_long() -> None:
    settings = load_settings(None, {"DASHSCOPE_PROXY_SEAL_KEY": SECRET})
    assert settings.auth.seal_key == SECRET
    assert SECRET not in repr(settings)
    with pytest.raises(ConfigError, match="seal_key is under 32 characters"):
        load_settings(None, {"DASHSCOPE_PROXY_SEAL_KEY": "short"})


# ---- end to end --------------------------------------------------------------------------------


def ask(client: openai.OpenAI, items: Any, **fields: Any) -> Any:
    return client.responses.with_raw_response.create(
        model="qwen3-max",
        input=items,
        store=False,
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        **fields,
    )


@pytest.fixture
def replicas(
    proxy_app: Callable[..., RunningProxy],
    simulator_url: str,
    sdk_for: Callable[..., openai.OpenAI],
) -> Callable[[str], openai.OpenAI]:
    def start(secret: str) -> openai.OpenAI:
        running = proxy_app(simulator_url, auth=AuthSettings(seal_key=secret))
        return sdk_for(running.url)

    return start


def test_a_replica_with_the_same_secret_restores_the_thinking_upstream(
    replicas: Callable[[str], openai.OpenAI], received: list[ReceivedRequest]
) -> None:
    first, second = replicas(SECRET), replicas(SECRET)
    raw = ask(first, "Hello")
    response = raw.parse()
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content
    thinking = reasoning.summary[0].text
    assert thinking not in reasoning.encrypted_content
    assert "encrypted" not in raw.headers["x-dashscope-proxy-notes"]  # the effort's note only
    history = [item.model_dump(exclude_none=True) for item in response.output]
    turn = [{"role": "user", "content": "Hello"}, *history, {"role": "user", "content": "Again"}]
    again = ask(second, turn, extra_body={"preserve_thinking": True})
    assert again.http_response.status_code == 200
    sent = received[-1].body["input"]["messages"]
    assert sent[1]["reasoning_content"] == thinking
    assert sent[1]["content"] == response.output_text


@pytest.mark.parametrize("tamper", [True, False])
def test_another_secret_or_an_altered_item_is_dropped_with_a_note(
    replicas: Callable[[str], openai.OpenAI], received: list[ReceivedRequest], tamper: bool
) -> None:
    first = replicas(SECRET)
    second = replicas(SECRET if tamper else "a different secret, thirty-two chars+")
    response = ask(first, "Hello").parse()
    history = [item.model_dump(exclude_none=True) for item in response.output]
    if tamper:
        token = history[0]["encrypted_content"]
        history[0]["encrypted_content"] = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    raw = ask(
        second,
        [*history, {"role": "user", "content": "Again"}],
        extra_body={"preserve_thinking": True},
    )
    assert raw.http_response.status_code == 200
    assert (
        "reasoning item(s) dropped (encrypted_content not sealed by this proxy's key"
        in (raw.headers["x-dashscope-proxy-notes"])
    )
    assert all("reasoning_content" not in m for m in received[-1].body["input"]["messages"])
