"""Shared end-to-end setup: a simulated DashScope and proxies in front of it, on loopback.

Session-scoped servers (started once, stopped at the end): the simulator, a proxy holding a
server-side key, and a pass-through proxy that forwards each client's bearer key. Per-test
fixtures give SDK clients (`max_retries=0`, closed after the test), a raw httpx client for the
bytes on the wire, the simulator's request log (cleared before each test), and a `serve`
factory for tests that need a proxy configured differently.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from proxy.config import (
    DEFAULT_MODELS,
    AuthSettings,
    ServerSettings,
    Settings,
    TrafficLogSettings,
    UpstreamSettings,
)
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.server.traffic_writer import TrafficWriter
from proxy.simulator import ReceivedRequest, build_scenario, create_simulator_app
from tests.faulty_upstream import FaultyUpstream

SERVER_KEY = "sk-server-side-dashscope-key"
CLIENT_KEY = "sk-client-key"
SLASH_MODEL = "Qwen/Qwen3-Coder-Plus"
HANGING_REQUEST_ID = "hanging-0000-4000-8000-000000000000"


@dataclass(frozen=True, slots=True)
class Keys:
    server: str = SERVER_KEY
    client: str = CLIENT_KEY


@dataclass(frozen=True, slots=True)
class ScenarioText:
    """What the simulator streams for a scenario: the oracle for translated output."""

    request_id: str
    reasoning: str
    content: str
    codes: tuple[str, ...]


# ---- parallel runs (pytest-xdist, `-n auto` in pyproject.toml) -----------------------------


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing): one process at a time, be it
    another xdist worker or another pytest run in the same tree (e.g. around an `npm ci`)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def once_per_run(factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], Any]) -> Any:
    """`produce(directory)` once per pytest run, its JSON-able result shared by every xdist
    worker (the recipe of xdist's documentation): for a fixture too costly to repeat in each
    worker, such as a benchmark run. Without xdist it simply runs."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return produce(factory.mktemp(name))
    shared = factory.getbasetemp().parent  # this run's directory, above each worker's own
    result = shared / f"{name}.json"
    with exclusive(shared / f"{name}.lock"):
        if not result.exists():
            result.write_bytes(orjson.dumps(produce(factory.mktemp(name))))
    return orjson.loads(result.read_bytes())


def proxy_settings(upstream_url: str, *, api_key: str = "", **upstream: Any) -> Settings:
    return Settings(
        upstream=UpstreamSettings(base_url=upstream_url, api_key=api_key, **upstream),
        models=(*DEFAULT_MODELS, SLASH_MODEL),
    )


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def simulator_app() -> Starlette:
    return create_simulator_app(frame_delay=0.0)


@pytest.fixture(scope="session")
def simulator_url(simulator_app: Starlette) -> Iterator[str]:
    with BackgroundServer(simulator_app) as server:
        yield server.url


@pytest.fixture(scope="session")
def proxy_url(simulator_url: str) -> Iterator[str]:
    """The proxy with a server-side DashScope key."""
    with BackgroundServer(create_app(proxy_settings(simulator_url, api_key=SERVER_KEY))) as s:
        yield s.url


@pytest.fixture(scope="session")
def passthrough_url(simulator_url: str) -> Iterator[str]:
    """The proxy without a server key: each client's bearer key goes upstream."""
    with BackgroundServer(create_app(proxy_settings(simulator_url))) as server:
        yield server.url


@pytest.fixture
def received(simulator_app: Starlette) -> list[ReceivedRequest]:
    """The simulator's request log, emptied for this test; it fills as requests arrive."""
    log: list[ReceivedRequest] = simulator_app.state.received
    log.clear()
    return log


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Start any ASGI app on loopback for this test only; returns its base URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(BackgroundServer(app)).url


def _sdk_client(base_url: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


@pytest.fixture
def client(proxy_url: str) -> Iterator[openai.OpenAI]:
    with _sdk_client(proxy_url, CLIENT_KEY) as sdk:
        yield sdk


@pytest.fixture
def passthrough_client(passthrough_url: str) -> Iterator[openai.OpenAI]:
    with _sdk_client(passthrough_url, CLIENT_KEY) as sdk:
        yield sdk


@pytest.fixture
def sdk_for() -> Iterator[Callable[..., openai.OpenAI]]:
    """`sdk_for(base_url, api_key=CLIENT_KEY)`: an SDK client closed after the test."""
    with ExitStack() as stack:

        def make(base_url: str, api_key: str = CLIENT_KEY) -> openai.OpenAI:
            return stack.enter_context(_sdk_client(base_url, api_key))

        yield make


@pytest.fixture
async def async_client(proxy_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(
        base_url=f"{proxy_url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30
    )
    async with sdk:
        yield sdk


@pytest.fixture
def raw(proxy_url: str) -> Iterator[httpx.Client]:
    """Plain httpx against the server-key proxy, for status lines, headers and raw bytes."""
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.Client(base_url=proxy_url, headers=headers, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def scenario_text() -> Callable[..., ScenarioText]:
    """`scenario_text(name, thinking=True)`: the texts and codes the simulator will stream."""

    def texts(name: str, *, thinking: bool = True) -> ScenarioText:
        parameters = {"incremental_output": True, "enable_thinking": thinking}
        scenario = build_scenario(name, {"parameters": parameters})
        reasoning, content = [], []
        codes: tuple[str, ...] = ()
        for frame in scenario.frames:
            output = frame.data.get("output", {})
            for choice in output.get("choices", []):
                reasoning.append(choice["message"].get("reasoning_content", ""))
                content.append(choice["message"]["content"])
            info = output.get("tool_info") or []
            codes = tuple(entry["code_interpreter"]["code"] for entry in info) or codes
        return ScenarioText(scenario.request_id, "".join(reasoning), "".join(content), codes)

    return texts


@pytest.fixture(scope="session")
def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was bound, then released)."""
    return f"http://127.0.0.1:{free_port()}"


def free_port() -> int:
    """A loopback port nothing listens on now, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def fenced_python(path: Path, name: str, url: str) -> str:
    """The Python block after `<!-- recipe:NAME -->` in `path`; it must name `url` once, so a
    test can point it at its own server."""
    text = path.read_text(encoding="utf-8")
    found = re.search(rf"<!-- recipe:{name} -->\n```python\n(.*?)\n```\n", text, re.DOTALL)
    assert found is not None, f"{path.name} has no recipe {name!r}"
    code = found.group(1)
    assert code.count(url) == 1, f"the recipe should name {url} once"
    return code


def _hanging_upstream() -> Starlette:
    """Answers 200 + event-stream headers, then never sends a frame."""

    async def never() -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""  # pragma: no cover

    async def generation(request: Request) -> Response:
        headers = {"x-request-id": HANGING_REQUEST_ID}
        return StreamingResponse(never(), media_type="text/event-stream", headers=headers)

    return Starlette(routes=[Route("/{path:path}", generation, methods=["POST"])])


@dataclass(frozen=True, slots=True)
class Hanging:
    url: str
    request_id: str = HANGING_REQUEST_ID


@pytest.fixture
def hanging_upstream(serve: Callable[[Any], str]) -> Hanging:
    return Hanging(serve(_hanging_upstream()))


@pytest.fixture
def start_proxy(serve: Callable[[Any], str]) -> Callable[..., str]:
    """`start_proxy(upstream_url, api_key=..., **upstream_settings)`: a proxy for this test."""

    def start(upstream_url: str, *, api_key: str = SERVER_KEY, **upstream: Any) -> str:
        return serve(create_app(proxy_settings(upstream_url, api_key=api_key, **upstream)))

    return start


# ---- added for the representation, echo and translation end-to-end tests -----------------


@pytest.fixture
def start_configured_proxy(serve: Callable[[Any], str]) -> Callable[..., str]:
    """`start_configured_proxy(upstream_url, server=..., code_interpreter=...)`: a proxy for this
    test whose other settings sections (`Settings` fields) are given as keyword arguments."""

    def start(upstream_url: str, *, api_key: str = SERVER_KEY, **sections: Any) -> str:
        upstream = UpstreamSettings(base_url=upstream_url, api_key=api_key)
        settings = Settings(upstream=upstream, models=(*DEFAULT_MODELS, SLASH_MODEL), **sections)
        return serve(create_app(settings))

    return start


@pytest.fixture
def http_for() -> Iterator[Callable[[str], httpx.Client]]:
    """`http_for(base_url)`: plain httpx with the client key, closed after the test."""
    with ExitStack() as stack:

        def make(base_url: str) -> httpx.Client:
            headers = {"authorization": f"Bearer {CLIENT_KEY}"}
            client = httpx.Client(base_url=base_url, headers=headers, timeout=30)
            return stack.enter_context(client)

        yield make


@pytest.fixture(scope="session")
def slow_simulator_url() -> Iterator[str]:
    """A simulator that waits 0.3 s between frames, for keep-alive tests."""
    with BackgroundServer(create_simulator_app(frame_delay=0.3)) as server:
        yield server.url


# ---- added for the traffic-log tests ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficProxy:
    """A proxy writing a traffic log, in front of the simulator, stopped on demand."""

    url: str
    writer: TrafficWriter
    server: BackgroundServer

    def stop(self) -> None:
        """Stop serving: the lifespan closes the writer, which writes what is queued first."""
        self.server.stop()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a traffic log, parsed; each must be one complete JSON object."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path} ends with a partial line"
    records = [json.loads(line) for line in data.splitlines()]
    assert all(isinstance(r, dict) for r in records)
    return records


@pytest.fixture
def traffic_proxy(simulator_url: str) -> Iterator[Callable[..., TrafficProxy]]:
    """`traffic_proxy(TrafficLogSettings(...), api_key=SERVER_KEY)`: a proxy for this test with
    the given traffic-log settings; `.stop()` flushes the log (also done after the test)."""
    with ExitStack() as stack:

        def start(traffic: TrafficLogSettings, *, api_key: str = SERVER_KEY) -> TrafficProxy:
            settings = replace(proxy_settings(simulator_url, api_key=api_key), traffic_log=traffic)
            app = create_app(settings)
            writer = app.state.traffic_writer
            assert isinstance(writer, TrafficWriter)
            server = stack.enter_context(BackgroundServer(app))
            return TrafficProxy(server.url, writer, server)

        yield start


# ---- added for the production tests: faults, keys, limits, shutdown, metrics ---------------


@dataclass(frozen=True, slots=True)
class RunningProxy:
    """A proxy on loopback for one test, with its app at hand (lifecycle, metrics)."""

    url: str
    app: Starlette

    @property
    def active(self) -> int:
        """Exchanges in progress, as the proxy's own admission control counts them."""
        count: int = self.app.state.lifecycle.active
        return count


@pytest.fixture
def proxy_app(serve: Callable[[Any], str]) -> Callable[..., RunningProxy]:
    """`proxy_app(upstream_url, api_key=SERVER_KEY, server=ServerSettings(...),
    auth=AuthSettings(...), **upstream_settings)`: a proxy for this test and its app."""

    def start(
        upstream_url: str,
        *,
        api_key: str = SERVER_KEY,
        server: ServerSettings | None = None,
        auth: AuthSettings | None = None,
        **upstream: Any,
    ) -> RunningProxy:
        settings = replace(
            proxy_settings(upstream_url, api_key=api_key, **upstream),
            server=server or ServerSettings(),
            auth=auth or AuthSettings(),
        )
        app = create_app(settings)
        return RunningProxy(serve(app), app)

    return start


@pytest.fixture
def faulty() -> Iterator[Callable[..., FaultyUpstream]]:
    """`faulty(script, ...)`: a misbehaving DashScope for this test (tests/faulty_upstream.py);
    connection n plays script n, the last one repeating."""
    with ExitStack() as stack:
        yield lambda *scripts: stack.enter_context(FaultyUpstream(*scripts))
