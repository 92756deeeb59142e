"""Settings as plain data, loaded from a TOML file and the environment, validated at start.

Every error names the offending key, so a typo in a config file is caught before serving.
`config.example.toml` documents every key; `tests/test_config.py` keeps the two in step.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from proxy.config.checks import CHECKS, check_exposure, is_loopback
from proxy.config.sections import (
    DEFAULT_MODELS,
    LOG_LEVELS,
    SECTIONS,
    AuthSettings,
    CodeInterpreterSettings,
    ConfigError,
    PriceSettings,
    RoutingSettings,
    ServerSettings,
    Settings,
    TrafficLogSettings,
    UpstreamSettings,
)
from proxy.core.json_types import TYPE_NAMES
from proxy.core.key_identity import named_keys
from proxy.core.model_config import model_settings
from proxy.core.model_table import MODEL_TABLE
from proxy.core.telemetry_settings import OTEL_ENVIRONMENT, TelemetrySettings

__all__ = [
    "DEFAULT_MODELS",
    "ENVIRONMENT",
    "LOG_LEVELS",
    "AuthSettings",
    "CodeInterpreterSettings",
    "ConfigError",
    "PriceSettings",
    "RoutingSettings",
    "ServerSettings",
    "Settings",
    "TelemetrySettings",
    "TrafficLogSettings",
    "UpstreamSettings",
    "check_exposure",
    "is_loopback",
    "load_settings",
    "settings_from_mapping",
]

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
            if isinstance(getattr(SECTIONS[section](), key), tuple):  # lists: comma-separated
                value = [item.strip() for item in value.split(",") if item.strip()]
            raw[section][key] = value
    return settings_from_mapping(raw)


def settings_from_mapping(raw: Mapping[str, Any]) -> Settings:
    settings = Settings()
    for name, value in raw.items():
        if name not in (*SECTIONS, "models"):
            known = ", ".join(sorted([*SECTIONS, "models"]))
            raise ConfigError(f"unknown config section [{name}] (known: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table")
        if name == "auth":
            try:
                value = named_keys(value)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if name in SECTIONS:
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
    cls = SECTIONS[name]
    known = {f.name: f for f in fields(cls)}
    parsed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key [{name}] {key} (known: {', '.join(sorted(known))})")
        default = known[key].default
        parsed[key] = _coerce(f"[{name}] {key}", value, type(default))
    section = cls(**parsed)
    for check in CHECKS.get(name, ()):
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
