"""What one client connection may hold of the server (issue 15, item 12), with real sockets.

An idle keep-alive connection is closed after `keep_alive_timeout`; one that sends no head, or
trickles it (a slowloris), after `header_timeout`; a body that does not arrive within
`body_timeout` gets a 408; past `max_client_connections` requests get a 503 and nothing more.
Out of file descriptors, the failed accepts are logged once in a while, not a traceback each.
Pipelined requests are answered in order (uvicorn's queue of them is ours, a list).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from proxy.config import ServerSettings, Settings, UpstreamSettings
from proxy.server.app import create_app
from proxy.server.connections import Signal
from proxy.server.serving import BackgroundServer
from tests.conftest import free_port
from tests.test_server_edges import read_response
from tests.test_shutdown import SERVE, wait_until

SHORT = 0.3  # seconds: the timeouts under test
PATIENCE = 10  # seconds a test waits for what should come after SHORT


def serve(**server: object) -> BackgroundServer:
    settings = Settings(
        upstream=UpstreamSettings(base_url="http://127.0.0.1:9"),
        server=ServerSettings(**server),  # type: ignore[arg-type]
    )
    return BackgroundServer(create_app(settings), server=settings.server)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=PATIENCE)


def closed_without_an_answer(sock: socket.socket) -> bool:
    """True once the server closed the connection having sent nothing (recv blocks until)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


HEALTH = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"


@pytest.fixture
def short() -> Iterator[str]:
    with serve(keep_alive_timeout=SHORT, header_timeout=SHORT, body_timeout=SHORT) as server:
        yield server.url


def test_an_idle_keep_alive_connection_is_closed(short: str) -> None:
    with connect(short) as sock:
        sock.sendall(HEALTH)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        assert closed_without_an_answer(sock)


def test_a_connection_that_never_sends_a_head_is_closed(short: str) -> None:
    """Regression: uvicorn's keep-alive timer starts only after a first response, so a
    connection that sent nothing was held forever."""
    with connect(short) as sock:
        assert closed_without_an_answer(sock)


def test_a_slowloris_head_is_closed_and_others_are_served(short: str) -> None:
    stop = threading.Event()

    def trickle(sock: socket.socket) -> None:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        try:
            while not stop.wait(SHORT / 6):  # a byte at a time, never the blank line
                sock.sendall(b"x-a: b\r\n"[:1])
        except OSError:
            pass  # closed by the server, as it should be

    with connect(short) as sock:
        sender = threading.Thread(target=trickle, args=(sock,))
        sender.start()
        try:
            assert httpx.get(f"{short}/healthz").status_code == 200
            assert closed_without_an_answer(sock)
        finally:
            stop.set()
            sender.join()


def test_a_head_with_a_trickled_body_gets_a_408(short: str) -> None:
    with connect(short) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer sk-fake-1\r\n"
            b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{"
        )
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"code":"request_timeout"' in answer


def test_past_max_client_connections_requests_get_a_503(tmp_path: Path) -> None:
    cap = 4
    with serve(max_client_connections=cap) as server, ExitStack() as held:
        for _ in range(cap):  # idle connections the server has accepted
            held.enter_context(connect(server.url))
        with connect(server.url) as extra:
            extra.sendall(HEALTH)
            answer = read_response(extra)
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert b"connection: close" in answer.lower()
            assert closed_without_an_answer(extra)
        held.close()
        assert wait_until(lambda: httpx.get(f"{server.url}/healthz").status_code == 200, 5)


