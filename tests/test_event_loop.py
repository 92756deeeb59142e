"""`[server] loop`: which event loop the server runs on. "auto" (the default) is uvloop where
it is installed, as it is wherever it builds, and the standard library's loop otherwise."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest

from proxy.config import ConfigError, ServerSettings, settings_from_mapping
from proxy.server.serving import BackgroundServer


async def loop_module(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering with the module of the loop that runs it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = type(asyncio.get_running_loop()).__module__.encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def served_by(loop: str) -> str:
    with BackgroundServer(loop_module, server=ServerSettings(loop=loop)) as server:
        return httpx.get(server.url, timeout=5).text


def test_the_default_is_auto() -> None:
    assert settings_from_mapping({}).server.loop == "auto"


@pytest.mark.parametrize(("loop", "module"), [("auto", "uvloop"), ("uvloop", "uvloop")])
def test_auto_and_uvloop_serve_on_uvloop(loop: str, module: str) -> None:
    pytest.importorskip("uvloop")
    settings_from_mapping({"server": {"loop": loop}})  # valid
    assert served_by(loop).startswith(module)


def test_asyncio_serves_on_the_standard_loop() -> None:
    assert served_by("asyncio").startswith("asyncio")


def test_auto_falls_back_to_the_standard_loop_without_uvloop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert served_by("auto").startswith("asyncio")


def test_uvloop_without_uvloop_installed_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(ConfigError, match=r'\[server\] loop is "uvloop" but uvloop'):
        settings_from_mapping({"server": {"loop": "uvloop"}})


def test_an_unknown_loop_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[server\] loop must be one of auto, uvloop, asyncio"):
        settings_from_mapping({"server": {"loop": "trio"}})
