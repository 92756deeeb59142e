"""The proxy as a uvicorn factory, for the multi-worker scenario.

`dashscope-proxy serve` has no `--workers`, so the scaling scenario runs

    python -m uvicorn bench.proxy_factory:create --factory --workers 2 ...

with the config path in BENCH_PROXY_CONFIG. Each worker builds the same app `serve` builds,
with the same JSON app log, so one worker started this way is comparable to two.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from proxy.config import load_settings
from proxy.server.app import create_app
from proxy.server.applog import configure_logging
from proxy.server.serving import tune_gc

CONFIG_VARIABLE = "BENCH_PROXY_CONFIG"


def create() -> Starlette:
    settings = load_settings(os.environ.get(CONFIG_VARIABLE) or None, os.environ)
    configure_logging(settings.server.log_level)
    app = create_app(settings)
    tune_gc(settings.server.gc_threshold)  # as `serve` does once its app has started
    return app
