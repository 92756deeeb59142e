"""Golden streams: the recorded upstream bodies in `tests/golden/` and how to translate them.

Each case is a native SSE body (`NAME.sse`) and the chunks a client must get for it
(`NAME.expected.json`). Bodies come from recorded frames where they exist (the vendor's
"Code interpreter" page, and the recorded frames quoted in docs/dashscope-protocol.md) and from
the simulator for shapes nobody recorded. Expected files were written by `main()` once and then
reviewed by hand against the rules in docs/architecture.md; rerun it only to review the diff,
never to make a failing golden test pass:

    PYTHONPATH=. python -m tests.golden_tools [--bodies] [--seed-page PAGE.txt]

The bodies are the data: they live in `tests/golden/` and are never rebuilt unless asked.
`seed_single_run.sse` holds the frames printed on the vendor's "Code interpreter" page (the
Indonesian edition of November 2025, saved as text); rebuilding that one body needs the page,
given with `--seed-page`. Without it, `--bodies` keeps the stored body.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.stream import ChunkIdentity
from proxy.core.errors import ProxyError
from proxy.core.sse import SSEDecoder
from proxy.core.wire import Item
from proxy.simulator import build_scenario, render_frame

GOLDEN_DIR = Path(__file__).parent / "golden"
SEED_CASE = "seed_single_run"

CHUNK_ID = "chatcmpl-test"
CREATED = 1700000000
CALL_ID_PREFIX = "call_ci_test_"


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    model: str
    source: str  # where the upstream body comes from, for the reader


CASES = (
    Case(
        "seed_single_run",
        "qwen3-max-preview",
        "vendor's Code interpreter page, frames 1-2, 21-24, 43-44, 53-54",
    ),
    Case(
        "seed_two_runs",
        "qwen3-max-preview",
        "vendor's Code interpreter page, its two-run tool_info snapshots",
    ),
    Case("code_growing", "qwen3-max-preview", "simulator: code_growing"),
    Case("interleaved", "qwen3-max-preview", "simulator: interleaved"),
    Case("plain_text", "qwen-plus", "simulator: plain_text, thinking off"),
    Case("length", "qwen-plus", "simulator: length, thinking on"),
    Case(
        "error_first",
        "qwen-plus",
        "docs/dashscope-protocol.md, Errors: a recorded error frame on an HTTP 200 (verbatim)",
    ),
    Case("error_midstream", "qwen-plus", "simulator: error_event_midstream"),
    Case(
        "parallel_tools",
        "qwen-plus",
        "docs/dashscope-protocol.md, Function calls: recorded parallel calls (message parts)",
    ),
)
CASE_NAMES = tuple(case.name for case in CASES)


def identity(model: str) -> ChunkIdentity:
    return ChunkIdentity(CHUNK_ID, CREATED, model, CALL_ID_PREFIX)


@dataclass(slots=True)
class Outcome:
    chunks: list[Item]
    error: ProxyError | None


def translate(
    body: bytes, model: str, *, include_usage: bool = True, splits: Iterable[int] = ()
) -> Outcome:
    """Feed `body` as the I/O shell would, cut at `splits`; collect chunks and the error."""
    decoder = SSEDecoder()
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity(model), include_usage=include_usage)
    )
    chunks: list[Item] = []
    cuts = sorted({cut for cut in splits if 0 < cut < len(body)})
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    try:
        for piece in pieces:
            chunks.extend(translation.feed(decoder.feed(piece)))
        chunks.extend(translation.feed(decoder.finish()))
        chunks.extend(translation.finish())
    except ProxyError as error:
        return Outcome(chunks, error)
    return Outcome(chunks, None)


def error_summary(error: ProxyError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "class": type(error).__name__,
        "status": error.status,
        "code": error.code,
        "message": error.message,
    }


def load_body(name: str) -> bytes:
    return (GOLDEN_DIR / f"{name}.sse").read_bytes()


def load_expected(name: str) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((GOLDEN_DIR / f"{name}.expected.json").read_text())
    return expected


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


# ---- building the upstream bodies -----------------------------------------------------------


def _frame(n: int, data: dict[str, Any], *, event: str = "result", status: int = 200) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id:{n}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{payload}\n\n".encode()


def _seed_single_run(page: Path) -> bytes:
    """The frames the page prints verbatim, in order; the elided ones are simply absent."""
    lines = page.read_text(encoding="utf-8").splitlines()
    start = lines.index("id:1")
    end = lines.index("Kompatibel dengan OpenAI", start)
    kept = [
        line for line in lines[start:end] if line.split(":", 1)[0] in ("id", "event", "", "data")
    ]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    return (body.strip("\n") + "\n\n").encode()


def _usage(inp: int, out: int, reasoning: int, runs: int | None) -> dict[str, Any]:
    usage: dict[str, Any] = {"total_tokens": inp + out, "output_tokens": out, "input_tokens": inp}
    usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
    if runs is not None:
        usage["plugins"] = {"code_interpreter": {"count": runs}}
    return usage


def _seed_two_runs() -> bytes:
    """The page prints only the SDK's view of this run: its three tool_info snapshots (verbatim
    here, including the second entry's empty code) and the texts. Frames are built around them."""
    first = "1169008215014432917465348578887506800769541157267"
    run1 = {"code_interpreter": {"code": "123**23"}, "type": "code_interpreter"}
    empty = {"code_interpreter": {"code": ""}, "type": "code_interpreter"}
    run2 = {"code_interpreter": {"code": f"{first} / 5"}, "type": "code_interpreter"}
    steps: list[tuple[str, str, list[Item] | None, dict[str, Any], str]] = [
        ("The user wants two runs.", "", None, _usage(301, 7, 5, None), "null"),
        (" First 123**23.", "", None, _usage(301, 12, 9, None), "null"),
        ("", "", None, _usage(301, 20, 9, None), "null"),
        ("", "", [run1], _usage(301, 20, 9, 1), "null"),
        (f"The first calculation gave {first}.", "", [run1], _usage(804, 40, 29, 1), "null"),
        (" Now divide it by 5.", "", [run1], _usage(804, 46, 35, 1), "null"),
        ("", "", [run1, empty], _usage(804, 55, 35, 1), "null"),
        ("", "", [run1, run2], _usage(804, 81, 35, 2), "null"),
        ("Both runs are done.", "", [run1, run2], _usage(1389, 86, 40, 2), "null"),
        ("", f"First run: {first}\n\n", [run1, run2], _usage(1389, 104, 40, 2), "null"),
        ("", "Second run: 2.338016430028866e+47", [run1, run2], _usage(1389, 118, 40, 2), "null"),
        ("", "", [run1, run2], _usage(1389, 118, 40, 2), "stop"),
    ]
    frames = []
    for n, (reasoning, content, tool_info, usage, finish) in enumerate(steps, 1):
        message = {"content": content, "reasoning_content": reasoning, "role": "assistant"}
        output: dict[str, Any] = {"choices": [{"message": message, "finish_reason": finish}]}
        if tool_info is not None:
            output["tool_info"] = tool_info
        request_id = "3b7e2f90-5c1d-4a8e-9f62-d04c8b1a7e35"
        frames.append(_frame(n, {"output": output, "usage": usage, "request_id": request_id}))
    return b"".join(frames)


