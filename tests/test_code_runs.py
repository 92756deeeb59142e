"""How a code-interpreter run is shown, per `code_format` (docs/architecture.md, "Representations
are selectable"), through the whole translation: native SSE bytes -> the chat translation -> chunks
-> fold."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.code_runs import FORMATS, VENDOR_KEY, CodeFormat
from proxy.chat.stream import ChatChunkEncoder, ChunkIdentity
from proxy.core.events import CodeDelta, CodeDone, Event, Finish, FunctionCallDelta
from proxy.core.sse import SSEDecoder
from proxy.core.wire import Item
from tests.contract import check_chunks
from tests.golden_tools import load_body

IDENTITY = ChunkIdentity("chatcmpl-test", 1700000000, "qwen3-max-preview", "call_ci_test_")
FIRST = "1169008215014432917465348578887506800769541157267"
RUN_1, RUN_2 = "123**23", f"{FIRST} / 5"


def fence(code: str) -> str:
    return f"\n\n```python\n{code}\n```\n\n"


def translate(body: bytes, fmt: CodeFormat) -> list[Item]:
    decoder = SSEDecoder()
    translation = CHAT_COMPLETIONS.new_translation(
        replace(IDENTITY, include_usage=True, code_format=fmt)
    )
    chunks = translation.feed(decoder.feed(body) + decoder.finish())
    return chunks + translation.finish()


def message(chunks: list[Item]) -> dict[str, Any]:
    return dict(check_chunks(chunks, include_usage=True)["choices"][0]["message"])


def deltas(chunks: list[Item]) -> list[Item]:
    return [entry["delta"] for chunk in chunks for entry in chunk["choices"]]


def tool_calls(chunks: list[Item]) -> list[Item]:
    return [call for delta in deltas(chunks) for call in delta.get("tool_calls", ())]


def vendor(chunks: list[Item]) -> list[Item]:
    return [run for delta in deltas(chunks) for run in delta.get(VENDOR_KEY, ())]


def code_args(msg: dict[str, Any]) -> list[Any]:
    return [json.loads(c["function"]["arguments"]) for c in msg.get("tool_calls") or ()]


def run(code: str) -> dict[str, Any]:
    return {"code_interpreter": {"code": code}, "type": "code_interpreter"}


def native(*steps: dict[str, Any]) -> bytes:
    """Frames from steps: `r` reasoning, `c` content, `runs` tool_info codes, `calls`
    function-call deltas, `finish`; usage counts the runs seen so far."""
    out = []
    for n, step in enumerate(steps, 1):
        message = {"content": step.get("c", ""), "reasoning_content": step.get("r", "")}
        if "calls" in step:
            message["tool_calls"] = step["calls"]
        output: dict[str, Any] = {
            "choices": [{"message": {**message, "role": "assistant"}, "finish_reason": "null"}]
        }
        output["choices"][0]["finish_reason"] = step.get("finish", "null")
        usage: dict[str, Any] = {"input_tokens": 10, "output_tokens": n, "total_tokens": 10 + n}
        if "runs" in step:
            output["tool_info"] = [run(code) for code in step["runs"]]
            usage["plugins"] = {"code_interpreter": {"count": len(step["runs"])}}
        data = json.dumps({"output": output, "usage": usage, "request_id": "r-1"})
        out.append(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode())
    return b"".join(out)


def native_text(name: str, key: str) -> str:
    """All `key` text of a golden body, as the upstream sent it."""
    lines = load_body(name).decode().split("\n")
    frames = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    return "".join(f["output"]["choices"][0]["message"][key] for f in frames)


SINGLE = load_body("seed_single_run")
TWO = load_body("seed_two_runs")
FN_CALL = {
    "index": 0,
    "id": "call_fn_1",
    "type": "function",
    "function": {"name": "lookup", "arguments": "{}"},
}
# A model call, then a server run, then the answer.
MIXED = native(
    {"calls": [FN_CALL]},
    {"runs": ["x = 1"]},
    {"r": "ran", "runs": ["x = 1"]},
    {"c": "ok", "finish": "stop", "runs": ["x = 1"]},
)


# ---- tool_calls (default) ---------------------------------------------------------------------


def test_tool_calls_single_run() -> None:
    msg = message(translate(SINGLE, "tool_calls"))
    assert code_args(msg) == [{"code": "123**21"}]
    [call] = msg["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == (
        "call_ci_test_0",
        "function",
        "code_interpreter",
    )


def test_tool_calls_two_runs_in_order() -> None:
    chunks = translate(TWO, "tool_calls")
    assert code_args(message(chunks)) == [{"code": RUN_1}, {"code": RUN_2}]
    assert [c["index"] for c in tool_calls(chunks) if "id" in c] == [0, 1]


def test_tool_calls_share_one_index_sequence_with_function_calls() -> None:
    chunks = translate(MIXED, "tool_calls")
    msg = message(chunks)
    assert [c["id"] for c in msg["tool_calls"]] == ["call_fn_1", "call_ci_test_0"]
    assert code_args(msg) == [{}, {"code": "x = 1"}]
    assert [c["index"] for c in tool_calls(chunks) if "id" in c] == [0, 1]


# ---- reasoning --------------------------------------------------------------------------------


def test_reasoning_single_run_sits_between_the_reasoning_before_and_after() -> None:
    chunks = translate(SINGLE, "reasoning")
    assert not tool_calls(chunks)
    assert not vendor(chunks)
    msg = message(chunks)
    assert "tool_calls" not in msg
    assert msg["reasoning_content"] == (
        "The user is asking" + fence("123**21") + "The user a clear format."
    )
    assert msg["content"] == "123 to the power of 23"


def test_reasoning_two_runs() -> None:
    msg = message(translate(TWO, "reasoning"))
    assert msg["reasoning_content"] == (
        "The user wants two runs. First 123**23."
        + fence(RUN_1)
        + f"The first calculation gave {FIRST}. Now divide it by 5."
        + fence(RUN_2)
        + "Both runs are done."
    )
    assert msg["content"] == native_text("seed_two_runs", "content")
    assert "tool_calls" not in msg


def test_reasoning_keeps_real_function_calls_at_index_zero() -> None:
    chunks = translate(MIXED, "reasoning")
    msg = message(chunks)
    assert [c["id"] for c in msg["tool_calls"]] == ["call_fn_1"]
    assert msg["reasoning_content"] == fence("x = 1") + "ran"


# ---- content ----------------------------------------------------------------------------------


def test_content_single_run_is_a_fenced_block_in_content() -> None:
    chunks = translate(SINGLE, "content")
    assert not tool_calls(chunks)
    msg = message(chunks)
    assert msg["content"] == fence("123**21") + "123 to the power of 23"
    assert msg["reasoning_content"] == native_text("seed_single_run", "reasoning_content")


def test_content_two_runs() -> None:
    msg = message(translate(TWO, "content"))
    assert msg["content"] == fence(RUN_1) + fence(RUN_2) + native_text("seed_two_runs", "content")
    assert msg["reasoning_content"] == native_text("seed_two_runs", "reasoning_content")


# ---- vendor -----------------------------------------------------------------------------------


def test_vendor_single_run() -> None:
    chunks = translate(SINGLE, "vendor")
    assert not tool_calls(chunks)
    assert vendor(chunks) == [{"index": 0, "id": "call_ci_test_0", "code": "123**21"}]
    # Only the vendor key: no text carries the code either.
    assert [d for d in deltas(chunks) if VENDOR_KEY in d] == [{VENDOR_KEY: vendor(chunks)}]
    msg = message(chunks)
    assert msg[VENDOR_KEY] == [{"id": "call_ci_test_0", "code": "123**21"}]
    assert msg["reasoning_content"] == native_text("seed_single_run", "reasoning_content")
    assert msg["content"] == native_text("seed_single_run", "content")
    assert "tool_calls" not in msg


def test_vendor_two_runs() -> None:
    chunks = translate(TWO, "vendor")
    assert [(r["index"], r.get("id")) for r in vendor(chunks)] == [
        (0, "call_ci_test_0"),
        (1, "call_ci_test_1"),
    ]
    assert message(chunks)[VENDOR_KEY] == [
        {"id": "call_ci_test_0", "code": RUN_1},
        {"id": "call_ci_test_1", "code": RUN_2},
    ]


def per_run(entries: list[Item]) -> dict[int, list[Item]]:
    runs: dict[int, list[Item]] = {}
    for entry in entries:
        runs.setdefault(entry["index"], []).append(entry)
    return runs


def test_vendor_growing_code_concatenates_to_the_final_code_with_the_id_once() -> None:
    final = "import math\nprint(math.pi)"
    body = native(
        {"runs": ["import math"]},
        {"runs": ["import math\nprint("]},
        {"runs": [final]},
        {"r": "done", "runs": [final]},
        {"c": "3.14", "finish": "stop", "runs": [final]},
    )
    chunks = translate(body, "vendor")
    [entries] = per_run(vendor(chunks)).values()
    assert entries[0]["id"] == "call_ci_test_0"
    assert all(set(entry) == {"index", "code"} for entry in entries[1:])
    assert "".join(entry["code"] for entry in entries) == final
    assert message(chunks)[VENDOR_KEY] == [{"id": "call_ci_test_0", "code": final}]


def test_vendor_indexes_do_not_take_tool_call_places() -> None:
    chunks = translate(MIXED, "vendor")
    assert [c["index"] for c in tool_calls(chunks)] == [0]
    assert vendor(chunks) == [{"index": 0, "id": "call_ci_test_0", "code": "x = 1"}]


def encode(fmt: CodeFormat, *events: Event) -> list[Item]:
    encoder = ChatChunkEncoder(replace(IDENTITY, include_usage=False, code_format=fmt))
    return [chunk for event in events for chunk in encoder.feed(event)] + encoder.finish()


def test_vendor_indexes_count_per_choice() -> None:
    chunks = encode(
        "vendor",
        CodeDelta(0, 0, "a"),
        FunctionCallDelta(0, 0, "call_fn", "f", "{}"),
        CodeDelta(1, 0, "c"),
        CodeDelta(0, 1, "b"),
        CodeDone(0, 0, "a"),
        CodeDone(0, 1, "b"),
        CodeDone(1, 0, "c"),
        Finish(0, "stop"),
        Finish(1, "stop"),
    )
    folded = check_chunks(chunks)
    opened: dict[int, list[tuple[int, str]]] = {0: [], 1: []}
    for chunk in chunks:
        for entry in chunk["choices"]:
            for run in entry["delta"].get(VENDOR_KEY, ()):
                if "id" in run:
                    opened[entry["index"]].append((run["index"], run["id"]))
    # Choice 0 numbers its runs 0, 1 (its function call takes no place); choice 1 starts at 0.
    assert opened == {0: [(0, "call_ci_test_0"), (1, "call_ci_test_1")], 1: [(0, "call_ci_test_0")]}
    assert folded["choices"][0]["message"][VENDOR_KEY] == [
        {"id": "call_ci_test_0", "code": "a"},
        {"id": "call_ci_test_1", "code": "b"},
    ]
    assert folded["choices"][1]["message"][VENDOR_KEY] == [{"id": "call_ci_test_0", "code": "c"}]
    assert [c["id"] for c in folded["choices"][0]["message"]["tool_calls"]] == ["call_fn"]
    assert [c["index"] for c in tool_calls(chunks)] == [0]


# ---- off --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "runs"), [("seed_single_run", 1), ("seed_two_runs", 2)])
def test_off_leaves_no_trace_but_counts_the_runs(name: str, runs: int) -> None:
    chunks = translate(load_body(name), "off")
    assert message(chunks) == {
        "role": "assistant",
        "content": native_text(name, "content"),
        "reasoning_content": native_text(name, "reasoning_content"),
    }
    assert "123**21" not in json.dumps(chunks)
    assert f"{FIRST} / 5" not in json.dumps(chunks)
    assert chunks[-1]["usage"]["x_tools"] == {"code_interpreter": {"count": runs}}


# ---- every format: rewrites, late and empty runs, the contract --------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("body", [SINGLE, TWO, MIXED], ids=["single", "two", "mixed"])
def test_every_format_obeys_the_stream_rules(fmt: CodeFormat, body: bytes) -> None:
    chunks = translate(body, fmt)
    folded = check_chunks(chunks, include_usage=True)
    assert folded["choices"][0]["finish_reason"] == "stop"
    assert "x_tools" in chunks[-1]["usage"]


REWRITE = native(
    {"r": "a"},
    {"runs": ["print(1)"]},
    {"runs": ["print(2)"]},  # not an extension of what was shown: a rewrite
    {"r": "b", "runs": ["print(2)"]},
    {"c": "c", "finish": "stop", "runs": ["print(2)"]},
)


def shown_code(fmt: CodeFormat, chunks: list[Item]) -> str:
    """The final code as a client of `fmt` ends up with it."""
    msg = message(chunks)
    if fmt == "tool_calls":
        [args] = code_args(msg)
        return str(args["code"])
    if fmt == "vendor":
        [entry] = msg[VENDOR_KEY]
        return str(entry["code"])
    text = msg["reasoning_content" if fmt == "reasoning" else "content"]
    return str(text).rsplit("```python\n", 1)[1].split("\n```", 1)[0]


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "off"])
def test_rewritten_snapshot_shows_the_final_code(fmt: CodeFormat) -> None:
    chunks = translate(REWRITE, fmt)
    assert shown_code(fmt, chunks) == "print(2)"


@pytest.mark.parametrize("fmt", ["reasoning", "content"])
def test_rewritten_snapshot_in_text_stays_where_the_run_was(fmt: CodeFormat) -> None:
    msg = message(translate(REWRITE, fmt))
    if fmt == "reasoning":
        assert msg["reasoning_content"].startswith("a\n\n```python\nprint(1)")
        assert msg["reasoning_content"].endswith(fence("print(2)") + "b")
    else:
        assert msg["content"].endswith(fence("print(2)") + "c")
        assert msg["reasoning_content"] == "ab"


def test_rewritten_snapshot_off_shows_nothing() -> None:
    chunks = translate(REWRITE, "off")
    assert "print(" not in json.dumps(chunks)


# The entry is empty while the model keeps talking, and filled only on the finish frame.
FILLED_AT_FINISH = native(
    {"r": "think"},
    {"runs": [""]},
    {"c": "answer", "runs": [""]},
    {"finish": "stop", "runs": ["x = 1"]},
)
# The entry never gets code at all.
NEVER_FILLED = native(
    {"r": "think"}, {"runs": [""]}, {"c": "answer", "finish": "stop", "runs": [""]}
)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "off"])
@pytest.mark.parametrize(("body", "code"), [(FILLED_AT_FINISH, "x = 1"), (NEVER_FILLED, "")])
def test_run_empty_until_the_finish_is_shown_before_it(
    fmt: CodeFormat, body: bytes, code: str
) -> None:
    chunks = translate(body, fmt)
    check_chunks(chunks, include_usage=True)
    if fmt in ("reasoning", "content"):
        msg = message(chunks)
        assert msg["reasoning_content" if fmt == "reasoning" else "content"].endswith(fence(code))
    else:
        assert shown_code(fmt, chunks) == code
    # Opened once.
    entries = tool_calls(chunks) if fmt == "tool_calls" else vendor(chunks)
    if fmt in ("tool_calls", "vendor"):
        assert [c["id"] for c in entries if "id" in c] == ["call_ci_test_0"]


@pytest.mark.parametrize("body", [FILLED_AT_FINISH, NEVER_FILLED])
def test_run_empty_until_the_finish_off(body: bytes) -> None:
    chunks = translate(body, "off")
    assert message(chunks) == {
        "role": "assistant",
        "content": "answer",
        "reasoning_content": "think",
    }
    assert chunks[-1]["usage"]["x_tools"] == {"code_interpreter": {"count": 1}}
