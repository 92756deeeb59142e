"""Chat Completions as one of the proxy's client APIs (`proxy/core/client_api.py`), pure.

Its translation encodes `chat.completion.chunk`s; a non-stream client gets them folded into one
`chat.completion`; a stream is `data:` frames ending in `data: [DONE]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import ClassVar

from proxy.chat.code_runs import code_format
from proxy.chat.fold import fold_chunks
from proxy.chat.request import ChatExtras, translate_chat_request
from proxy.chat.stream import ChatChunkEncoder, ChunkIdentity
from proxy.core.client_api import identity_from, settings_of
from proxy.core.echoes import CALL_ID_PREFIX
from proxy.core.plan import TranslationOptions, UpstreamPlan
from proxy.core.sse import DONE, encode_data
from proxy.core.translation import Translation
from proxy.core.wire import Item


class ChatCompletionsApi:
    name: ClassVar[str] = "chat.completions"
    # Called once per item of every stream: the codec itself, not a method around it.
    encode = staticmethod(encode_data)
    trailer: ClassVar[bytes] = DONE

    def translate(self, body: object, options: TranslationOptions) -> UpstreamPlan[ChatExtras]:
        return translate_chat_request(body, options)

    def translation(
        self,
        exchange_id: str,
        plan: UpstreamPlan[ChatExtras],
        created: int,
        *,
        keep_text: bool = True,
    ) -> Translation:
        identity = ChunkIdentity(
            chunk_id=f"chatcmpl-{exchange_id}",
            created=created,
            model=plan.model,
            call_id_prefix=f"{CALL_ID_PREFIX}{exchange_id[:16]}_",
            # A non-stream reply is folded from the chunks: it always has its usage.
            include_usage=plan.extras.include_usage or not plan.stream,
            code_format=code_format(plan.extras.code_format),
        )
        return self.new_translation(identity, keep_text=keep_text)

    def new_translation(self, identity: ChunkIdentity, *, keep_text: bool = True) -> Translation:
        return Translation(
            ChatChunkEncoder(identity), partial(settings_of, self, identity), keep_text=keep_text
        )

    def restore(self, settings: Mapping[str, object]) -> Translation:
        return self.new_translation(identity_from(ChunkIdentity, settings))

    def reply(self, items: list[Item]) -> Item:
        return fold_chunks(items)


CHAT_COMPLETIONS = ChatCompletionsApi()
