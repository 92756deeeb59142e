"""Who made a call: the proxy keys of `[auth]`, their names and fingerprints (sans-I/O).

A proxy key may carry a name in the config; an unnamed one is known by its fingerprint, the
first 8 hex digits of its SHA-256, which identifies it without revealing it. Records, metrics
and `logs` carry the name (or the fingerprint), never the key. docs/operations.md ("Proxy
keys") shows the config.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FINGERPRINT_LENGTH = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{8}")


def looks_like_fingerprint(value: str) -> bool:
    return bool(_FINGERPRINT.fullmatch(value))


def fingerprint(key: str) -> str:
    """The first 8 hex digits of the key's SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:FINGERPRINT_LENGTH]


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """A proxy key as records and metrics know it."""

    fingerprint: str
    name: str | None = None

    @property
    def label(self) -> str:
        """What tables and metrics show: the name, else the fingerprint."""
        return self.name or self.fingerprint


class KeyRing:
    """The configured proxy keys, each with its identity."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[str], names: Sequence[str] = ()) -> None:
        named = list(names) + [""] * (len(keys) - len(names))
        self._keys = tuple(
            (key.encode(), KeyIdentity(fingerprint(key), name or None))
            for key, name in zip(keys, named, strict=False)
        )

    def __bool__(self) -> bool:
        return bool(self._keys)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(identity.label for _, identity in self._keys)

    def identify(self, presented: str) -> KeyIdentity | None:
        """The identity of the key presented, None for none of them. Every key is compared,
        in constant time, so the time taken tells nothing about which (or whether one)
        matched."""
        candidate = presented.encode()
        found: KeyIdentity | None = None
        for key, identity in self._keys:
            if hmac.compare_digest(candidate, key):
                found = identity
        return found


def named_entries(entries: Any) -> tuple[list[Any], list[object]] | None:
    """`proxy_keys` as the file gives it, split into keys and names (a plain string is an
    unnamed key); None when it holds no named entry (nothing to split). Raises ValueError
    for an entry that is neither a string nor a `{ name, key }` table; never quotes a key."""
    if not isinstance(entries, list) or not any(isinstance(e, dict) for e in entries):
        return None
    keys: list[Any] = []
    names: list[object] = []  # None for a plain key
    for position, entry in enumerate(entries, 1):
        if isinstance(entry, dict):
            if set(entry) != {"name", "key"}:
                raise ValueError(
                    f"key {position} must be a string or a table with exactly `name` and `key`"
                )
            keys.append(entry["key"])
            names.append(entry["name"])
        else:
            keys.append(entry)
            names.append(None)
    return keys, names


def check_names(keys: Sequence[str], names: Sequence[object]) -> None:
    """Names (None: an unnamed key) are short labels, unique, and cannot be mistaken for a
    fingerprint."""
    seen: set[str] = set()
    for position, name in enumerate(names, 1):
        if name is None:
            continue
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"key {position}: a name is 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or a digit"
            )
        if looks_like_fingerprint(name):
            raise ValueError(f"key {position}: the name {name!r} would read as a fingerprint")
        if name in seen:
            raise ValueError(f"key {position}: the name {name!r} is used twice")
        seen.add(name)
    if len(names) > len(keys):
        raise ValueError("more names than keys")


def named_keys(auth: dict[str, Any]) -> dict[str, Any]:
    """`[auth]` with its named proxy keys (`{ name, key }` entries) split into `proxy_keys`
    and `key_names`; a list of plain keys stays as it is. Errors name the section."""
    if "key_names" in auth:
        raise ValueError("unknown key [auth] key_names: name a key in proxy_keys instead")
    try:
        split = named_entries(auth.get("proxy_keys"))
        if split is not None:
            check_names(split[0], split[1])
    except ValueError as exc:
        raise ValueError(f"[auth] proxy_keys: {exc}") from None
    if split is None:
        return auth
    return {**auth, "proxy_keys": split[0], "key_names": [name or "" for name in split[1]]}
