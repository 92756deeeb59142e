"""Proxy keys by name or fingerprint: the config's `[auth] proxy_keys` and who made a call
(proxy/core/key_identity.py, proxy/config.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from proxy.config import ConfigError, load_settings, settings_from_mapping
from proxy.core.key_identity import KeyIdentity, KeyRing, check_names, fingerprint, named_keys

FIRST, SECOND, THIRD = "sk-fake-first-0123456789", "sk-fake-second-0123456789", "sk-fake-third-01"


def auth(*entries: Any) -> dict[str, Any]:
    return {"auth": {"proxy_keys": list(entries)}}


def test_a_fingerprint_is_the_first_8_hex_digits_of_the_sha256() -> None:
    assert fingerprint(FIRST) == hashlib.sha256(FIRST.encode()).hexdigest()[:8]
    assert len(fingerprint(FIRST)) == 8
    assert fingerprint(FIRST) != fingerprint(SECOND)
    assert FIRST not in repr(KeyIdentity(fingerprint(FIRST)))


def test_the_keyring_tells_which_key_was_presented() -> None:
    ring = KeyRing((FIRST, SECOND, THIRD), ("ci", "", "batch"))
    assert ring.identify(FIRST) == KeyIdentity(fingerprint(FIRST), "ci")
    assert ring.identify(SECOND) == KeyIdentity(fingerprint(SECOND))
    assert ring.identify("sk-fake-unknown-012345") is None
    assert ring.identify("") is None
    assert ring.labels == ("ci", fingerprint(SECOND), "batch")
    assert ring
    assert not KeyRing(())
    # Fewer names than keys: the others are unnamed.
    assert KeyRing((FIRST, SECOND), ("ci",)).labels == ("ci", fingerprint(SECOND))


def test_plain_keys_load_as_before_and_are_unnamed() -> None:
    settings = settings_from_mapping(auth(FIRST, SECOND))
    assert settings.auth.proxy_keys == (FIRST, SECOND)
    assert settings.auth.key_names == ()


def test_named_and_plain_keys_mix_in_one_list() -> None:
    settings = settings_from_mapping(auth({"name": "ci", "key": FIRST}, SECOND))
    assert settings.auth.proxy_keys == (FIRST, SECOND)
    assert settings.auth.key_names == ("ci", "")


def test_named_keys_from_a_file_and_plain_ones_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[auth]\nproxy_keys = [{{ name = "team-a", key = "{FIRST}" }}]\n')
    assert load_settings(config).auth.key_names == ("team-a",)
    # DASHSCOPE_PROXY_KEYS replaces the file's list: its keys are unnamed.
    settings = load_settings(config, {"DASHSCOPE_PROXY_KEYS": f"{SECOND},{THIRD}"})
    assert settings.auth.proxy_keys == (SECOND, THIRD)
    assert settings.auth.key_names == ()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (({"name": "ci"},), "key 1 must be a string or a table with exactly `name` and `key`"),
        (({"name": "ci", "key": FIRST, "x": 1},), "exactly `name` and `key`"),
        (({"name": "", "key": FIRST},), "key 1: a name is 1 to 64"),
        (({"name": "a b", "key": FIRST},), "key 1: a name is 1 to 64"),
        (({"name": 7, "key": FIRST},), "key 1: a name is 1 to 64"),
        (({"name": "x" * 65, "key": FIRST},), "key 1: a name is 1 to 64"),
        ((FIRST, {"name": "DeadBeef", "key": SECOND}), "key 2: the name 'DeadBeef' would read"),
        (
            ({"name": "ci", "key": FIRST}, {"name": "ci", "key": SECOND}),
            "key 2: the name 'ci' is used twice",
        ),
        (({"name": "ci", "key": "short"},), "key 1 is empty, too short"),
        (({"name": "ci", "key": FIRST}, FIRST), "key 2 repeats an earlier key"),
        (({"name": "ci", "key": 12345678},), "[auth] proxy_keys must be a list of strings"),
    ],
)
def test_bad_entries_are_config_errors_that_never_quote_a_key(
    entries: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(auth(*entries))
    assert message in str(caught.value)
    assert FIRST not in str(caught.value)
    assert SECOND not in str(caught.value)


def test_key_names_is_not_a_key_of_the_file() -> None:
    with pytest.raises(ConfigError, match="unknown key \\[auth\\] key_names"):
        settings_from_mapping({"auth": {"key_names": ["ci"]}})


def test_names_without_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="more names than keys"):
        check_names([], ["ci"])


def test_a_section_without_named_entries_is_left_as_it_is() -> None:
    section = {"proxy_keys": [FIRST], "allow_unauthenticated": True}
    assert named_keys(section) is section
    assert named_keys({}) == {}
