"""The client-facing APIs the proxy serves, as data: what differs between Chat Completions and
the Responses API. The exchange (`proxy/exchange.py`) does everything else the same way for
both: one upstream path, one native translator, one traffic record (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.chat.fold import fold_chunks
from proxy.chat.request import ChatExtras, translate_chat_request
from proxy.chat.stream import ChunkIdentity
from proxy.chat.translation import ChatTranslation
from proxy.core.echoes import CALL_ID_PREFIX
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.core.sse import DONE, encode_data, encode_named
from proxy.core.translation import Item, Translation
from proxy.responses.fold import final_response
from proxy.responses.request import ResponseEcho, translate_responses_request
from proxy.responses.stream import ResponseIdentity
from proxy.responses.translation import ResponsesTranslation


@dataclass(frozen=True, slots=True)
class Api:
    name: str
    translate: Callable[[Any, TranslationOptions], UpstreamPlan[Any]]
    # (exchange id, plan, creation time in Unix seconds) -> the translation of this exchange.
    translation: Callable[[str, UpstreamPlan[Any], int], Translation]
    reply: Callable[[list[Item]], Item]  # all items -> the non-stream body
    encode: Callable[[Item], bytes]
    trailer: bytes  # after the last item of a stream
    # A recorded exchange's `translation` settings -> the same translation again (replay).
    restore: Callable[[dict[str, Any]], Translation]


def _chat_translation(
    exchange_id: str, plan: UpstreamPlan[ChatExtras], created: int
) -> Translation:
    identity = ChunkIdentity(
        id=f"chatcmpl-{exchange_id}",
        created=created,
        model=plan.model,
        call_id_prefix=f"{CALL_ID_PREFIX}{exchange_id[:16]}_",
    )
    return ChatTranslation(
        identity,
        include_usage=plan.extras.include_usage or not plan.stream,
        code_format=plan.extras.code_format,
    )


def _responses_translation(
    exchange_id: str, plan: UpstreamPlan[ResponseEcho], created: int
) -> Translation:
    identity = ResponseIdentity(
        id=f"resp_{exchange_id}",
        created_at=created,
        model=plan.model,
        item_prefix=exchange_id[:16],
        echo=plan.extras,
    )
    return ResponsesTranslation(identity)


CHAT = Api(
    name="chat.completions",
    translate=translate_chat_request,
    translation=_chat_translation,
    reply=fold_chunks,
    encode=encode_data,
    trailer=DONE,
    restore=ChatTranslation.from_settings,
)

RESPONSES = Api(
    name="responses",
    translate=translate_responses_request,
    translation=_responses_translation,
    reply=final_response,
    encode=encode_named,
    trailer=b"",
    restore=ResponsesTranslation.from_settings,
)


def api_of(settings: dict[str, Any]) -> Api:
    """The API a recorded exchange was served with, from its `translation` settings."""
    return RESPONSES if settings.get("api") == RESPONSES.name else CHAT
