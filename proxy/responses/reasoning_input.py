"""Reasoning items in a Responses `input` -> the thinking DashScope may see again (sans-I/O).

A reasoning item the proxy issued with `include: ["reasoning.encrypted_content"]` carries its
thinking sealed with the server's secret (`proxy/server/seal.py`), so the proxy reads it back
without storing anything. Its thinking goes back upstream as the next assistant turn's
`reasoning_content` when the request sends `preserve_thinking` (the only way DashScope takes
earlier thinking, docs/dashscope-protocol.md); otherwise it is dropped, as chat's
`reasoning_content` is. An item this secret did not seal, or one altered since, is dropped with
a note, never refused: a client cannot repair what the proxy issued. Other reasoning items
(the plain `content` or `summary` a client may echo) are not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.core.plan import Sealer


@dataclass(slots=True)
class ThinkingReader:
    sealer: Sealer | None  # None: no sealed item can be read
    preserve: bool  # the request sends `preserve_thinking`
    restored: int = 0
    unsent: int = 0  # readable thinking left out without preserve_thinking
    unreadable: int = 0  # sealed under another secret, or altered
    plain: int = 0  # items with no sealed thinking

    def read(self, item: dict[str, Any]) -> str | None:
        """The thinking to send upstream from one reasoning item, if any."""
        token = item.get("encrypted_content")
        if not isinstance(token, str) or not token:
            self.plain += 1
            return None
        thinking = None if self.sealer is None else self.sealer.open(token)
        if thinking is None:
            self.unreadable += 1
            return None
        if not self.preserve:
            self.unsent += 1
            return None
        self.restored += 1
        return thinking

    def notes(self) -> list[str]:
        notes = []
        if self.plain:
            notes.append(f"input: {self.plain} reasoning item(s) not sent")
        if self.unsent:
            notes.append(
                f"input: {self.unsent} sealed reasoning item(s) not sent (send "
                "preserve_thinking to give DashScope the thinking again)"
            )
        if self.unreadable:
            notes.append(
                f"input: {self.unreadable} reasoning item(s) dropped (encrypted_content not "
                "sealed by this proxy's key, or altered)"
            )
        return notes
