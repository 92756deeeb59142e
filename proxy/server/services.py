"""What every exchange of one app shares (`Services`), who asked (`Caller`), what to answer
(`Reply`), and the record of a request refused before it became an exchange."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy.core.cost import Pricing
from proxy.core.errors import ProxyError
from proxy.core.key_identity import KeyIdentity
from proxy.core.retry import RetryPolicy
from proxy.server.lifecycle import Lifecycle
from proxy.server.stream_body import StreamedBody
from proxy.server.telemetry import Telemetry
from proxy.server.upstream import UpstreamClient
from proxy.traffic.record import ExchangeRecorder, FinishedExchange
from proxy.traffic.redact import Redactor


@dataclass(slots=True)
class Reply:
    """What to answer: a stream of bytes, or a JSON body, with headers and status."""

    headers: dict[str, str]
    status: int = 200
    body: Any = None  # a JSON-able object, for non-stream replies and errors
    stream: StreamedBody | None = None


@dataclass(slots=True)
class Services:
    """What every exchange of one app shares."""

    upstream: UpstreamClient
    lifecycle: Lifecycle
    retry: RetryPolicy
    keepalive: float
    total_timeout: float
    # Gets every finished exchange (traffic log, metrics, app log) with the secrets to mask.
    on_end: Callable[[FinishedExchange, tuple[str, ...]], None]
    on_retry: Callable[[], None] = lambda: None
    # Masks every error text before it reaches a client (the traffic log's redactor).
    redactor: Redactor = field(default_factory=Redactor)
    # Which proxy key a client key is (None: none, or no proxy keys in use).
    identify: Callable[[str], KeyIdentity | None] = lambda key: None
    pricing: Pricing | None = None  # what costs are computed at (None: no costs)
    telemetry: Telemetry | None = None  # OpenTelemetry export, when configured


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked: the key they presented, the key to call DashScope with, and the headers to
    forward."""

    client_key: str
    upstream_key: str
    forward_headers: dict[str, str]


def record_refusal(services: Services, recorder: ExchangeRecorder, error: ProxyError) -> None:
    """The record of a request refused before its body was read (a bad key, a body over the
    limit): no model, as nothing was parsed. Its texts are the proxy's own, holding no key."""
    finished = recorder.finish(status=error.status, outcome="error", error=error)
    services.on_end(finished, ())


def new_exchange_id() -> str:
    return uuid.uuid4().hex
