"""What a request the proxy refuses still costs and tells (issue 15, items 4 and 5; issue 14,
"A log that tells the truth").

A request that cannot be served for its headers alone (no key, a wrong proxy key) is refused
before its body is read: a 10 MB body is neither waited for nor parsed. Every refusal of an
exchange is in the traffic log (without a model when the body was not read, with it when it
was), and the refusals anyone can provoke are logged at a bounded rate.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.config import AuthSettings, ServerSettings, Settings, TrafficLogSettings
from proxy.server.app import create_app
from proxy.server.applog import REFUSAL_LINES, Throttle
from proxy.server.exchange import OFF_LOOP_BYTES
from proxy.server.serving import BackgroundServer
from tests.conftest import SERVER_KEY, proxy_settings, read_jsonl

CHAT = "/v1/chat/completions"
ASK = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
PROXY_KEY = "pk-edges-0123456789"
BIG = 10_000_000  # under the default max_body_bytes (10 MiB)


@contextmanager
def proxy(upstream: str, tmp_path: Path, *, api_key: str = "", **sections: Any) -> Iterator[Any]:
    """A proxy with a traffic log at tmp_path/traffic.jsonl, written out when the block ends."""
    traffic = TrafficLogSettings(path=str(tmp_path / "traffic.jsonl"))
    settings = Settings(
        upstream=proxy_settings(upstream, api_key=api_key).upstream,
        traffic_log=traffic,
        **sections,
    )
    app = create_app(settings)
    with BackgroundServer(app) as server:
        yield app, server.url


def head(url: str, path: str, length: int, headers: str = "") -> socket.socket:
    """A raw connection that has sent a POST head announcing `length` bytes of body, and 1 KB
    of it."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"content-length: {length}\r\n{headers}\r\n".encode()
        + b'{"model": "qwen-plus", "messages": [' * 28
    )
    return sock


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and its content-length body); recv blocks until it comes."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _more(sock, data)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += _more(sock, data + body)
    assert len(body) == length, "more than one response came"
    return head + b"\r\n\r\n" + body


def _more(sock: socket.socket, so_far: bytes) -> bytes:
    piece = sock.recv(65536)
    assert piece, f"the server closed the connection after {so_far!r}"
    return piece


# ---- item 4: no work before the key is checked ---------------------------------------------


@pytest.mark.parametrize("keyed", [False, True], ids=["pass_through", "proxy_keys"])
def test_a_keyless_10_mb_body_is_refused_before_it_is_read(
    simulator_url: str, tmp_path: Path, keyed: bool
) -> None:
    """Regression: in pass-through the proxy read and parsed the whole body, then found no key
    to call DashScope with. Here only 1 KB of the 10 MB is ever sent before the 401 comes."""
    sections: dict[str, Any] = {}
    if keyed:
        sections["auth"] = AuthSettings(proxy_keys=(PROXY_KEY,))
    with proxy(simulator_url, tmp_path, api_key=SERVER_KEY if keyed else "", **sections) as (
        _,
        url,
    ):
        sock = head(url, CHAT, BIG)
        with sock:
            answer = read_response(sock)
            assert answer.startswith(b"HTTP/1.1 401 "), answer
            # The connection stays usable: the rest of the body is discarded, not parsed as a
            # request, and the next request on it is answered.
            sock.sendall(b" " * (BIG - 28 * 36))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200 "), "the body was parsed"
    (record,) = read_jsonl(tmp_path / "traffic.jsonl")
    assert (record["status"], record["model"], record["request"]) == (401, None, None)
    assert record["error"]["code"] == "invalid_api_key" if keyed else True


def test_a_body_parsed_off_the_loop_is_served_like_any_other(
    simulator_url: str, tmp_path: Path
) -> None:
    padding = "x" * OFF_LOOP_BYTES
    body = {**ASK, "messages": [{"role": "user", "content": f"hi {padding}"}]}
    with proxy(simulator_url, tmp_path, api_key=SERVER_KEY) as (_, url):
        response = httpx.post(f"{url}{CHAT}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"]
        invalid = httpx.post(f"{url}{CHAT}", content=b"{" * OFF_LOOP_BYTES, timeout=30)
        assert invalid.status_code == 400
        assert "not valid JSON" in invalid.json()["error"]["message"]
    statuses = [r["status"] for r in read_jsonl(tmp_path / "traffic.jsonl")]
    assert statuses == [200, 400]


# ---- issue 14: every refusal of an exchange is in the traffic log ---------------------------


