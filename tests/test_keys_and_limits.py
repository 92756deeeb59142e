"""Who may use the proxy, what reaches DashScope, and how much the proxy takes on at once."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from proxy.cli import main as cli
from proxy.config import (
    AuthSettings,
    ConfigError,
    ServerSettings,
    check_exposure,
    load_settings,
)
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator import ReceivedRequest
from tests.conftest import CLIENT_KEY, SERVER_KEY, RunningProxy, proxy_settings
from tests.faulty_upstream import (
    Close,
    FaultyUpstream,
    Pause,
    Send,
    answer,
    frames,
    sse_head,
)

PROXY_KEYS = ("pk-first-0123456789", "pk-second-0123456789")
CHAT = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"  # what OpenAI answers a wrong key with


@pytest.fixture(scope="module")
def keyed_url(simulator_url: str) -> Iterator[str]:
    """A proxy with the server key whose clients must present one of PROXY_KEYS."""
    settings = proxy_settings(simulator_url, api_key=SERVER_KEY)
    auth = AuthSettings(proxy_keys=PROXY_KEYS)
    with BackgroundServer(create_app(dataclasses.replace(settings, auth=auth))) as server:
        yield server.url


# ---- keys ------------------------------------------------------------------------------------


def test_pass_through_forwards_the_clients_own_key(
    passthrough_url: str, received: list[ReceivedRequest]
) -> None:
    for headers in (bearer(CLIENT_KEY), {"api-key": CLIENT_KEY}):
        response = httpx.post(f"{passthrough_url}/v1/chat/completions", json=CHAT, headers=headers)
        assert response.status_code == 200
    assert [r.headers["authorization"] for r in received] == [f"Bearer {CLIENT_KEY}"] * 2


@pytest.mark.parametrize("key", PROXY_KEYS)
def test_a_proxy_key_is_accepted_and_the_server_key_goes_upstream(
    keyed_url: str, received: list[ReceivedRequest], key: str
) -> None:
    response = httpx.post(f"{keyed_url}/v1/chat/completions", json=CHAT, headers=bearer(key))
    assert response.status_code == 200
    assert received[-1].headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert all(key not in value for value in received[-1].headers.values())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("pk-wrong"),
        bearer(PROXY_KEYS[0][:-1]),
        bearer(PROXY_KEYS[0] + "x"),
        {"authorization": PROXY_KEYS[0]},
        bearer(SERVER_KEY),
    ],
    ids=["missing", "wrong", "prefix", "longer", "no_scheme", "the_server_key"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/qwen-plus"),
        ("POST", "/ci/content/v1/chat/completions"),
        ("GET", "/ci/reasoning/v1/models"),
    ],
)
def test_without_a_proxy_key_every_model_route_is_refused(
    keyed_url: str,
    received: list[ReceivedRequest],
    headers: dict[str, str],
    method: str,
    path: str,
) -> None:
    response = httpx.request(method, f"{keyed_url}{path}", json=CHAT, headers=headers)
    assert_refused(response)
    assert received == []


def test_a_proxy_key_in_the_api_key_header_is_accepted(keyed_url: str) -> None:
    response = httpx.get(f"{keyed_url}/v1/models", headers={"api-key": PROXY_KEYS[1]})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_need_no_key(keyed_url: str, path: str) -> None:
    assert httpx.get(f"{keyed_url}{path}").status_code == 200


def test_a_server_key_without_proxy_keys_is_open_on_loopback(
    proxy_url: str, received: list[ReceivedRequest]
) -> None:
    response = httpx.post(f"{proxy_url}/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert received[-1].headers["authorization"] == f"Bearer {SERVER_KEY}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.startswith("DASHSCOPE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-server-from-the-environment")
    return monkeypatch


def test_serve_refuses_a_public_address_with_a_server_key_and_no_proxy_keys(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    message = capsys.readouterr().err
    assert "proxy_keys" in message
    assert "DASHSCOPE_PROXY_KEYS" in message
    assert "allow_unauthenticated" in message
    assert "sk-server-from-the-environment" not in message


@pytest.mark.parametrize(
    ("extra", "host"),
    [
        ({"DASHSCOPE_PROXY_KEYS": "pk-a-0123456,pk-b-0123456"}, "0.0.0.0"),
        ({}, "127.0.0.1"),
        ({}, "::1"),
        ({}, "localhost"),
    ],
)
def test_proxy_keys_or_loopback_allow_serving(
    clean_env: pytest.MonkeyPatch, extra: dict[str, str], host: str
) -> None:
    settings = load_settings(None, {**os.environ, **extra})
    check_exposure(dataclasses.replace(settings, server=ServerSettings(host=host)))


def test_allow_unauthenticated_is_the_explicit_way_out(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings(None, dict(os.environ))
    public = dataclasses.replace(settings, server=ServerSettings(host="0.0.0.0"))
    with pytest.raises(ConfigError):
        check_exposure(public)
    check_exposure(dataclasses.replace(public, auth=AuthSettings(allow_unauthenticated=True)))


@pytest.mark.parametrize("workspace", ["ws-0123456789", ""])
def test_workspace_header(
    simulator_url: str,
    start_proxy: Callable[..., str],
    received: list[ReceivedRequest],
    workspace: str,
) -> None:
    url = start_proxy(simulator_url, workspace=workspace)
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT).status_code == 200
    assert received[-1].headers.get("x-dashscope-workspace") == (workspace or None)


def test_only_allowlisted_client_headers_reach_dashscope(
    proxy_url: str, received: list[ReceivedRequest]
) -> None:
    headers = {
        **bearer(CLIENT_KEY),
        "x-dashscope-datainspection": '{"input":"cip","output":"cip"}',
        "x-evil": "1",
        "cookie": "session=secret",
    }
    response = httpx.post(f"{proxy_url}/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 200
    sent = received[-1].headers
    assert sent["x-dashscope-datainspection"] == headers["x-dashscope-datainspection"]
    assert "x-evil" not in sent
    assert "cookie" not in sent
    assert sent["authorization"] == f"Bearer {SERVER_KEY}"
    assert all(CLIENT_KEY not in value for value in sent.values())


def test_forwarded_headers_never_duplicate_the_protocols_own(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> None:
    # Regression: an operator who allowlisted a protocol header got it twice, and the
    # client's key travelled next to the server's.
    upstream = faulty(answer())
    allow = ("authorization", "x-dashscope-sse", "x-dashscope-datainspection")
    proxy = proxy_app(upstream.url, forward_headers=allow)
    headers = {**bearer(CLIENT_KEY), "x-dashscope-sse": "disable"}
    assert httpx.post(f"{proxy.url}/v1/chat/completions", json=CHAT, headers=headers).is_success
    head = upstream.connections[0].request.split(b"\r\n\r\n")[0].decode().lower().split("\r\n")
    assert [line for line in head if line.startswith("authorization:")] == [
        f"authorization: bearer {SERVER_KEY}"
    ]
    assert [line for line in head if line.startswith("x-dashscope-sse:")] == [
        "x-dashscope-sse: enable"
    ]


# ---- limits ----------------------------------------------------------------------------------


@pytest.fixture
def small_body_url(simulator_url: str, start_configured_proxy: Callable[..., str]) -> str:
    return start_configured_proxy(simulator_url, server=ServerSettings(max_body_bytes=2048))


def padded(size: int) -> bytes:
    body = httpx.Request("POST", "http://x", json={**CHAT, "user": ""}).content
    return body.replace(b'"user":""', b'"user":"' + b"x" * (size - len(body)) + b'"')


@pytest.mark.parametrize("framing", ["content_length", "chunked"])
def test_a_body_over_max_body_bytes_is_a_413(
    small_body_url: str, received: list[ReceivedRequest], framing: str
) -> None:
    body = padded(4096)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    content: Any = body if framing == "content_length" else pieces()
    response = httpx.post(f"{small_body_url}/v1/chat/completions", content=content)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.headers["x-should-retry"] == "false"
    assert received == []


def test_a_body_at_max_body_bytes_is_served(small_body_url: str) -> None:
    body = padded(2048)
    assert len(body) == 2048
    response = httpx.post(f"{small_body_url}/v1/chat/completions", content=body)
    assert response.status_code == 200


def test_beyond_max_concurrent_streams_a_503_with_retry_after(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> None:
    plain = frames()
    slow = (Send(sse_head()), Send(plain[0]), Pause(0.5), *map(Send, plain[1:]), Close())
    upstream = faulty(slow, answer())
    proxy = proxy_app(upstream.url, server=ServerSettings(max_concurrent_streams=1))
    url = f"{proxy.url}/v1/chat/completions"
    with httpx.Client(timeout=5) as client:
        with client.stream("POST", url, json={**CHAT, "stream": True}) as first:
            pieces = first.iter_bytes()
            next(pieces)
            second = client.post(url, json=CHAT)
            assert client.get(f"{proxy.url}/readyz").status_code == 200  # full, not draining
            rest = b"".join(pieces)
        third = client.post(url, json=CHAT)
    assert second.status_code == 503
    assert second.json()["error"]["code"] == "too_many_streams"
    assert second.headers["retry-after"] == "1"
    assert "x-should-retry" not in second.headers
    assert rest.endswith(b"data: [DONE]\n\n")
    assert third.status_code == 200
    assert len(upstream.connections) == 2  # the refused one never went upstream


@pytest.mark.parametrize("header", ["authorization", "api-key"])
def test_a_key_header_that_is_not_ascii_is_a_400_naming_it(
    passthrough_url: str, header: str
) -> None:
    """Non-ASCII bytes in a key header used to reach httpx and come back as a 500."""
    value = b"Bearer sk-\xe9\xe9-0123456789" if header == "authorization" else b"sk-\xe9-0123456"
    response = httpx.post(
        f"{passthrough_url}/v1/chat/completions", json=CHAT, headers=[(header.encode(), value)]
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == header
    assert header in error["message"]
    assert "\xe9" not in error["message"]  # the value is not quoted back


def test_a_forwarded_header_that_is_not_ascii_is_a_400_naming_it(
    simulator_url: str, proxy_app: Callable[..., RunningProxy]
) -> None:
    proxy = proxy_app(simulator_url, forward_headers=("x-dashscope-workspace-tag",))
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json=CHAT,
        headers=[(b"x-dashscope-workspace-tag", b"caf\xe9")],
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "x-dashscope-workspace-tag"
