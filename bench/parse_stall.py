"""`python -m bench.parse_stall`: how long one large request body stalls the event loop, parsed
and translated on the loop or, as the proxy does from `OFF_LOOP_BYTES` on, on a worker thread.

A ticker task asks to wake every millisecond while the body is handled; its longest lateness is
the stall every other request on the loop sees. orjson holds the GIL for the whole parse, so a
thread cannot shorten the parse's own stall; the translation is Python code the loop
interleaves with (the interpreter switches threads every 5 ms).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import orjson

from proxy.config import Settings
from proxy.core.plan import TranslationOptions
from proxy.server.exchange import OFF_LOOP_BYTES
from proxy.traffic.apis import CHAT

ROUNDS = 5


def body(messages: int, size: int) -> bytes:
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "x" * size + str(i)}
        for i in range(messages)
    ]
    return orjson.dumps({"model": "qwen-plus", "messages": turns})


def handle(raw: bytes, options: TranslationOptions) -> Any:
    return CHAT.translate(orjson.loads(raw), options)


async def worst_stall(raw: bytes, options: TranslationOptions, *, off_loop: bool) -> float:
    lateness: list[float] = []

    async def tick() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append(time.perf_counter() - start - 0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    lateness.clear()
    for _ in range(ROUNDS):
        if off_loop:
            await asyncio.to_thread(handle, raw, options)
        else:
            handle(raw, options)
        await asyncio.sleep(0.005)
    ticker.cancel()
    return max(lateness) * 1000


def main() -> None:
    settings = Settings()
    options = TranslationOptions(
        code_format=settings.code_interpreter.format, models=settings.model_table
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f}; off-loop from {OFF_LOOP_BYTES} bytes")
    for messages, size in ((9800, 1000), (10, 1_000_000)):
        raw = body(messages, size)
        start = time.perf_counter()
        parsed = orjson.loads(raw)
        parsed_at = time.perf_counter()
        CHAT.translate(parsed, options)
        done = time.perf_counter()
        inline = asyncio.run(worst_stall(raw, options, off_loop=False))
        threaded = asyncio.run(worst_stall(raw, options, off_loop=True))
        print(
            f"{len(raw) / 1e6:.1f} MB in {messages} messages: "
            f"parse {1000 * (parsed_at - start):.1f} ms, "
            f"translate {1000 * (done - parsed_at):.1f} ms; "
            f"worst loop stall on the loop {inline:.1f} ms, off the loop {threaded:.1f} ms"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
