"""The settings' sections as plain frozen data, with their defaults: what a config file and the
environment may set (`config.example.toml` documents each key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.chat.code_runs import DEFAULT_FORMAT
from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelTable
from proxy.core.regions import native_base, region_url
from proxy.core.sse import MAX_EVENT, MAX_LINE
from proxy.core.telemetry_settings import TelemetrySettings

LOG_LEVELS = ("debug", "info", "warning", "error")
LOOPS = ("auto", "uvloop", "asyncio")  # [server] loop

DEFAULT_MODELS = MODEL_TABLE.served_ids()  # what GET /v1/models lists by default


class ConfigError(Exception):
    """A setting is missing, unknown or invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Seconds of upstream silence (an interpreter run) after which an SSE comment keeps the
    # client's and intermediaries' read timeouts from firing; 0 turns it off.
    keepalive_interval: float = 15.0
    # After SIGTERM: readiness turns 503 and new requests are refused at once; streams in
    # flight may finish for this many seconds, then end with an in-band error and [DONE].
    drain_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024  # larger request bodies get a 413
    # Exchanges served at once; beyond it a 503 with Retry-After (0: no limit).
    max_concurrent_streams: int = 1000
    # Client connections held at once; past it each request gets a 503 (docs/operations.md).
    max_client_connections: int = 2000
    keep_alive_timeout: float = 5.0  # an idle keep-alive connection is closed after this
    header_timeout: float = 10.0  # to send a request's head, else the connection is closed
    body_timeout: float = 60.0  # to send a request's body, else a 408
    log_level: str = "info"  # the app log: one JSON line per request at info
    # Tracked objects allocated (net) between two young garbage collections (0: Python's,
    # 700). Higher saves CPU but lengthens each collection's pause (docs/operations.md).
    gc_threshold: int = 0
    # The event loop: "uvloop" (libuv's, in C), "asyncio" (the standard library's), or "auto",
    # uvloop where it is installed (a dependency wherever it builds), else asyncio.
    loop: str = "auto"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    # Keys clients must present (Authorization: Bearer <key>) when [upstream] api_key is set.
    # In the file, an entry is a key, or `{ name = "...", key = "..." }` to name it.
    proxy_keys: tuple[str, ...] = field(default=(), repr=False)
    # Serve with a server key and no proxy keys on a non-loopback address anyway.
    allow_unauthenticated: bool = False
    # Each proxy key's name, in order ("" unnamed): from proxy_keys' `{ name, key }` entries.
    key_names: tuple[str, ...] = field(default=(), metadata={"file": False})
    # The secret that seals the reasoning clients keep (`encrypted_content`); replicas behind
    # one Service share it. Empty: a random one per process (sealed items do not survive a
    # restart or reach another replica).
    seal_key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class PriceSettings:
    # The region whose prices (the model table's) costs are computed at, a key of REGIONS:
    # CNY for beijing and finance, USD for others; "": the upstream's (proxy/core/cost.py).
    region: str = ""


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    region: str = "beijing"  # a key of proxy/core/regions.py's REGIONS
    # Wins over region when set: the host alone, or with /api/v1 as the vendor writes it.
    base_url: str = ""
    # Server-side DashScope key; empty means each client's bearer key is forwarded.
    api_key: str = field(default="", repr=False)
    connect_timeout: float = 10.0
    # From the request sent to DashScope's first complete frame (response head included).
    first_frame_timeout: float = 120.0
    # Longest silence between two frames; code-interpreter runs are silent while they execute.
    # Bytes that complete no frame (SSE comments, a frame trickling in) do not end a silence.
    read_timeout: float = 300.0
    # Longest whole exchange, from the request to the last frame, retries included.
    total_timeout: float = 1800.0
    max_connections: int = 200
    # Longest wait for a free connection when all max_connections are busy; then a 503.
    pool_timeout: float = 1.0
    # Longest SSE line, and most data in one SSE event, DashScope may send (bytes); beyond
    # either the stream fails with upstream_frame_too_large.
    max_line_bytes: int = MAX_LINE
    max_event_bytes: int = MAX_EVENT
    # A workspace id: sent as X-DashScope-WorkSpace, and (without base_url) it selects the
    # region's workspace-dedicated domain where the region has one.
    workspace: str = ""
    # Attempts after the first, only before any byte reached the client: connection errors,
    # 5xx and retryable 429s. Backoff is jittered and honours Retry-After up to retry_max_wait.
    retries: int = 2
    retry_max_wait: float = 10.0
    retry_budget: float = 30.0  # no retry starts later than this after the first attempt
    # Client headers passed upstream as they are (any case); nothing else is forwarded.
    forward_headers: tuple[str, ...] = (
        "x-dashscope-datainspection",
        "x-dashscope-ossresourceresolve",
    )

    @property
    def url(self) -> str:
        """The native base the API paths (/api/v1/...) are joined to, without /api/v1."""
        if self.base_url:
            return native_base(self.base_url)
        return region_url(self.region, self.workspace)


@dataclass(frozen=True, slots=True)
class TrafficLogSettings:
    path: str = ""  # a JSONL file, "stdout", or "" for none
    max_bytes: int = 50 * 1024 * 1024  # rotate the file beyond this size
    retention: int = 5  # rotated files kept: path.1 .. path.N
    queue_size: int = 10_000  # records waiting for the writer; beyond it they are counted lost
    capture_frames: bool = False  # keep the raw upstream frames (needed by `logs replay`)
    capture_chunks: bool = False  # keep the emitted chunks (replay compares with them)
    # Extra regular expressions to mask, beyond the built-in key formats.
    redact_patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CodeInterpreterSettings:
    # tool_calls | reasoning | content | vendor | off (see proxy/chat/code_runs.py)
    format: str = DEFAULT_FORMAT


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    # Deprecated: the model table routes (docs/models.md). Regular expressions, searched in the
    # model name, of models served by the multimodal endpoint; added to the table as families.
    multimodal_models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    traffic_log: TrafficLogSettings = field(default_factory=TrafficLogSettings)
    code_interpreter: CodeInterpreterSettings = field(default_factory=CodeInterpreterSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    prices: PriceSettings = field(default_factory=PriceSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    models: tuple[str, ...] = DEFAULT_MODELS  # the ids GET /v1/models lists
    # The model families, with the config's [[models.family]] on top (proxy/core/models.py).
    model_table: ModelTable = MODEL_TABLE
    # One line for each deprecated key the config used; the CLI prints them at start.
    deprecations: tuple[str, ...] = ()


SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "auth": AuthSettings,
    "upstream": UpstreamSettings,
    "traffic_log": TrafficLogSettings,
    "code_interpreter": CodeInterpreterSettings,
    "routing": RoutingSettings,
    "prices": PriceSettings,
    "telemetry": TelemetrySettings,
}
