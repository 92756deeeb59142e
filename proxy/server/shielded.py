"""Cleanup that a client's disconnect must not cut short.

Starlette runs on anyio and cancels a request's scope when its client goes away; anyio then
cancels every await inside it, the cleanup's too. An anyio shield is the one tool that keeps a
release of the upstream connection (or the unwinding of a read) running to its end, so this is
the one place the shell uses anyio; everything else is plain asyncio.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def shielded(awaitable: Awaitable[T]) -> T:
    # Assigned, not returned inside: a cancel scope may swallow an exception, so mypy would
    # see a path without a return.
    with anyio.CancelScope(shield=True):
        result = await awaitable
    return result  # noqa: RET504
