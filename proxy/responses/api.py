"""The Responses API as one of the proxy's client APIs (`proxy/core/client_api.py`), pure.

Its translation encodes Responses stream events; a non-stream client gets the terminal event's
Response object; a stream is named `event:` frames with no trailer.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import ClassVar

from proxy.core.client_api import identity_from, settings_of
from proxy.core.plan import Sealer, TranslationOptions, UpstreamPlan
from proxy.core.sse import encode_named
from proxy.core.translation import Translation
from proxy.core.wire import Item
from proxy.responses.fold import final_response
from proxy.responses.request import ResponseExtras, translate_responses_request
from proxy.responses.stream import ResponseIdentity, ResponsesEventEncoder


class ResponsesApi:
    name: ClassVar[str] = "responses"
    # Called once per item of every stream: the codec itself, not a method around it.
    encode = staticmethod(encode_named)
    trailer: ClassVar[bytes] = b""

    def translate(self, body: object, options: TranslationOptions) -> UpstreamPlan[ResponseExtras]:
        return translate_responses_request(body, options)

    def translation(
        self,
        exchange_id: str,
        plan: UpstreamPlan[ResponseExtras],
        created: int,
        *,
        keep_text: bool = True,
    ) -> Translation:
        identity = ResponseIdentity(
            response_id=f"resp_{exchange_id}",
            created=created,
            model=plan.model,
            item_prefix=exchange_id[:16],
            echo=plan.extras.echo,
            include_sources=plan.extras.include_sources,
        )
        return self.new_translation(identity, keep_text=keep_text, sealer=plan.extras.sealer)

    def new_translation(
        self, identity: ResponseIdentity, *, keep_text: bool = True, sealer: Sealer | None = None
    ) -> Translation:
        """`sealer`: seals the thinking into `encrypted_content` (a replay seals nothing)."""
        encoder = ResponsesEventEncoder(identity, sealer)
        return Translation(encoder, partial(settings_of, self, identity), keep_text=keep_text)

    def restore(self, settings: Mapping[str, object]) -> Translation:
        return self.new_translation(identity_from(ResponseIdentity, settings))

    def reply(self, items: list[Item]) -> Item:
        return final_response(items)


RESPONSES_API = ResponsesApi()
