"""What a translated request becomes, for either client API (sans-I/O): the native request to
send, and what the exchange needs to answer the client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelTable
from proxy.core.native_request import NativeRequest

Extras = TypeVar("Extras")


class Sealer(Protocol):
    """Seals what a client must hand back unchanged (the Responses API's `encrypted_content`)
    with the server's secret, so the proxy reads it back without storing anything. The shell
    provides it (`proxy/server/seal.py`): sealing draws a random nonce."""

    def seal(self, text: str) -> str: ...

    def open(self, token: str) -> str | None:
        """The sealed text; None for a token this secret did not seal, or one altered since."""
        ...


@dataclass(frozen=True, slots=True)
class TranslationOptions:
    """What the server's configuration decides for every request."""

    # How Chat Completions shows interpreter runs (one of proxy/chat/code_runs.py's FORMATS);
    # None is chat's default. The Responses API has an item of its own for them.
    code_format: str | None = None
    # The model families (endpoint, thinking, ...), with the config's own on top.
    models: ModelTable = MODEL_TABLE
    # Seals and opens reasoning a client keeps (None: the proxy reads no sealed item back).
    sealer: Sealer | None = None


@dataclass(frozen=True, slots=True)
class UpstreamPlan(Generic[Extras]):
    """What to send upstream, and what the client asked for that shapes the response.

    `extras` is what only the client's API reads (chat's usage chunk and code format, the
    Responses API's echoed request fields), given when the plan is built."""

    model: str
    path: str
    body: NativeRequest
    stream: bool
    extras: Extras
    notes: tuple[str, ...] = ()
    # Set when the request only answers the proxy's own calls: reply with it, call nobody.
    local_answer: str | None = None
