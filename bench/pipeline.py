"""`python -m bench.pipeline`: the CPU a frame costs on its way through the proxy's pure code,
without sockets or the event loop: the HTTP/1.1 chunked body parsed, the SSE decoded, the
frames translated and the chunks encoded, as the proxy does for each network read.

It is the per-frame part of the throughput scenario (where reads carry hundreds of frames and
the rest of the proxy is a small share), for quick A/B runs of a change to that code. Prints
microseconds per frame, best of `--repeat` runs, for each API.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial

from bench.content import Shape, native_frames
from proxy.core.http1 import ResponseParser
from proxy.core.plan import TranslationOptions
from proxy.core.sse import SSEDecoder
from proxy.traffic.apis import CHAT, RESPONSES, Api

_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_REQUEST = {
    "model": "qwen3-max-preview",
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [{"role": "user", "content": "Sum the squares below 2000."}],
    "input": "Sum the squares below 2000.",
}


def response_bytes(frames: int, frame_bytes: int) -> bytes:
    body = b"".join(
        b"%x\r\n%b\r\n" % (len(frame), frame) for frame in native_frames(Shape(frames, frame_bytes))
    )
    return _HEAD + body + b"0\r\n\r\n"


def run_once(api: Api, raw: bytes, read_size: int) -> tuple[int, int]:
    """(frames, bytes written) for one pass of `raw` through the pipeline."""
    plan = api.translate(dict(_REQUEST), TranslationOptions())
    translation = api.translation("0" * 32, plan, 1_700_000_000, keep_text=False)
    parser, decoder, encode = ResponseParser(), SSEDecoder(), api.encode
    frames = written = 0
    for start in range(0, len(raw), read_size):
        body = parser.feed(raw[start : start + read_size])
        if not body:
            continue
        events = decoder.feed(body)
        frames += len(events)
        written += len(b"".join([encode(item) for item in translation.feed(events)]))
    written += len(b"".join([encode(item) for item in translation.finish()]))
    return frames, written


def best(fn: Callable[[], tuple[int, int]], repeat: int) -> tuple[float, int]:
    times, frames = [], 0
    for _ in range(repeat):
        start = time.process_time()
        frames, _ = fn()
        times.append(time.process_time() - start)
    return min(times), frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--frames", type=int, default=2000, help="native frames per stream")
    parser.add_argument("--frame-bytes", type=int, default=16, help="text per frame")
    parser.add_argument("--read", type=int, default=65536, help="bytes per network read")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    raw = response_bytes(args.frames, args.frame_bytes)
    for api in (CHAT, RESPONSES):
        seconds, frames = best(partial(run_once, api, raw, args.read), args.repeat)
        sys.stdout.write(f"{api.name:18} {seconds / frames * 1e6:6.2f} us per frame\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
