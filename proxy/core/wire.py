"""Wire shapes that more than one package handles (sans-I/O).

Each client protocol types its own items as TypedDicts (`proxy/chat/wire.py`,
`proxy/responses/items.py`); what the shared parts (the translation base, the I/O shell, the
traffic record) pass along without looking inside is an `Item`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# One emitted item: a chat chunk, a Responses API event, or an error body. Read-only, and
# open-valued so that every protocol's TypedDicts are Items.
Item = Mapping[str, Any]
