"""`serve` tunes the garbage collector once its app has started: what startup made frozen,
and the young threshold from `[server] gc_threshold` (0: Python's). Run in a child process,
as it changes the whole process's collector."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from proxy.config import ConfigError, settings_from_mapping

_STARTED_SERVER = """
import gc, json, sys, threading, time
from proxy.config import settings_from_mapping
from proxy.server.app import create_app
from proxy.server.serving import DrainingServer, listen, uvicorn_config

settings = settings_from_mapping({"server": {"gc_threshold": int(sys.argv[1])}})
config = uvicorn_config(create_app(settings), "127.0.0.1", 0)
server = DrainingServer(config, gc_threshold=settings.server.gc_threshold)
before = gc.get_threshold()

def stop_once_started():
    while not server.started:
        time.sleep(0.01)
    server.should_exit = True

threading.Thread(target=stop_once_started, daemon=True).start()
server.run(sockets=listen("127.0.0.1", 0))
print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))
"""


def _started(threshold: int) -> tuple[list[int], list[int], int]:
    done = subprocess.run(
        [sys.executable, "-c", _STARTED_SERVER, str(threshold)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before, after, frozen = json.loads(done.stdout.splitlines()[-1])
    return before, after, frozen


def test_a_started_server_collects_young_objects_at_the_threshold_and_froze_startup() -> None:
    before, after, frozen = _started(12_345)
    assert before == [700, 10, 10]
    assert after == [12_345, 10, 10]
    assert frozen > 10_000  # the imports, the app, the config: never scanned again


def test_threshold_0_keeps_pythons_threshold_and_still_freezes_startup() -> None:
    before, after, frozen = _started(0)
    assert after == before
    assert frozen > 10_000


def test_the_default_is_pythons_threshold() -> None:
    assert settings_from_mapping({}).server.gc_threshold == 0


def test_a_negative_threshold_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[server\] gc_threshold"):
        settings_from_mapping({"server": {"gc_threshold": -1}})