def test_401_and_413_are_recorded_without_a_model(simulator_url: str, tmp_path: Path) -> None:
    server = ServerSettings(max_body_bytes=2048)
    auth = AuthSettings(proxy_keys=(PROXY_KEY,))
    with proxy(simulator_url, tmp_path, api_key=SERVER_KEY, server=server, auth=auth) as (
        _,
        url,
    ):
        wrong = {"authorization": "Bearer sk-fake-guessed-0123456789"}
        assert httpx.post(f"{url}{CHAT}", json=ASK, headers=wrong).status_code == 401
        right = {"authorization": f"Bearer {PROXY_KEY}"}
        large = {**ASK, "user": "x" * 4096}
        assert httpx.post(f"{url}/v1/responses", json=large, headers=right).status_code == 413
    refused, too_large = read_jsonl(tmp_path / "traffic.jsonl")
    assert (refused["status"], refused["endpoint"], refused["model"]) == (401, CHAT, None)
    assert refused["error"]["code"] == "invalid_api_key"
    assert (too_large["status"], too_large["endpoint"]) == (413, "/v1/responses")
    assert (too_large["model"], too_large["request"]) == (None, None)
    assert too_large["error"]["code"] == "request_too_large"
    assert "sk-fake-guessed" not in (tmp_path / "traffic.jsonl").read_text()


def test_503_records_carry_the_model_the_body_named(
    slow_simulator_url: str, tmp_path: Path
) -> None:
    """Regression: admission came before the body was parsed, so a 503 too_many_streams or
    draining was recorded with model `-`."""
    server = ServerSettings(max_concurrent_streams=1)
    with (
        proxy(slow_simulator_url, tmp_path, api_key=SERVER_KEY, server=server) as (app, url),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        with client.stream("POST", CHAT, json={**ASK, "stream": True}) as first:
            pieces = first.iter_bytes()
            next(pieces)
            full = client.post(CHAT, json={**ASK, "model": "qwen3-max"})
        app.state.lifecycle.begin_drain()
        draining = client.post(CHAT, json={**ASK, "model": "qwen-flash"})
    assert full.json()["error"]["code"] == "too_many_streams"
    assert draining.json()["error"]["code"] == "draining"
    records = {r["error"]["code"]: r for r in read_jsonl(tmp_path / "traffic.jsonl") if r["error"]}
    assert records["too_many_streams"]["model"] == "qwen3-max"
    assert records["draining"]["model"] == "qwen-flash"
    assert records["draining"]["status"] == 503


# ---- item 5: refusals are logged, at a bounded rate -----------------------------------------


def test_the_throttle_lets_limit_lines_a_period_through_and_counts_the_rest() -> None:
    now = [100.0]
    throttle = Throttle(limit=2, period=1.0, clock=lambda: now[0])
    assert [throttle.admit(401) for _ in range(5)] == [0, 0, None, None, None]
    assert throttle.admit(413) == 0  # each status has its own budget
    now[0] += 0.5
    assert throttle.admit(401) is None
    now[0] += 0.5
    assert throttle.admit(401) == 4  # the next window says how many were left out
    assert throttle.admit(401) == 0
    now[0] += 5
    assert throttle.admit(401) == 0  # nothing was left out in the window before


def test_a_flood_of_bad_keys_is_logged_at_a_bounded_rate_and_summed_up(
    simulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy.requests")
    settings = proxy_settings(simulator_url, api_key=SERVER_KEY)
    app = create_app(
        Settings(upstream=settings.upstream, auth=AuthSettings(proxy_keys=(PROXY_KEY,)))
    )
    guesses = 200
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
        for guess in range(guesses):
            headers = {"authorization": f"Bearer sk-fake-guess-{guess:06d}"}
            assert client.post(CHAT, json=ASK, headers=headers).status_code == 401
        time.sleep(1.1)  # a new window: the next refusal's line comes with the summary
        assert client.get("/v1/nowhere").status_code == 404
        assert client.post(CHAT, json=ASK).status_code == 401
        metrics = client.get("/metrics").text
    lines = [r.__dict__ for r in caplog.records if r.name == "proxy.requests"]
    written = [line for line in lines if line["msg"] == "request"]
    refusals = [line for line in written if line["status"] == 401]
    summaries = [line["suppressed"] for line in lines if "suppressed" in line]
    assert len(refusals) < guesses  # some were left out ...
    assert len(refusals) >= REFUSAL_LINES  # ... but key guessing shows
    assert len(refusals) + sum(summaries) == guesses + 1  # ... and every one is accounted for
    assert [line["status"] for line in written if line["status"] == 404] == [404]
    assert f'route="{CHAT}",status="401"}} {guesses + 1}.0' in metrics.replace('model="",', "")
    assert not any("sk-fake-guess" in str(line) for line in lines)
