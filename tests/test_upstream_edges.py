"""What the proxy says when the fault is not DashScope's answer to the request (issue 15):
a full connection pool is the proxy's own capacity (item 7), and a redirect or an answer that
is no event stream is a 502 that says what came back (item 10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from proxy.config import ConfigError, settings_from_mapping
from tests.conftest import CLIENT_KEY, RunningProxy
from tests.faulty_upstream import (
    Close,
    FaultyUpstream,
    Send,
    Stall,
    answer,
    first_frames,
    native_error,
)
from tests.test_faults import MODEL, ask, retries_total

# ---- item 7: the connection pool ------------------------------------------------------------


@contextmanager
def holding_a_stream(url: str) -> Iterator[None]:
    """A client in the middle of a stream: its upstream connection stays taken."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as held,
    ):
        assert held.status_code == 200
        chunks = held.iter_raw()  # kept: a dropped iterator would close the response
        next(chunks)  # the first chunk is out: the stream is open
        yield


def metric(proxy: RunningProxy, name: str) -> dict[str, float]:
    """Sample lines of `name`, by their label part ("" when it has none)."""
    lines = httpx.get(f"{proxy.url}/metrics").text.splitlines()
    samples = [line for line in lines if line.startswith(name) and not line.startswith("#")]
    return {
        line[len(name) : line.rindex(" ")]: float(line.split()[-1])
        for line in samples
        if line[len(name)] in "{ "
    }


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_a_full_connection_pool_is_the_proxys_own_503_not_an_upstream_timeout(
    faulty: Callable[..., FaultyUpstream],
    proxy_app: Callable[..., RunningProxy],
    stream: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Was: a 504 "DashScope sent no response within ... s", code upstream_timeout, retried."""
    upstream = faulty((*first_frames(1), Stall()), answer())
    proxy = proxy_app(upstream.url, max_connections=1, pool_timeout=0.2, retries=2)
    with holding_a_stream(proxy.url):
        outcome = ask(proxy.url, stream=stream)
        assert proxy.active == 1  # only the held stream: the refused one freed its slot
    assert outcome.status == 503
    error = outcome.error()
    assert error["code"] == "connection_pool_full"
    assert error["message"].startswith("The proxy's")  # its own capacity, not DashScope's
    assert "max_connections" in error["message"]
    assert outcome.headers["retry-after"] == "1"
    assert "x-should-retry" not in outcome.headers  # a later try may well succeed
    assert len(upstream.connections) == 1  # the refused request never reached DashScope
    assert retries_total(proxy) == 0
    assert metric(proxy, "dashscope_proxy_connection_pool_full_total") == {"": 1}
    assert "upstream_timeout" not in str(metric(proxy, "dashscope_proxy_upstream_errors_total"))
    warnings = [r for r in caplog.records if r.getMessage() == "upstream connection pool full"]
    assert [(w.levelname, getattr(w, "max_connections", None)) for w in warnings] == [
        ("WARNING", 1)
    ]


def test_the_pool_has_room_again_once_the_stream_holding_it_ends(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> None:
    upstream = faulty((*first_frames(1), Stall()), answer())
    proxy = proxy_app(upstream.url, max_connections=1, pool_timeout=0.2)
    with holding_a_stream(proxy.url):
        assert ask(proxy.url, stream=True).status == 503
    assert ask(proxy.url, stream=True).status == 200


@pytest.mark.parametrize(
    ("upstream", "named"),
    [
        ({"pool_timeout": 0}, "[upstream] pool_timeout"),
        ({"max_line_bytes": 10}, "[upstream] max_line_bytes"),
        ({"max_line_bytes": 2 << 20, "max_event_bytes": 1 << 20}, "[upstream] max_event_bytes"),
    ],
)
def test_new_upstream_limits_are_validated(upstream: dict[str, float], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        settings_from_mapping({"upstream": upstream})


# ---- item 10: answers that are not an event stream -----------------------------------------


def reply(status: int, content_type: str, body: bytes, **headers: str) -> bytes:
    fields = {
        "content-type": content_type,
        "content-length": str(len(body)),
        "connection": "close",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    lines = [f"HTTP/1.1 {status} Status", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


REDIRECT = reply(
    302,
    "text/html",
    b"<a href='https://elsewhere.test/'>moved</a>",
    location="https://elsewhere.test/",
)
HTML = b"<html><body><h1>Welcome to the gateway</h1></body></html>"
HTML_WITH_DATA = b'<html>\ndata: {"a": 1}\n\n</html>\n'


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_a_redirect_is_a_502_naming_it_not_a_400_blaming_the_client(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy], stream: bool
) -> None:
    """Was: a 400 invalid_request_error, which blames the client for the proxy's base URL."""
    upstream = faulty((Send(REDIRECT), Close()))
    proxy = proxy_app(upstream.url, retries=2)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 502
    error = outcome.error()
    assert (error["type"], error["code"]) == ("server_error", "upstream_redirect")
    assert "302" in error["message"]
    assert "https://elsewhere.test/" in error["message"]
    assert "base_url" in error["message"]  # what to fix
    assert outcome.headers["x-should-retry"] == "false"  # the same address redirects again
    assert len(upstream.connections) == 1


@pytest.mark.parametrize("body", [HTML, HTML_WITH_DATA], ids=["html", "html_with_a_data_line"])
@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_a_200_that_is_no_event_stream_is_a_502_saying_what_came_back(
    faulty: Callable[..., FaultyUpstream],
    proxy_app: Callable[..., RunningProxy],
    stream: bool,
    body: bytes,
) -> None:
    """Was: "truncated" (or, with a `data:` line, whatever that line held) on a 200."""
    upstream = faulty((Send(reply(200, "text/html; charset=utf-8", body)), Close()))
    proxy = proxy_app(upstream.url, retries=0)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 502
    error = outcome.error()
    assert error["code"] == "upstream_not_an_event_stream"
    assert "200" in error["message"]
    assert "text/html" in error["message"]
    assert "truncated" not in error["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_a_json_error_body_on_a_200_is_read_as_dashscopes_error(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy], stream: bool
) -> None:
    error = native_error(400, "InvalidParameter", "bad input").replace(b"400 Status", b"200 OK")
    upstream = faulty((Send(error), Close()))
    proxy = proxy_app(upstream.url, retries=0)
    outcome = ask(proxy.url, stream=stream)
    assert outcome.status == 400
    assert outcome.error()["code"] == "InvalidParameter"
    assert outcome.error()["message"] == "bad input"


def test_a_json_body_that_is_no_error_on_a_200_is_a_502(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> None:
    upstream = faulty((Send(reply(200, "application/json", b'{"output": {}}')), Close()))
    outcome = ask(proxy_app(upstream.url, retries=0).url, stream=True)
    assert outcome.status == 502
    assert outcome.error()["code"] == "upstream_not_an_event_stream"
    assert "application/json" in outcome.error()["message"]