def _error_first() -> bytes:
    return (
        b"id:1\nevent:error\n:HTTP_STATUS/400\n"
        b'data:{"code":"InvalidParameter","message":"Role must be user or assistant and Content '
        b'length must be greater than 0","request_id":"7671ecd8-93cc-9ee9-bc89-739f0fd8b809"}\n\n'
    )


def _parallel_tools() -> bytes:
    messages = [
        '{"content":"","tool_calls":[{"index":0,"id":"call_29a870e7106f45deb8add3","type":'
        '"function","function":{"name":"get_current_weather","arguments":"{\\"location\\": \\""}}]'
        ',"role":"assistant"}',
        '{"content":"","tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":'
        '"浙江省杭州市\\"}"}}],"role":"assistant"}',
        '{"content":"","tool_calls":[{"index":1,"id":"call_026e44bb31a74266949a20","type":'
        '"function","function":{"name":"get_current_weather","arguments":"{\\"location\\":"}}],'
        '"role":"assistant"}',
        '{"content":"","tool_calls":[{"index":1,"id":"","type":"function","function":{"arguments":'
        '" \\"上海市\\"}"}}],"role":"assistant"}',
    ]
    finishes = ["null", "null", "null", "tool_calls"]
    frames = []
    for n, (message, finish) in enumerate(zip(messages, finishes, strict=True), 1):
        usage = f'{{"total_tokens":{260 + 6 * n},"output_tokens":{6 * n},"input_tokens":260}}'
        data = (
            f'{{"output":{{"choices":[{{"message":{message},"finish_reason":"{finish}",'
            f'"index":0}}]}},"usage":{usage},"request_id":"b1a0c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"}}'
        )
        frames.append(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode())
    return b"".join(frames)


