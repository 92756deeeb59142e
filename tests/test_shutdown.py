"""Clients that leave and servers that stop, with real sockets and a real process.

A client that closes its connection mid-stream makes the proxy close the upstream connection
promptly. `dashscope-proxy serve` on SIGTERM: readiness turns 503, new requests are refused,
streams in flight finish within `drain_timeout` or end with an in-band `draining` error, and
the process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from proxy.config import Settings, UpstreamSettings
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer, DrainingServer, listen, uvicorn_config
from proxy.simulator import create_simulator_app
from tests.conftest import Hanging, RunningProxy, free_port
from tests.contract import check_sse_bytes
from tests.faulty_upstream import FaultyUpstream, Stall, answer, first_frames

CODE_RUN = {
    "model": "qwen3-max",
    "messages": [{"role": "user", "content": "What is 123 to the power of 21?"}],
    "stream": True,
    "enable_code_interpreter": True,
    "enable_thinking": True,
}
SERVE = [str(Path(sys.executable).with_name("dashscope-proxy")), "serve"]


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---- a client that goes away -----------------------------------------------------------------


# The leak these tests catch is a race the proxy loses most of the time, not always: each test
# lets the client leave several times, so that one lucky run cannot hide it.
LEAVES = 3


def leave_mid_stream(client: httpx.Client, proxy: RunningProxy) -> None:
    """Start a code-run stream, read its first chunk, and close the connection."""
    with client.stream("POST", "/v1/chat/completions", json=CODE_RUN) as response:
        assert response.status_code == 200, response.read()
        pieces = response.iter_bytes()  # kept: dropping it would close the connection at once
        assert next(pieces).startswith(b"data: ")
        assert proxy.active == 1
    assert wait_until(lambda: proxy.active == 0, 2)


@pytest.mark.parametrize(
    "script",
    [(*first_frames(5, "seed_single_run"), Stall()), answer("seed_single_run", gap=0.2)],
    ids=["silent_upstream", "slow_upstream"],
)
def test_a_client_leaving_mid_stream_closes_the_upstream_connection(
    faulty: Callable[..., FaultyUpstream],
    proxy_app: Callable[..., RunningProxy],
    caplog: pytest.LogCaptureFixture,
    script: tuple[object, ...],
) -> None:
    caplog.set_level(logging.INFO, logger="proxy.requests")
    upstream = faulty(script)
    proxy = proxy_app(upstream.url)
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        for _ in range(LEAVES):
            leave_mid_stream(client, proxy)
    left = time.monotonic()
    lines = [r for r in caplog.records if r.name == "proxy.requests"]
    assert [(r.__dict__["status"], r.__dict__["outcome"]) for r in lines] == [
        (200, "cancelled")
    ] * LEAVES
    assert len(upstream.connections) == LEAVES
    # Regression: a cancelled read used to leave the connection open, its pool slot taken.
    closed = wait_until(lambda: all(c.peer_closed.is_set() for c in upstream.connections), 2)
    open_ones = [c.index for c in upstream.connections if not c.peer_closed.is_set()]
    assert closed, f"upstream connections {open_ones} stayed open"
    assert time.monotonic() - left < 1


def test_a_client_leaving_mid_stream_frees_its_upstream_connection(
    faulty: Callable[..., FaultyUpstream], proxy_app: Callable[..., RunningProxy]
) -> None:
    # One connection in the pool: after a client leaves, the next request must get it.
    stalled = (*first_frames(5, "seed_single_run"), Stall())
    upstream = faulty(*[stalled] * LEAVES, answer())
    proxy = proxy_app(upstream.url, max_connections=1, connect_timeout=0.3, retries=0)
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        # Regression: this was a 504 "did not accept the connection", the only slot taken.
        for _ in range(LEAVES):
            leave_mid_stream(client, proxy)
        after = client.post("/v1/chat/completions", json={**CODE_RUN, "stream": False})
    assert after.status_code == 200, after.text


# ---- SIGTERM -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[str]:
    """The simulator with 50 ms between frames: the code-run answer takes about 2.7 s."""
    with BackgroundServer(create_simulator_app(frame_delay=0.05)) as server:
        yield server.url


@contextmanager
def serving(
    tmp_path: Path, upstream: str, drain: float
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`dashscope-proxy serve` as its own process; killed at the end if it is still running."""
    port = free_port()
    config = tmp_path / "proxy.toml"
    config.write_text(f"[server]\nport = {port}\ndrain_timeout = {drain}\n", encoding="utf-8")
    env = {**os.environ, "DASHSCOPE_PROXY_BASE_URL": upstream, "DASHSCOPE_API_KEY": "sk-server"}
    env.pop("DASHSCOPE_PROXY_KEYS", None)
    with (tmp_path / "stderr.log").open("wb") as log:
        process = subprocess.Popen([*SERVE, "--config", str(config)], env=env, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a loaded machine (several test workers) a start took over 10 s.
        assert wait_until(lambda: _answers(url), 30), "the proxy did not start"
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False


def _ready(url: str) -> int:
    return httpx.get(f"{url}/readyz", timeout=2).status_code


def test_sigterm_lets_streams_in_flight_finish(tmp_path: Path, slow_upstream: str) -> None:
    with (
        serving(tmp_path, slow_upstream, drain=30) as (process, url),
        httpx.Client(base_url=url, timeout=10) as client,
        client.stream("POST", "/v1/chat/completions", json=CODE_RUN) as response,
    ):
        pieces = response.iter_bytes()
        body = next(pieces)
        process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: _ready(url) == 503, 2), "readiness stays 200 while draining"
        assert httpx.get(f"{url}/healthz").status_code == 200  # alive, only not ready
        refused = httpx.post(f"{url}/v1/chat/completions", json=CODE_RUN, timeout=5)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "draining"
        assert refused.headers["retry-after"] == "1"
        body += b"".join(pieces)
        assert process.wait(10) == 0
    result = check_sse_bytes(body)
    assert result.error is None
    assert result.chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_sigterm_cuts_streams_at_the_drain_deadline(tmp_path: Path, slow_upstream: str) -> None:
    with (
        serving(tmp_path, slow_upstream, drain=0.5) as (process, url),
        httpx.Client(base_url=url, timeout=10) as client,
        client.stream("POST", "/v1/chat/completions", json=CODE_RUN) as response,
    ):
        pieces = response.iter_bytes()
        body = next(pieces)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        body += b"".join(pieces)
        assert time.monotonic() - signalled < 0.5 + 1.5
        assert process.wait(10) == 0
    result = check_sse_bytes(body)  # the in-band error, then [DONE]
    assert result.error is not None
    assert result.error["code"] == "draining"