def serve_with_file_limit(
    tmp_path: Path, soft: int, hard: int, *, loop: str = "auto"
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`dashscope-proxy serve` as a process started with that open-file limit."""
    port = free_port()
    config = tmp_path / "proxy.toml"
    config.write_text(f'[server]\nport = {port}\nloop = "{loop}"\n')

    def file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*SERVE, "--config", str(config)],
            stderr=stderr,
            preexec_fn=file_limit,
            env={k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE")},
        )
    assert wait_until(lambda: "Listening on" in log.read_text(), 20), log.read_text()
    return process, f"http://127.0.0.1:{port}", log


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(10)


# Regression: at a file limit of 256, asyncio logged a traceback for every failed accept (up
# to uvicorn's backlog, 2048, per attempt, every second): megabytes of stderr.
def test_out_of_file_descriptors_accept_failures_are_logged_once_in_a_while(
    tmp_path: Path,
) -> None:
    limit = 64
    process, url, log = serve_with_file_limit(tmp_path, limit, limit, loop="asyncio")

    def logged_while_out() -> None:
        assert wait_until(lambda: "cannot accept connections" in log.read_text(), 5)
        wait_until(lambda: False, 2.5)  # a few of asyncio's one-second retries

    text = out_of_descriptors(process, url, log, 2 * limit, logged_while_out)
    assert text.count("accept") == 1, text[:2000]


def out_of_descriptors(
    process: subprocess.Popen[bytes], url: str, log: Path, count: int, meanwhile: Callable[[], None]
) -> str:
    """Holds `count` connections to the server while `meanwhile` runs, sees it well after
    and stops it; its log, which holds no traceback."""
    try:
        with ExitStack() as held:
            for _ in range(count):
                held.enter_context(connect(url))
            meanwhile()
        assert wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, 5)
    finally:
        stop(process)
    text = log.read_text()
    assert "Traceback" not in text
    return text


def test_a_file_limit_too_low_for_the_connections_allowed_is_said_once_at_start(
    tmp_path: Path,
) -> None:
    """On uvloop (libuv closes what it cannot accept, silently) as on asyncio: the operator
    learns of the limit at startup, and running out of descriptors leaves the server well."""
    limit = 64
    process, url, log = serve_with_file_limit(tmp_path, limit, limit)
    text = out_of_descriptors(process, url, log, 2 * limit, lambda: time.sleep(1.5))
    assert text.count("open-file limit (64") == 1, text[:2000]
    assert "max_client_connections" in text


def test_the_soft_file_limit_is_raised_to_the_connections_allowed(tmp_path: Path) -> None:
    process, _, log = serve_with_file_limit(tmp_path, 64, 8192)
    try:
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        stop(process)
    [line] = [line for line in limits.splitlines() if line.startswith("Max open files")]
    # 2000 client connections, 200 upstream ones, 64 spare (the defaults)
    assert line.split()[3:5] == ["2264", "8192"], line
    assert "open-file limit" not in log.read_text()


def test_a_request_head_over_16_kib_is_refused_and_a_large_body_is_not() -> None:
    with serve() as server:
        with connect(server.url) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024))
            answer = read_response(sock)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b'"code":"request_header_too_large"' in answer
        body = b'{"model": "qwen-plus", "messages": [], "pad": "' + b"b" * (200 * 1024) + b'"}'
        with connect(server.url) as sock:  # a head and a big body's start in one read
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-fake"
                b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            answer = read_response(sock)
        assert answer.startswith(b"HTTP/1.1 400 ")  # the app's answer (no messages), not a 431


def test_pipelined_requests_are_answered_in_order() -> None:
    with serve() as server, connect(server.url) as sock:
        sock.sendall(HEALTH + b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n" + HEALTH)
        data = b""
        while data.count(b"HTTP/1.1 ") < 3 or not data.endswith(b'{"status":"ok"}'):
            data += sock.recv(65536)
    assert re.findall(rb"HTTP/1.1 (\d+) ", data) == [b"200", b"404", b"200"]


async def test_the_connection_signal_wakes_every_waiter_and_stays_set_until_cleared() -> None:
    signal_ = Signal()
    waiters = [asyncio.ensure_future(signal_.wait()) for _ in range(2)]
    cancelled = asyncio.ensure_future(signal_.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert not signal_.is_set()
    assert not any(w.done() for w in waiters)
    signal_.set()
    signal_.set()  # a second set wakes no one twice
    assert await asyncio.gather(*waiters) == [True, True]
    assert signal_.is_set()
    assert await signal_.wait()  # set: no wait at all
    signal_.clear()
    assert not signal_.is_set()
    assert Signal(is_set=True).is_set()
