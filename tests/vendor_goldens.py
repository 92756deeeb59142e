"""Golden native streams built from the samples DashScope publishes on its own pages.

The simulator encodes the project's reading of DashScope; these fixtures encode the vendor's.
Each case follows one sample printed on an Alibaba Cloud Model Studio page (English edition),
rewritten as a native SSE body in our own fixture format: the frames and pieces the page shows,
in its order, with its request id, model and token counts. What a page leaves out (the elided
middle of a long stream, a field its SDK's printout drops) is said in the case's `note`; nothing
is invented beyond that. The code-interpreter page's frames are already goldens of their own
(`seed_single_run`, `seed_two_runs` in tests/golden_tools.py).

The bodies live in `tests/golden/NAME.sse`; the chunks a chat client must get in
`tests/golden/NAME.expected.json`, the Responses events in
`tests/golden/responses/NAME.expected.json`. Expected files were written by `main()` once and
reviewed by hand against docs/architecture.md; rerun it only to review a diff, never to make a
failing golden test pass:

    PYTHONPATH=. python -m tests.vendor_goldens
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from tests import golden_tools, responses_helpers
from tests.golden_tools import GOLDEN_DIR, error_summary, load_body


@dataclass(frozen=True, slots=True)
class VendorCase:
    name: str
    model: str
    page: str  # the vendor page and the sample on it the body follows
    note: str  # where the body differs from the printed sample, and why
    build: Callable[[], bytes]


def _frame(n: int, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{payload}\n\n".encode()


def _result(
    message: dict[str, Any], finish: str, usage: dict[str, Any], request_id: str, **output: Any
) -> dict[str, Any]:
    choice = {"message": message, "finish_reason": finish}
    return {"output": {"choices": [choice], **output}, "usage": usage, "request_id": request_id}


# ---- Deep thinking: qwen-plus, text endpoint, DashScope curl sample ------------------------

_THINKING_ID = "25d58c29-c47b-9e8d-a0f1-d6c309ec58b1"
THINKING_REASONING = ("Hmm", ",", "the user", " asks", " '")
THINKING_ANSWER = ("help", ",", " feel free", " to", " let me know", "!")


def _thinking_usage(output_tokens: int) -> dict[str, Any]:
    return {"total_tokens": 11 + output_tokens, "input_tokens": 11, "output_tokens": output_tokens}


def _deep_thinking() -> bytes:
    frames = []
    for n, piece in enumerate(THINKING_REASONING, start=1):
        message = {"content": "", "reasoning_content": piece, "role": "assistant"}
        frames.append(_frame(n, _result(message, "null", _thinking_usage(n + 2), _THINKING_ID)))
    for n, piece in enumerate(THINKING_ANSWER, start=358):
        message = {"content": piece, "reasoning_content": "", "role": "assistant"}
        frames.append(_frame(n, _result(message, "null", _thinking_usage(n + 4), _THINKING_ID)))
    last = {"content": "", "reasoning_content": "", "role": "assistant"}
    frames.append(_frame(364, _result(last, "stop", _thinking_usage(367), _THINKING_ID)))
    return b"".join(frames)


# ---- Function calling: qwen-plus in thinking mode, Java SDK's printed packets --------------

_CALL_ID = "4edb81cd-4647-9d5d-88f9-a4f30bc6d8dd"
CALL_REASONING = (
    (6, "Okay, the user wants"),
    (12, "to tell me the weather in Hangzhou. I"),
    (16, "need to determine whether there are"),
    (22, "any relevant tools available. Looking at the provided"),
    (28, "tools, I see a get_current"),
    (34, "_weather function, with a location parameter."),
    (38, "So I should call"),
    (43, "this function, setting the parameter"),
    (48, "to Hangzhou. No other tools are needed, because"),
    (52, "the user only asked about"),
    (56, "weather. Next, I'll construct"),
    (60, "a tool_call, filling in the"),
    (64, "name and parameters. Make sure the parameters are"),
    (68, "a JSON object, with location as a"),
    (73, "string. After checking for errors, I'll return."),
)
CALL_ID = "call_ecc41296dccc47baa01567"
CALL_NAME = "get_current_weather"
CALL_PIECES = ('{"location": "Hangzhou', '"}')


def _call_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 238,
        "output_tokens": output_tokens,
        "total_tokens": 238 + output_tokens,
    }


def _call_piece(first: bool, arguments: str) -> dict[str, Any]:
    function = {"name": CALL_NAME, "arguments": arguments} if first else {"arguments": arguments}
    return {"index": 0, "id": CALL_ID if first else "", "type": "function", "function": function}


def _function_call() -> bytes:
    frames = []
    for n, (tokens, piece) in enumerate(CALL_REASONING, start=1):
        thought = {"role": "assistant", "content": "", "reasoning_content": piece}
        frames.append(_frame(n, _result(thought, "null", _call_usage(tokens), _CALL_ID)))
    ends = (("null", 78), ("tool_calls", 106))
    for k, (piece, (finish, tokens)) in enumerate(zip(CALL_PIECES, ends, strict=True)):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "",
            "reasoning_content": "",
            "tool_calls": [_call_piece(k == 0, piece)],
        }
        frames.append(
            _frame(len(frames) + 1, _result(message, finish, _call_usage(tokens), _CALL_ID))
        )
    return b"".join(frames)


# ---- Web search: qwen3-max, DashScope curl sample (non-streamed), as a stream --------------

_SEARCH_ID = "45c231d2-811e-4e04-a361-f2c1909f1dd9"
SEARCH_TITLES = (
    ("Alibaba (BABA) Stock Price_Quotes_Chart - East Money", "https://wap.eastmoney.com/quote/stock/106.BABA.html"),
    ("Alibaba (BABA)_US Stock Quotes_Today's Price and Chart - Sina Finance", "https://gu.sina.cn/quotes/us/BABA"),
    ("Alibaba-SW (9988.HK) Stock Price, News, Quote & History - Yahoo Finance", "https://hk.finance.yahoo.com/quote/9988.HK/"),
    ("Alibaba (BABA) Stock Latest Price, Real-time Chart, Analysis and Prediction", "https://cn.investing.com/equities/alibaba"),
    ("Alibaba (BABA) Stock Price_Quotes_Discussion - Xueqiu", "https://xueqiu.com/S/BABA"),
    ("Alibaba (BABA) Stock Price, Market Cap, Real-time Quotes, Chart, Financials - Moomoo", "https://www.moomoo.com/hans/stock/BABA-US"),
    ("SW(09988) Stock Price, Market Cap, Real-time Quotes, Chart, Financials - Alibaba - Moomoo", "https://www.moomoo.com/hans/stock/09988-HK"),
    ("Alibaba Group Holding Limited (BABA) Stock Price, News, Quote & History", "https://hk.finance.yahoo.com/quote/BABA/"),
    ("Alibaba - Tencent Securities", "https://gu.qq.com/usBABA.N"),
)  # fmt: skip
SEARCH_RESULTS = tuple(
    {"index": n, "title": title, "url": url} for n, (title, url) in enumerate(SEARCH_TITLES, 1)
)
SEARCH_ANSWER = (
    "According to the latest market data, Alibaba's stock price varies because it is listed on "
    "both the US and Hong Kong stock exchanges:\n\n"
    "*   **US Stock (BABA)**: The latest stock price is approximately **160.40 USD**.\n"
    "    *   Today's opening price: 160.98 USD\n"
    "    *   Today's trading range: 156.20 - 161.19 USD\n\n"
    "*   **Hong Kong Stock (09988.HK)**: The latest stock price is approximately **158.10 HKD**.\n"
    "    *   Today's opening price: 156.50 HKD\n"
    "    *   Today's trading range: 156.30 - 158.40 HKD\n\n"
    "Please note that stock prices fluctuate with market trading in real time. "
    "The information above is for reference only."
)
SEARCH_OUTPUT_TOKENS = 203


def _search_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 2004,
        "output_tokens": output_tokens,
        "plugins": {"search": {"count": 1, "strategy": "agent"}},
        "prompt_tokens_details": {"cached_tokens": 0},
        "total_tokens": 2004 + output_tokens,
    }


def _web_search() -> bytes:
    pieces = SEARCH_ANSWER.splitlines(keepends=True)
    # The page gives the answer's total only: it is spread over the pieces by length.
    ends = [
        round(SEARCH_OUTPUT_TOKENS * n / len(SEARCH_ANSWER)) for n in accumulate(map(len, pieces))
    ]
    sources = {"search_results": list(SEARCH_RESULTS)}
    empty: dict[str, list[Any]] = {"search_results": [], "extra_tool_info": []}
    message = {"content": "", "role": "assistant"}
    frames = [_frame(1, _result(message, "null", {}, _SEARCH_ID, search_info=sources))]
    for n, (piece, tokens) in enumerate(zip(pieces, ends, strict=True), start=2):
        data = _result(
            {"content": piece, "role": "assistant"},
            "null",
            _search_usage(tokens),
            _SEARCH_ID,
            search_info=empty,
        )
        frames.append(_frame(n, data))
    last = _result(
        message, "stop", _search_usage(SEARCH_OUTPUT_TOKENS), _SEARCH_ID, search_info=empty
    )
    frames.append(_frame(len(frames) + 1, last))
    return b"".join(frames)


# ---- Visual reasoning: qvq-max, multimodal endpoint, DashScope curl sample -----------------

_VISUAL_ID = "f361ae45-fbef-9387-9f35-1269780e0864"
VISUAL_REASONING = ("Okay", ",", " I am now")
VISUAL_ANSWER = ("square", "centimeters")


def _visual_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "total_tokens": 544 + output_tokens,
        "input_tokens_details": {"image_tokens": 520, "text_tokens": 24},
        "output_tokens": output_tokens,
        "input_tokens": 544,
        "output_tokens_details": {"text_tokens": output_tokens},
        "image_tokens": 520,
    }


def _visual_reasoning() -> bytes:
    frames = []
    for n, piece in enumerate(VISUAL_REASONING, start=1):
        message: dict[str, Any] = {"content": [], "reasoning_content": piece, "role": "assistant"}
        frames.append(_frame(n, _result(message, "null", _visual_usage(n + 2), _VISUAL_ID)))
    for n, piece in enumerate(VISUAL_ANSWER, start=566):
        message = {"content": [{"text": piece}], "role": "assistant"}
        frames.append(_frame(n, _result(message, "null", _visual_usage(n + 22), _VISUAL_ID)))
    last = {"content": [], "role": "assistant"}
    frames.append(_frame(568, _result(last, "stop", _visual_usage(590), _VISUAL_ID)))
    return b"".join(frames)


CASES = (
    VendorCase(
        "vendor_deep_thinking",
        "qwen-plus",
        "Deep thinking (English edition, early 2026): the DashScope curl sample's response, "
        "frames 1-5 and 358-364",
        "the frames the page elides (6-357) are absent, as in seed_single_run",
        _deep_thinking,
    ),
    VendorCase(
        "vendor_function_call",
        "qwen-plus",
        "Function calling (English edition, early 2026), 'Tool calling for deep thinking "
        "models': the Java SDK's returned result, all 17 packets",
        "written as native frames; the Java SDK's printout drops each call's `index` (0 here) "
        "and garbles the first argument fragment, which is given as the piece the last "
        'fragment `"}` completes',
        _function_call,
    ),
    VendorCase(
        "vendor_web_search",
        "qwen3-max",
        "Web search (English edition, early 2026): the DashScope curl sample's response "
        "(search strategy agent, enable_source)",
        "the page prints the answer unstreamed; here it streams one line a frame, the sources "
        "on the first frame with `usage: {}` and empty lists after, as recorded streams do; "
        "output tokens are spread over the lines by length, the total is the page's",
        _web_search,
    ),
    VendorCase(
        "vendor_visual_reasoning",
        "qvq-max",
        "Visual reasoning (English edition, early 2026): the DashScope curl sample's response "
        "on the multimodal endpoint, frames 1-3 and 566-568",
        "the page splices two runs (two request ids); one id is kept. Frames 4-565 are absent",
        _visual_reasoning,
    ),
)
CASE_NAMES = tuple(case.name for case in CASES)


def case(name: str) -> VendorCase:
    return next(c for c in CASES if c.name == name)


def chat_outcome(name: str, *, include_usage: bool = True) -> golden_tools.Outcome:
    return golden_tools.translate(load_body(name), case(name).model, include_usage=include_usage)


def responses_outcome(name: str) -> responses_helpers.Outcome:
    return responses_helpers.translate(load_body(name), case(name).model)


def _write(path_name: str, content: dict[str, Any], *, responses: bool = False) -> None:
    directory = responses_helpers.GOLDEN_DIR if responses else GOLDEN_DIR
    text = json.dumps(content, ensure_ascii=False, indent=1) + "\n"
    (directory / f"{path_name}.expected.json").write_text(text, encoding="utf-8")


def main(argv: list[str]) -> None:
    for golden in CASES:
        (GOLDEN_DIR / f"{golden.name}.sse").write_bytes(golden.build())
        chat = chat_outcome(golden.name)
        source = f"{golden.page}; {golden.note}"
        _write(
            golden.name,
            {
                "source": source,
                "model": golden.model,
                "chunks": chat.chunks,
                "error": error_summary(chat.error),
            },
        )
        events = responses_outcome(golden.name)
        _write(
            golden.name,
            {
                "what": source,
                "model": golden.model,
                "events": events.events,
                "error": error_summary(events.error),
            },
            responses=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
