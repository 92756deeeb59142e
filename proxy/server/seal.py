"""Sealing what a client keeps for the proxy: the Responses API's `encrypted_content`.

The proxy stores nothing, yet a client that keeps its conversation (`store: false`) hands the
reasoning back on its next request. So the thinking leaves sealed with AES-GCM, authenticated
encryption under a key derived from the server's secret (`[auth] seal_key`,
`DASHSCOPE_PROXY_SEAL_KEY`): a client can neither read it nor alter it unnoticed, and any
replica with the same secret reads it back. A token sealed under another secret, or altered,
opens to None; the request translator drops it with a note (`proxy/responses/reasoning_input.py`).

Shell code, because sealing draws a random nonce for every token.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("proxy")

PREFIX = "dsp1."  # the format's version: a later one can still tell old tokens apart
_NONCE = 12  # bytes, AES-GCM's standard nonce
_TAG = 16
# Binds a token to its use: the same secret sealing something else one day cannot be confused.
_CONTEXT = b"dashscope-proxy reasoning.encrypted_content v1"


class AesGcmSealer:
    """Seals text into `dsp1.<base64url(nonce | ciphertext | tag)>` and opens it again."""

    def __init__(self, secret: bytes, random: Callable[[int], bytes] = os.urandom) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(secret)
        self._aead = AESGCM(key)
        self._random = random  # the nonce source: never reuse a nonce under one key

    def seal(self, text: str) -> str:
        nonce = self._random(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), _CONTEXT)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")

    def open(self, token: str) -> str | None:
        if not token.startswith(PREFIX):
            return None
        body = token[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) < _NONCE + _TAG:
            return None
        try:
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _CONTEXT)
        except InvalidTag:
            return None
        return plain.decode("utf-8")  # authentic, so `seal` made it from a str


def server_sealer(secret: str) -> AesGcmSealer:
    """The server's sealer: from the configured secret, or a random one for this process only
    (its tokens die with the process and mean nothing to other replicas)."""
    return AesGcmSealer(secret.encode("utf-8") if secret else os.urandom(32))


def warn_without_seal_key(secret: str) -> None:
    """Said once the server has started (not before: a server that cannot listen says only
    that), when the sealer's secret is the process's own."""
    if not secret:
        log.warning(
            "no seal key configured ([auth] seal_key / DASHSCOPE_PROXY_SEAL_KEY): reasoning "
            "handed out as encrypted_content is sealed with a random per-process key, so after "
            "a restart or on another replica it is dropped; set one shared secret for all "
            "replicas"
        )
