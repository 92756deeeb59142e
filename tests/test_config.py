from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from proxy.config import (
    DEFAULT_MODELS,
    ENVIRONMENT,
    ConfigError,
    Settings,
    check_exposure,
    load_settings,
    settings_from_mapping,
)

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def test_defaults_listen_on_loopback_in_beijing_with_pass_through_keys() -> None:
    settings = load_settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8000)
    assert settings.upstream.url == "https://dashscope.aliyuncs.com"
    assert settings.upstream.api_key == ""
    assert settings.models == DEFAULT_MODELS


def test_example_config_documents_every_key_with_its_default() -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings()
    for section in (
        "server",
        "auth",
        "upstream",
        "traffic_log",
        "code_interpreter",
        "prices",
        "telemetry",
    ):
        documented = raw[section]
        current = getattr(defaults, section)
        # A field the file does not set (auth's key names, read from proxy_keys) is not shown.
        from_file = {f.name for f in fields(current) if f.metadata.get("file", True)}
        assert set(documented) == from_file, section
        for key, value in documented.items():
            expected = getattr(current, key)
            assert (tuple(value) if isinstance(value, list) else value) == expected, key
    # [models] shows its keys commented out (an active family would change the table), and
    # the deprecated keys only as comments: the example loads to the defaults, with no warning.
    assert raw["models"] == {}
    assert "routing" not in raw
    assert load_settings(EXAMPLE) == defaults
    assert defaults.deprecations == ()


def test_example_config_documents_every_environment_variable() -> None:
    text = EXAMPLE.read_text()
    for name in ENVIRONMENT:
        assert name in text


def test_region_presets_and_base_url_wins(tmp_path: Path) -> None:
    assert (
        settings_from_mapping({"upstream": {"region": "singapore"}}).upstream.url
        == "https://dashscope-intl.aliyuncs.com"
    )
    custom = settings_from_mapping(
        {"upstream": {"region": "singapore", "base_url": "http://127.0.0.1:9/"}}
    )
    assert custom.upstream.url == "http://127.0.0.1:9"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9000\n[upstream]\napi_key = "from-file"\n')
    settings = load_settings(
        path,
        {"DASHSCOPE_API_KEY": "sk-test-env", "DASHSCOPE_PROXY_PORT": "9100"},
    )
    assert settings.server.port == 9100
    assert settings.upstream.api_key == "sk-test-env"


def test_proxy_keys_come_from_the_environment_comma_separated() -> None:
    settings = load_settings(None, {"DASHSCOPE_PROXY_KEYS": " key-one-123 ,key-two-456,, "})
    assert settings.auth.proxy_keys == ("key-one-123", "key-two-456")
    assert "key-one" not in repr(settings)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("0.0.0.0", True),
        ("10.1.2.3", True),
        ("proxy.internal", True),
        ("127.0.0.1", False),
        ("127.9.9.9", False),
        ("localhost", False),
        ("::1", False),
    ],
)
def test_a_server_key_without_proxy_keys_is_refused_off_loopback(host: str, refused: bool) -> None:
    exposed = settings_from_mapping(
        {"server": {"host": host}, "upstream": {"api_key": "sk-test-x"}}
    )
    if refused:
        with pytest.raises(ConfigError, match="proxy_keys"):
            check_exposure(exposed)
    else:
        check_exposure(exposed)


def test_proxy_keys_or_an_explicit_opt_out_allow_exposure() -> None:
    base = {"server": {"host": "0.0.0.0"}, "upstream": {"api_key": "sk-test-x"}}
    check_exposure(settings_from_mapping({**base, "auth": {"proxy_keys": ["k-123456"]}}))
    check_exposure(settings_from_mapping({**base, "auth": {"allow_unauthenticated": True}}))
    check_exposure(settings_from_mapping({"server": {"host": "0.0.0.0"}}))  # pass-through keys


def test_api_key_is_not_in_the_settings_repr() -> None:
    settings = load_settings(None, {"DASHSCOPE_API_KEY": "sk-test-secret-value"})
    assert "sk-test-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"server": {"port": "eighty"}}, "[server] port"),
        ({"server": {"port": 70000}}, "[server] port"),
        ({"server": {"prot": 1}}, "[server] prot"),
        ({"upstream": {"region": "mars"}}, "[upstream] region"),
        ({"upstream": {"base_url": "ftp://x"}}, "[upstream] base_url"),
        ({"upstream": {"read_timeout": 0}}, "[upstream] read_timeout"),
        ({"upstream": {"api_key": 5}}, "[upstream] api_key"),
        ({"upstream": {"connect_timeout": True}}, "[upstream] connect_timeout"),
        ({"upstrem": {}}, "[upstrem]"),
        ({"models": {"ids": []}}, "[models] ids"),
        ({"models": {"ids": ["a"], "extra": 1}}, "[models]"),
        ({"models": []}, "[models]"),
        ({"models": {"family": {"name": "x"}}}, "[[models.family]]"),
        ({"models": {"family": [{"name": "x"}]}}, "[[models.family]] 'x'"),
        ({"models": {"family": [{"name": "qwen-plus", "thinking": "sometimes"}]}}, "thinking"),
        ({"server": 3}, "[server]"),
        ({"server": {"keepalive_interval": -1}}, "[server] keepalive_interval"),
        ({"code_interpreter": {"format": "xml"}}, "[code_interpreter] format"),
        ({"routing": {"multimodal_models": ["("]}}, "[routing] multimodal_models"),
        ({"routing": {"multimodal_models": "qwen-vl"}}, "[routing] multimodal_models"),
    ],
)
def test_invalid_settings_name_the_key(raw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(raw)
    assert named in str(caught.value)


def test_bad_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)


@pytest.mark.parametrize(
    ("keys", "position", "says"),
    [
        ([""], 1, "empty, too short"),
        (["pk-good-0123456", "pk-7x"], 2, "too short"),
        (["pk-good-0123456", " pk-padded-0123 "], 2, "surrounding spaces"),
        (["pk-good-0123456", "pk-good-0123456"], 2, "repeats"),
    ],
)
def test_bad_proxy_keys_are_a_config_error_that_never_quotes_them(
    keys: list[str], position: int, says: str
) -> None:
    """An empty proxy key used to let requests without Authorization in, with the server key."""
    raw = {"upstream": {"api_key": "sk-server"}, "auth": {"proxy_keys": keys}}
    with pytest.raises(ConfigError, match=f"key {position} ") as caught:
        settings_from_mapping(raw)
    assert says in str(caught.value)
    for key in keys:
        if key.strip():
            assert key.strip() not in str(caught.value)


def test_bad_proxy_keys_from_the_environment_are_refused_too() -> None:
    with pytest.raises(ConfigError, match="key 2 "):
        load_settings(None, {"DASHSCOPE_PROXY_KEYS": "pk-good-0123456,pk-x"})
