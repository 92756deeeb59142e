"""Validation of each section, run as it is read: every error names the key to change and
never quotes a secret."""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from proxy.chat.code_runs import FORMATS
from proxy.config.sections import (
    LOG_LEVELS,
    LOOPS,
    AuthSettings,
    CodeInterpreterSettings,
    ConfigError,
    PriceSettings,
    ServerSettings,
    Settings,
    TrafficLogSettings,
    UpstreamSettings,
)
from proxy.core.regions import REGIONS, check_workspace, native_base, region_url
from proxy.core.telemetry_settings import TelemetrySettings, telemetry_problem


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
    if server.max_client_connections < 1:
        raise ConfigError("[server] max_client_connections must be at least 1")
    if server.gc_threshold < 0:
        raise ConfigError("[server] gc_threshold must be 0 (Python's default) or more")
    for key in ("keep_alive_timeout", "header_timeout", "body_timeout"):
        if getattr(server, key) <= 0:
            raise ConfigError(f"[server] {key} must be positive")
    if server.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"[server] log_level must be one of {', '.join(LOG_LEVELS)}")
    if server.loop not in LOOPS:
        raise ConfigError(f"[server] loop must be one of {', '.join(LOOPS)}")
    if server.loop == "uvloop":
        try:
            importlib.import_module("uvloop")
        except ImportError:
            raise ConfigError(
                '[server] loop is "uvloop" but uvloop is not installed: use "auto"'
            ) from None


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


CHECKS: dict[str, tuple[Callable[[Any], None], ...]] = {
    "server": (_check_server, _check_limits),
    "upstream": (_check_upstream,),
    "traffic_log": (_check_traffic_log,),
    "code_interpreter": (_check_format,),
    "routing": (lambda r: _check_patterns("[routing] multimodal_models", r.multimodal_models),),
    "auth": (_check_auth,),
    "prices": (_check_prices,),
    "telemetry": (_check_telemetry,),
}
