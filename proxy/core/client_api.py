"""What a client-facing API (Chat Completions, the Responses API) gives the rest of the proxy.

One class per API implements `ClientApi` (`proxy/chat/api.py`, `proxy/responses/api.py`); the
exchange and the replay do everything else the same way for both. What a translation records
for its replay is the API's name and its identity dataclass, field by field, so the recorded
settings and the code cannot drift apart (pure).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    Protocol,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.core.translation import Translation
from proxy.core.wire import Item

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class ClientApi(Protocol):
    name: ClassVar[str]  # what the traffic record's `translation.api` says
    trailer: ClassVar[bytes]  # written after a stream's last item

    def translate(self, body: object, options: TranslationOptions) -> UpstreamPlan[Any]:
        """The client's request body -> what to send upstream."""
        ...

    def translation(
        self, exchange_id: str, plan: UpstreamPlan[Any], created: int, *, keep_text: bool = True
    ) -> Translation:
        """The translation of one exchange (`created`: Unix seconds). Without `keep_text` its
        summary holds only the usage (no traffic log reads the text)."""
        ...

    def restore(self, settings: Mapping[str, object]) -> Translation:
        """A recorded translation's settings -> the same translation again (replay). Raises
        KeyError, TypeError or ValueError for settings it cannot read."""
        ...

    def reply(self, items: list[Item]) -> Item:
        """All of a complete answer's items -> the body a non-stream client gets."""
        ...

    def encode(self, item: Item) -> bytes:
        """One item as the stream's bytes."""
        ...


Identity = TypeVar("Identity", bound="DataclassInstance")


def settings_of(api: ClientApi, identity: DataclassInstance) -> dict[str, object]:
    """What replaying a translation needs: the API's name and its identity's fields."""
    return {"api": api.name, **dataclasses.asdict(identity)}


def identity_from(kind: type[Identity], settings: Mapping[str, object]) -> Identity:
    """The identity `settings_of` recorded, every field present and of its type (the `api` key
    aside). A KeyError names a missing field, a TypeError one of the wrong type."""
    hints = get_type_hints(kind)
    values: dict[str, object] = {}
    for field in dataclasses.fields(kind):
        value = settings[field.name]
        if not _conforms(value, hints[field.name]):
            raise TypeError(f"`{field.name}` is {value!r}")
        values[field.name] = value
    return kind(**values)


def _conforms(value: object, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin is Literal:
        return value in get_args(hint)
    if hint is int:  # True is an int in Python, never in JSON
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)