def test_sigterm_on_an_idle_proxy_exits_0_at_once(tmp_path: Path, slow_upstream: str) -> None:
    with serving(tmp_path, slow_upstream, drain=30) as (process, _):
        process.send_signal(signal.SIGTERM)
        assert process.wait(3) == 0


# Regression: the second signal only set uvicorn's should_exit, and uvicorn then waited for
# the stream (up to drain_timeout + 5 s) before stopping.
def test_a_second_sigterm_stops_at_once(tmp_path: Path) -> None:
    with (
        BackgroundServer(create_simulator_app(frame_delay=0.2)) as very_slow,  # ~11 s answer
        serving(tmp_path, very_slow.url, drain=30) as (process, url),
        httpx.Client(base_url=url, timeout=10) as client,
        client.stream("POST", "/v1/chat/completions", json=CODE_RUN) as response,
    ):
        pieces = response.iter_bytes()  # kept: a dropped iterator would close the connection
        next(pieces)
        process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: _ready(url) == 503, 2)
        process.send_signal(signal.SIGTERM)
        stopped = wait_until(lambda: process.poll() is not None, 3)
        assert stopped, "a second SIGTERM did not stop the proxy within 3 s"
    assert process.returncode == 0
    # Regression: uvicorn skipped the app's shutdown when forced, and the lifespan, cancelled
    # at the loop's end, logged a CancelledError traceback.
    log = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in log
    assert "CancelledError" not in log


