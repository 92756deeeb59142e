"""Responses API golden streams and small shared helpers for the Responses tests.

The golden cases reuse the recorded native bodies in `tests/golden/NAME.sse` (the chat goldens'
inputs: one upstream, two client protocols) and pair each with the Responses events a client
must get, in `tests/golden/responses/NAME.expected.json`. The expected files were written by
`main()` once and then reviewed by hand against the rules in `tests/responses_contract.py`;
rerun it only to review the diff, never to make a failing golden test pass:

    PYTHONPATH=. python -m tests.responses_helpers
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.core.errors import ProxyError
from proxy.core.sse import SSEDecoder
from proxy.core.wire import Item
from proxy.responses.api import RESPONSES_API
from proxy.responses.stream import ResponseIdentity
from tests.golden_tools import error_summary, load_body

GOLDEN_DIR = Path(__file__).parent / "golden" / "responses"
RESPONSE_ID = "resp_test"
CREATED = 1700000000
ITEM_PREFIX = "test"
ECHO: dict[str, Any] = {"instructions": None, "metadata": {}, "tools": [], "store": False}


@dataclass(frozen=True, slots=True)
class Case:
    name: str  # also the recorded body's name in tests/golden/
    model: str
    what: str  # what the case shows, for the reader


CASES = (
    Case("seed_single_run", "qwen3-max-preview", "the vendor page's code-interpreter run"),
    Case("seed_two_runs", "qwen3-max-preview", "two runs, the second first seen with no code"),
    Case("code_growing", "qwen3-max-preview", "one run whose code grows over three snapshots"),
    Case("interleaved", "qwen3-max-preview", "answer text before the run, thinking after it"),
    Case("plain_text", "qwen-plus", "an answer without thinking"),
    Case("length", "qwen-plus", "cut by max tokens: response.incomplete"),
    Case("fn_incremental", "qwen-plus", "a function call, arguments in fragments"),
    Case("fn_cumulative", "qwen-plus", "a function call, arguments sent cumulatively"),
    Case("parallel_tools", "qwen-plus", "two function calls"),
    Case("search_info", "qwen-plus", "web-search sources: a web_search_call item"),
    Case("logprobs", "qwen-plus", "output_text logprobs"),
    Case("error_first", "qwen-plus", "an error frame first: no events, an HTTP error"),
    Case("error_midstream", "qwen-plus", "an error frame after text: response.failed"),
)
CASE_NAMES = tuple(case.name for case in CASES)


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def identity(model: str) -> ResponseIdentity:
    # Sources shown, as `include: ["web_search_call.action.sources"]` asks.
    return ResponseIdentity(RESPONSE_ID, CREATED, model, ITEM_PREFIX, dict(ECHO), True)


@dataclass(slots=True)
class Outcome:
    events: list[Item]
    error: ProxyError | None  # raised before any event: becomes an HTTP error


def translate(body: bytes, model: str, *, splits: Iterable[int] = ()) -> Outcome:
    """Feed `body` as the I/O shell does, cut at `splits`. An error after the first event
    travels in-band as `response.failed`, as the exchange sends it; one before is returned."""
    decoder = SSEDecoder()
    translation = RESPONSES_API.new_translation(identity(model))
    events: list[Item] = []
    cuts = sorted({cut for cut in splits if 0 < cut < len(body)})
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    try:
        for piece in pieces:
            events.extend(translation.feed(decoder.feed(piece)))
        events.extend(translation.feed(decoder.finish()))
        events.extend(translation.finish())
    except ProxyError as error:
        if not events:
            return Outcome([], error)
        events.extend(translation.failure(error))
    return Outcome(events, None)


def load_expected(name: str) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((GOLDEN_DIR / f"{name}.expected.json").read_text())
    return expected


def outcome(name: str, *, splits: Iterable[int] = ()) -> Outcome:
    return translate(load_body(name), case(name).model, splits=splits)


def main() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for golden in CASES:
        result = outcome(golden.name)
        expected = {
            "what": golden.what,
            "model": golden.model,
            "events": result.events,
            "error": error_summary(result.error),
        }
        text = json.dumps(expected, ensure_ascii=False, indent=1) + "\n"
        (GOLDEN_DIR / f"{golden.name}.expected.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
