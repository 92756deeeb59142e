"""Settings as plain data, loaded from a TOML file and the environment, validated at start.

Every error names the offending key, so a typo in a config file is caught before serving.
`config.example.toml` documents every key; `tests/test_config.py` keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from proxy.chat.code_runs import DEFAULT_FORMAT, FORMATS
from proxy.core.json_types import TYPE_NAMES
from proxy.core.key_identity import named_keys
from proxy.core.model_config import model_settings
from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelTable
from proxy.core.regions import REGIONS, check_workspace, native_base, region_url
from proxy.core.sse import MAX_EVENT, MAX_LINE
from proxy.core.telemetry_settings import OTEL_ENVIRONMENT, TelemetrySettings, telemetry_problem

LOG_LEVELS = ("debug", "info", "warning", "error")

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
    log_level: str = "info"  # the app log: one JSON line per request at info


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


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "auth": AuthSettings,
    "upstream": UpstreamSettings,
    "traffic_log": TrafficLogSettings,
    "code_interpreter": CodeInterpreterSettings,
    "routing": RoutingSettings,
    "prices": PriceSettings,
    "telemetry": TelemetrySettings,
}

# Environment variables override the file: (section, key) they set.
ENVIRONMENT = {
    "DASHSCOPE_API_KEY": ("upstream", "api_key"),
    "DASHSCOPE_PROXY_HOST": ("server", "host"),
    "DASHSCOPE_PROXY_PORT": ("server", "port"),
    "DASHSCOPE_PROXY_REGION": ("upstream", "region"),
    "DASHSCOPE_PROXY_BASE_URL": ("upstream", "base_url"),
    "DASHSCOPE_PROXY_TRAFFIC_LOG": ("traffic_log", "path"),
    "DASHSCOPE_PROXY_KEYS": ("auth", "proxy_keys"),  # comma-separated
    **OTEL_ENVIRONMENT,  # the OpenTelemetry SDK's own, for [telemetry]
    "DASHSCOPE_PROXY_SEAL_KEY": ("auth", "seal_key"),
}


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"cannot read {path}: it is not UTF-8 text") from None
        except OSError as exc:  # a directory, no permission, ...
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    for name, (section, key) in ENVIRONMENT.items():
        if env and env.get(name):
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(f"[{section}] must be a table")
            value: Any = env[name]
            if isinstance(getattr(_SECTIONS[section](), key), tuple):  # lists: comma-separated
                value = [item.strip() for item in value.split(",") if item.strip()]
            raw[section][key] = value
    return settings_from_mapping(raw)


def settings_from_mapping(raw: Mapping[str, Any]) -> Settings:
    settings = Settings()
    for name, value in raw.items():
        if name not in (*_SECTIONS, "models"):
            known = ", ".join(sorted([*_SECTIONS, "models"]))
            raise ConfigError(f"unknown config section [{name}] (known: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table")
        if name == "auth":
            try:
                value = named_keys(value)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if name in _SECTIONS:
            settings = replace(settings, **{name: _section(name, value)})
    return _models(settings, raw.get("models", {}))


def _models(settings: Settings, models: dict[str, Any]) -> Settings:
    """The model table and the served ids, from [models] and the deprecated [routing] key."""
    try:
        found = model_settings(models, settings.routing.multimodal_models, MODEL_TABLE)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return replace(
        settings, models=found.served, model_table=found.table, deprecations=found.deprecations
    )


def _section(name: str, values: dict[str, Any]) -> Any:
    cls = _SECTIONS[name]
    known = {f.name: f for f in fields(cls)}
    parsed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key [{name}] {key} (known: {', '.join(sorted(known))})")
        default = known[key].default
        parsed[key] = _coerce(f"[{name}] {key}", value, type(default))
    section = cls(**parsed)
    for check in _CHECKS.get(name, ()):
        check(section)
    return section


def _coerce(where: str, value: Any, kind: type) -> Any:
    """Values from the environment are strings; convert them like the TOML types they stand for."""
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in _BOOLEANS:
                return _BOOLEANS[value.lower()]
            raise TypeError
        if kind is int and not isinstance(value, bool):
            return int(value)
        if kind is float and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        if kind is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{where} must be {_KIND_NAMES[kind]}, got {value!r}")


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

_KIND_NAMES = {**TYPE_NAMES, tuple: "a list of strings"}


def _check_server(server: ServerSettings) -> None:
    if not 0 <= server.port <= 65535:
        raise ConfigError(f"[server] port must be between 0 and 65535, got {server.port}")
    if not server.host:
        raise ConfigError("[server] host must not be empty")
    if server.keepalive_interval < 0:
        raise ConfigError("[server] keepalive_interval must be 0 (off) or positive")


def _check_patterns(where: str, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: {pattern!r} is not a regular expression: {exc}") from None


def _check_traffic_log(traffic: TrafficLogSettings) -> None:
    if traffic.max_bytes < 1024:
        raise ConfigError("[traffic_log] max_bytes must be at least 1024")
    if traffic.retention < 0:
        raise ConfigError("[traffic_log] retention must be 0 or more")
    if traffic.queue_size < 1:
        raise ConfigError("[traffic_log] queue_size must be at least 1")
    _check_patterns("[traffic_log] redact_patterns", traffic.redact_patterns)


def _check_format(settings: CodeInterpreterSettings) -> None:
    if settings.format not in FORMATS:
        raise ConfigError(
            f"[code_interpreter] format must be one of {', '.join(FORMATS)}, "
            f"got {settings.format!r}"
        )


def _check_telemetry(telemetry: TelemetrySettings) -> None:
    problem = telemetry_problem(telemetry)
    if problem:
        raise ConfigError(f"[telemetry] {problem}")


def _check_limits(server: ServerSettings) -> None:
    if server.drain_timeout < 0:
        raise ConfigError("[server] drain_timeout must be 0 or more")
    if server.max_body_bytes < 1024:
        raise ConfigError("[server] max_body_bytes must be at least 1024")
    if server.max_concurrent_streams < 0:
        raise ConfigError("[server] max_concurrent_streams must be 0 (no limit) or more")
    if server.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"[server] log_level must be one of {', '.join(LOG_LEVELS)}")


MIN_PROXY_KEY = 8  # a guard against empty and placeholder keys; real ones should be long random
MIN_SEAL_KEY = 32  # characters: a random secret's worth (openssl rand -base64 32 gives 44)


def _check_auth(auth: AuthSettings) -> None:
    """Never quote a key: the error names its position only."""
    seen: set[str] = set()
    for position, key in enumerate(auth.proxy_keys, 1):
        if len(key.strip()) < MIN_PROXY_KEY or key != key.strip():
            raise ConfigError(
                f"[auth] proxy_keys: key {position} is empty, too short (under {MIN_PROXY_KEY} "
                "characters) or has surrounding spaces"
            )
        if key in seen:
            raise ConfigError(f"[auth] proxy_keys: key {position} repeats an earlier key")
        seen.add(key)
    if auth.seal_key and len(auth.seal_key) < MIN_SEAL_KEY:
        raise ConfigError(
            f"[auth] seal_key is under {MIN_SEAL_KEY} characters: use a long random secret "
            "(openssl rand -base64 32)"
        )


def _check_prices(prices: PriceSettings) -> None:
    if prices.region and prices.region not in REGIONS:
        raise ConfigError(
            f"[prices] region must be one of {', '.join(REGIONS)} (or empty for [upstream] "
            f"region), got {prices.region!r}"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: assume it is reachable from elsewhere


def check_exposure(settings: Settings) -> None:
    """Refuse a server key on the network without client keys (docs/architecture.md, "Keys")."""
    if (
        settings.upstream.api_key
        and not settings.auth.proxy_keys
        and not settings.auth.allow_unauthenticated
        and not is_loopback(settings.server.host)
    ):
        raise ConfigError(
            f"refusing to listen on {settings.server.host} with a server DashScope key and no "
            "proxy keys: anyone who can reach the port would spend your quota. Set "
            "[auth] proxy_keys (or DASHSCOPE_PROXY_KEYS=key1,key2) so clients must present one, "
            "or set [auth] allow_unauthenticated = true if the network itself is trusted."
        )


def _check_upstream(upstream: UpstreamSettings) -> None:
    if upstream.region not in REGIONS:
        raise ConfigError(
            f"[upstream] region must be one of {', '.join(REGIONS)}, got {upstream.region!r}"
        )
    _check_address(upstream)
    for key in ("connect_timeout", "first_frame_timeout", "read_timeout", "pool_timeout"):
        if getattr(upstream, key) <= 0:
            raise ConfigError(f"[upstream] {key} must be positive")
    if upstream.max_connections < 1:
        raise ConfigError("[upstream] max_connections must be at least 1")
    if upstream.max_line_bytes < 1024:
        raise ConfigError("[upstream] max_line_bytes must be at least 1024")
    if upstream.max_event_bytes < upstream.max_line_bytes:
        raise ConfigError("[upstream] max_event_bytes must be at least max_line_bytes")
    if upstream.total_timeout <= 0:
        raise ConfigError("[upstream] total_timeout must be positive")
    if upstream.retries < 0 or upstream.retry_max_wait < 0 or upstream.retry_budget < 0:
        raise ConfigError("[upstream] retries, retry_max_wait and retry_budget must be 0 or more")


def _check_address(upstream: UpstreamSettings) -> None:
    """The URL the proxy will call is well formed; each error names the key to change."""
    _named("workspace", check_workspace, upstream.workspace)
    if upstream.base_url:
        _named("base_url", native_base, upstream.base_url)
    else:
        _named("region", lambda region: region_url(region, upstream.workspace), upstream.region)


def _named(key: str, check: Callable[[str], object], value: str) -> None:
    try:
        check(value)
    except ValueError as exc:
        raise ConfigError(f"[upstream] {key} {exc}") from None


_CHECKS: dict[str, tuple[Callable[[Any], None], ...]] = {
    "server": (_check_server, _check_limits),
    "upstream": (_check_upstream,),
    "traffic_log": (_check_traffic_log,),
    "code_interpreter": (_check_format,),
    "routing": (lambda r: _check_patterns("[routing] multimodal_models", r.multimodal_models),),
    "auth": (_check_auth,),
    "prices": (_check_prices,),
    "telemetry": (_check_telemetry,),
}
