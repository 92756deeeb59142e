"""Masks secrets in traffic records while keeping prompts and answers readable (sans-I/O).

Three nets, because a key can hide anywhere a person can paste one: the exact keys the proxy
knows (its configured keys and the client's key of the exchange), patterns of well-known key
formats, and the values of fields whose names say they hold a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "[redacted]"

DEFAULT_PATTERNS = (
    r"sk-[A-Za-z0-9_\-]{8,}",  # DashScope and OpenAI style keys
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}",
    r"AKIA[0-9A-Z]{16}",  # Alibaba/AWS-style access key ids
)
# Not `token`: logprobs entries use that key for text.
_SECRET_NAMES = re.compile(
    r"(?i)^(authorization|api[_-]?key|x-api-key|access[_-]?token|refresh[_-]?token|secret|password)$"
)
_SHORTEST_SECRET = 6  # shorter "keys" would mask ordinary words


class Redactor:
    def __init__(self, patterns: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        # Compiled one by one: a pattern may carry inline flags, which cannot be joined.
        self._patterns = tuple(re.compile(p) for p in (*DEFAULT_PATTERNS, *patterns))
        self._secrets = tuple(s for s in secrets if len(s) >= _SHORTEST_SECRET)

    def redact(self, value: Any, secrets: Iterable[str] = ()) -> Any:
        """A copy of `value` with secrets masked; `secrets` adds exact strings for this call."""
        exact = sorted(
            {*self._secrets, *(s for s in secrets if s and len(s) >= _SHORTEST_SECRET)},
            key=len,
            reverse=True,  # longer first, so a key that contains another is masked whole
        )
        return self._walk(value, exact)

    def _walk(self, value: Any, exact: list[str]) -> Any:
        if isinstance(value, str):
            return self._text(value, exact)
        if isinstance(value, dict):
            return {
                self._text(key, exact) if isinstance(key, str) else key: MASK
                if isinstance(key, str) and _SECRET_NAMES.match(key) and value[key]
                else self._walk(value[key], exact)
                for key in value
            }
        if isinstance(value, list | tuple):
            return [self._walk(item, exact) for item in value]
        return value

    def _text(self, text: str, exact: list[str]) -> str:
        # Patterns first: a key of a known shape is masked whole, even if it starts with a
        # shorter known secret.
        for pattern in self._patterns:
            text = pattern.sub(MASK, text)
        for secret in exact:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