# ---- a signal at any moment ------------------------------------------------------------------


def test_a_signal_before_the_app_has_started_stops_it(tmp_path: Path) -> None:
    """Regression: SIGTERM between uvicorn taking the signal and the app's startup only marked
    the app as draining, and nothing ever stopped the server: it hung until a second signal."""
    settings = Settings(upstream=UpstreamSettings(base_url="http://127.0.0.1:9"))
    server = DrainingServer(uvicorn_config(create_app(settings), "127.0.0.1", 0))
    server.handle_exit(signal.SIGTERM, None)
    thread = threading.Thread(target=server.run, args=(listen("127.0.0.1", 0),), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "a signal before startup left the server running"
    assert server.started  # it did start, and then stopped as asked


@pytest.mark.parametrize(
    "moment",
    [
        "Started server process",  # signals are taken; the app has not started
        "Waiting for application startup.",
        "Application startup complete.",
        "Listening on http://",
    ],
)
def test_sigterm_at_any_moment_of_startup_exits_0_without_a_traceback(
    tmp_path: Path, moment: str
) -> None:
    """`timeout N dashscope-proxy serve` stops the proxy at whatever moment N falls on."""
    port = free_port()
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([*SERVE, "--port", str(port)], stderr=stderr)
    try:
        assert wait_until(lambda: moment in log.read_text(), 20), log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert "Traceback" not in log.read_text()
    assert "CancelledError" not in log.read_text()


# Regression (issue 15, item 13): with many streams cut by a second signal, the requests still
# running after the forced cleanup were cancelled, and uvicorn logged "Exception in ASGI
# application" with a traceback for each.
def test_a_second_sigterm_logs_one_line_per_cut_stream_and_no_traceback(tmp_path: Path) -> None:
    streams = 20
    with (
        BackgroundServer(create_simulator_app(frame_delay=0.2)) as very_slow,
        serving(tmp_path, very_slow.url, drain=30) as (process, url),
        httpx.Client(base_url=url, timeout=10) as client,
        ExitStack() as open_streams,
    ):
        kept = []  # a dropped iterator would close its connection
        for _ in range(streams):
            response = open_streams.enter_context(
                client.stream("POST", "/v1/chat/completions", json=CODE_RUN)
            )
            kept.append(response.iter_bytes())
            next(kept[-1])  # the stream has started
        process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: _ready(url) == 503, 2)
        process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: process.poll() is not None, 5)
    assert process.returncode == 0
    log = (tmp_path / "stderr.log").read_text()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    cut = [line for line in lines if line["message"] == "request" and line.get("stream")]
    assert len(cut) == streams, log
    assert {line["outcome"] for line in cut} <= {"cancelled", "error"}


def test_a_second_sigterm_cuts_requests_waiting_for_upstream_without_a_traceback(
    tmp_path: Path, hanging_upstream: Hanging
) -> None:
    waiting = 20
    outcomes: list[object] = []

    def ask(url: str) -> None:
        try:
            outcomes.append(httpx.post(f"{url}/v1/chat/completions", json=CODE_RUN, timeout=10))
        except httpx.TransportError as exc:
            outcomes.append(exc)

    with serving(tmp_path, hanging_upstream.url, drain=30) as (process, url):
        askers = [threading.Thread(target=ask, args=(url,)) for _ in range(waiting)]
        for asker in askers:
            asker.start()
        assert wait_until(lambda: _active(url) == waiting, 5)
        process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: _ready(url) == 503, 2)
        process.send_signal(signal.SIGTERM)
        assert wait_until(lambda: process.poll() is not None, 5)
        for asker in askers:
            asker.join(10)
    assert process.returncode == 0
    assert len(outcomes) == waiting
    log = (tmp_path / "stderr.log").read_text()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    cut = [line for line in lines if line["message"] == "request"]
    assert len(cut) == waiting, log


def _active(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=2).text
    line = next(li for li in text.splitlines() if li.startswith("dashscope_proxy_active_streams"))
    return float(line.split()[-1])