def _simulated(scenario: str, *, thinking: bool) -> bytes:
    parameters = {"incremental_output": True, "enable_thinking": thinking}
    frames = build_scenario(scenario, {"parameters": parameters}).frames
    return b"".join(render_frame(n, frame) for n, frame in enumerate(frames, 1))


def build_body(name: str, seed_page: Path | None = None) -> bytes:
    """The upstream body of case `name`, from its source; `seed_page` only for the seed case."""
    if name == SEED_CASE:
        if seed_page is None:
            raise ValueError(f"{SEED_CASE} is built from the vendor's page: give its path")
        return _seed_single_run(seed_page)
    builders: dict[str, Callable[[], bytes]] = {
        "seed_two_runs": _seed_two_runs,
        "error_first": _error_first,
        "parallel_tools": _parallel_tools,
        "code_growing": lambda: _simulated("code_growing", thinking=True),
        "interleaved": lambda: _simulated("interleaved", thinking=True),
        "plain_text": lambda: _simulated("plain_text", thinking=False),
        "length": lambda: _simulated("length", thinking=True),
        "error_midstream": lambda: _simulated("error_event_midstream", thinking=False),
    }
    return builders[name]()


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.golden_tools",
        description="Write the golden expected files (and missing bodies) in tests/golden/.",
    )
    parser.add_argument(
        "--bodies", action="store_true", help="rebuild the upstream bodies from their sources too"
    )
    parser.add_argument(
        "--seed-page",
        type=Path,
        metavar="PAGE.txt",
        help=f"the vendor's Code interpreter page as text, to rebuild {SEED_CASE}.sse",
    )
    args = parser.parse_args(argv)
    if args.seed_page is not None and not args.seed_page.is_file():
        parser.error(f"--seed-page: no such file: {args.seed_page}")
    seed_body = GOLDEN_DIR / f"{SEED_CASE}.sse"
    if args.seed_page is None and not seed_body.exists():
        parser.error(f"{seed_body} is missing: give the vendor's page with --seed-page")
    return args


def _write_body(golden: Case, args: argparse.Namespace) -> None:
    path = GOLDEN_DIR / f"{golden.name}.sse"
    if path.exists() and not args.bodies:
        return
    if golden.name == SEED_CASE and args.seed_page is None:
        print(f"kept {path.name}: rebuilding it needs --seed-page", file=sys.stderr)
        return
    path.write_bytes(build_body(golden.name, args.seed_page))


def main(argv: list[str]) -> None:
    args = _arguments(argv)
    GOLDEN_DIR.mkdir(exist_ok=True)
    for golden in CASES:
        _write_body(golden, args)
        outcome = translate(load_body(golden.name), golden.model)
        expected = {
            "source": golden.source,
            "model": golden.model,
            "chunks": outcome.chunks,
            "error": error_summary(outcome.error),
        }
        text = json.dumps(expected, ensure_ascii=False, indent=1) + "\n"
        (GOLDEN_DIR / f"{golden.name}.expected.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
