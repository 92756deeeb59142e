"""Property tests: byte splits change nothing, code-run snapshots always give valid calls, and
no upstream input makes the translation raise anything but the project's errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.fold import fold_chunks
from proxy.core.errors import ProxyError
from proxy.core.sse import SSEDecoder, SSEEvent, encode_data
from proxy.core.wire import Item
from tests.contract import check_chunks
from tests.golden_tools import CASE_NAMES, case, error_summary, identity, load_body, load_expected
from tests.golden_tools import translate as translate_body

MODEST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PER_GOLDEN = settings(max_examples=60, deadline=None)

# ---- (a) any byte split of a golden body gives the reviewed output --------------------------


@pytest.mark.parametrize("name", CASE_NAMES)
@PER_GOLDEN
@given(data=st.data())
def test_any_byte_split_gives_the_same_chunks(name: str, data: st.DataObject) -> None:
    body = load_body(name)
    newline = data.draw(st.sampled_from([b"\n", b"\r\n", b"\r"]), label="newline")
    body = body.replace(b"\n", newline)
    splits = data.draw(st.lists(st.integers(0, len(body)), max_size=40), label="splits")
    result = translate_body(body, case(name).model, splits=splits)
    expected = load_expected(name)
    assert result.chunks == expected["chunks"]
    assert error_summary(result.error) == expected["error"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_one_byte_at_a_time(name: str) -> None:
    body = load_body(name)
    result = translate_body(body, case(name).model, splits=range(len(body)))
    expected = load_expected(name)
    assert result.chunks == expected["chunks"]
    assert error_summary(result.error) == expected["error"]


# ---- (b) code-interpreter snapshots ---------------------------------------------------------

tricky_code = st.text(alphabet=st.sampled_from('ab1 "\\\n\t\r\x00/{}é浙🧮\u2028'), max_size=12)
code_text = st.one_of(tricky_code, st.text(max_size=12))
texts = st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=3)


@dataclass(frozen=True, slots=True)
class RunPlan:
    snapshots: tuple[str, ...]  # this entry's code in successive frames; the last is final
    while_empty: tuple[tuple[str, str], ...]  # (reasoning, content) while the entry is empty
    after: tuple[tuple[str, str], ...]  # text once the run has executed
    hidden: tuple[bool, ...]  # an empty frame before each snapshot

    @property
    def final(self) -> str:
        return self.snapshots[-1]


@st.composite
def growing_run(draw: st.DrawFn) -> RunPlan:
    final = draw(code_text)
    cuts = sorted(draw(st.lists(st.integers(0, len(final)), max_size=4)))
    snapshots = [final[:cut] for cut in cuts] + [final]
    if draw(st.booleans()):
        snapshots.insert(0, "")
    return _plan(draw, snapshots)


@st.composite
def rewritten_run(draw: st.DrawFn) -> RunPlan:
    return _plan(draw, draw(st.lists(code_text, min_size=1, max_size=4)))


def _plan(draw: st.DrawFn, snapshots: list[str]) -> RunPlan:
    hidden = tuple(draw(st.lists(st.booleans(), min_size=len(snapshots), max_size=len(snapshots))))
    return RunPlan(tuple(snapshots), tuple(draw(texts)), tuple(draw(texts)), hidden)


def snapshot_body(before: list[tuple[str, str]], plans: list[RunPlan]) -> bytes:
    """Native frames for the plan, as DashScope would send them: tool_info repeats every run."""
    payloads: list[Item] = []
    codes: list[str] = []

    def emit(reasoning: str = "", content: str = "", finish: str = "null") -> None:
        message = {"content": content, "reasoning_content": reasoning, "role": "assistant"}
        output: dict[str, Any] = {"choices": [{"message": message, "finish_reason": finish}]}
        if codes:
            output["tool_info"] = [
                {"code_interpreter": {"code": code}, "type": "code_interpreter"} for code in codes
            ]
        n = len(payloads) + 1
        usage: dict[str, Any] = {"total_tokens": 10 + n, "output_tokens": n, "input_tokens": 10}
        usage["plugins"] = {"code_interpreter": {"count": len(codes)}}
        payloads.append({"output": output, "usage": usage, "request_id": "r"})

    for reasoning, content in before:
        emit(reasoning, content)
    for plan in plans:
        codes.append("")
        for position, (snapshot, hidden) in enumerate(
            zip(plan.snapshots, plan.hidden, strict=True)
        ):
            if hidden:
                emit()
            codes[-1] = snapshot
            emit()
            if position == 0 and snapshot == "":
                for reasoning, content in plan.while_empty:
                    emit(reasoning, content)
        for reasoning, content in plan.after:
            emit(reasoning, content)
    emit(finish="stop")
    return b"".join(
        f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:".encode() + orjson.dumps(p) + b"\n\n"
        for n, p in enumerate(payloads, 1)
    )


def check_runs(
    before: list[tuple[str, str]], plans: list[RunPlan], splits: list[int], *, exact: bool
) -> None:
    result = translate_body(snapshot_body(before, plans), "qwen3-max", splits=splits)
    assert result.error is None
    completion = check_chunks(result.chunks, include_usage=True)
    message = completion["choices"][0]["message"]
    assert completion["choices"][0]["finish_reason"] == "stop"
    by_id = {call["id"]: call for call in message["tool_calls"]}
    assert len(by_id) == len(plans) == len(message["tool_calls"])
    for run, plan in enumerate(plans):
        call = by_id[f"call_ci_test_{run}"]
        assert call["function"]["name"] == "code_interpreter"
        assert json.loads(call["function"]["arguments"]) == {"code": plan.final}
        if exact:  # prefix growth only: the arguments are the plain object, byte for byte
            final = orjson.dumps(plan.final).decode()
            assert call["function"]["arguments"] in (
                '{"code": ' + final + "}",
                '{"code":' + final + "}",
            )
    pieces = list(before)
    for plan in plans:
        pieces += (plan.while_empty if plan.snapshots[0] == "" else ()) + plan.after
    reasoning = "".join(r for r, _ in pieces)
    content = "".join(c for _, c in pieces)
    assert message.get("reasoning_content", "") == reasoning
    assert message["content"] == (content or None)
    assert completion["usage"]["x_tools"] == {"code_interpreter": {"count": len(plans)}}


@MODEST
@given(
    before=texts,
    plans=st.lists(growing_run(), min_size=1, max_size=4),
    splits=st.lists(st.integers(0, 5000), max_size=5),
)
def test_growing_snapshots_give_exact_code_arguments(
    before: list[tuple[str, str]], plans: list[RunPlan], splits: list[int]
) -> None:
    check_runs(before, plans, splits, exact=True)


@MODEST
@given(
    before=texts,
    plans=st.lists(st.one_of(growing_run(), rewritten_run()), min_size=1, max_size=4),
    splits=st.lists(st.integers(0, 5000), max_size=5),
)
def test_rewritten_snapshots_still_parse_to_the_final_code(
    before: list[tuple[str, str]], plans: list[RunPlan], splits: list[int]
) -> None:
    check_runs(before, plans, splits, exact=False)


def test_growing_arguments_are_exactly_the_json_object() -> None:
    plan = RunPlan(('print("', 'print("a\\', 'print("a\\n")'), (), (("done", ""),), (False,) * 3)
    result = translate_body(snapshot_body([], [plan]), "qwen3-max")
    arguments = check_chunks(result.chunks, include_usage=True)["choices"][0]["message"][
        "tool_calls"
    ][0]["function"]["arguments"]
    assert arguments == json.dumps({"code": 'print("a\\n")'}, ensure_ascii=False)


# ---- (c) garbage in, only the project's errors out ------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, json_values)


def some_of(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={key: maybe(value) for key, value in fields.items()})


counts = st.integers(0, 10**6) | st.integers(2**62, 2**64 - 1)  # absurd but parseable
tool_call = some_of(
    index=st.integers(0, 3),
    id=st.text(max_size=4),
    type=st.just("function"),
    function=some_of(name=st.text(max_size=4), arguments=st.text(max_size=6)),
)
message = some_of(
    content=st.text(max_size=6) | st.lists(some_of(text=st.text(max_size=4)), max_size=2),
    reasoning_content=st.text(max_size=6),
    role=st.just("assistant"),
    tool_calls=st.lists(tool_call, max_size=2),
)
choice = some_of(
    message=message,
    finish_reason=st.sampled_from(["null", "null", "stop", "length", "tool_calls", ""]),
    index=st.integers(0, 2),
)
tool_entry = some_of(
    type=st.sampled_from(["code_interpreter", "web_search"]),
    code_interpreter=some_of(code=code_text),
)
output = some_of(
    choices=st.lists(choice, max_size=3),
    tool_info=st.lists(tool_entry, max_size=3),
    text=st.text(max_size=4),
    finish_reason=st.sampled_from(["null", "stop"]),
)
usage = some_of(
    input_tokens=counts,
    output_tokens=counts,
    cached_tokens=counts,
    output_tokens_details=some_of(reasoning_tokens=counts),
    prompt_tokens_details=some_of(cached_tokens=counts),
    plugins=some_of(code_interpreter=some_of(count=counts)),
)
payload = some_of(
    output=output, usage=usage, request_id=st.text(max_size=4), code=st.text(max_size=4)
)
events = st.builds(
    SSEEvent,
    event=st.sampled_from(["result"] * 6 + ["error", "data", "done", "message"])
    | st.text(max_size=4),
    data=st.one_of(
        payload.map(json.dumps), payload.map(json.dumps), json_values.map(json.dumps), st.text()
    ),
    id=st.none() | st.text(max_size=3),
    status=st.one_of(st.none(), st.sampled_from([200, 200, 400, 429, 500]), st.integers(-5, 999)),
)


def survive(batches: list[list[SSEEvent]]) -> None:
    """Translate like the I/O shell; only ProxyError may escape, and chunks must serialise."""
    translation = CHAT_COMPLETIONS.new_translation(replace(identity("m"), include_usage=True))
    chunks: list[Item] = []
    try:
        for batch in batches:
            chunks.extend(translation.feed(batch))
        chunks.extend(translation.finish())
    except ProxyError as error:
        encode_data(error.to_body())
    for chunk in chunks:
        encode_data(chunk)
    if chunks:
        fold_chunks(chunks)


@MODEST
@given(st.lists(st.lists(events, max_size=3), max_size=6))
def test_arbitrary_frames_raise_only_project_errors(batches: list[list[SSEEvent]]) -> None:
    survive(batches)


def render(event: SSEEvent) -> bytes:
    head = f"event:{event.event}\n" + (f":HTTP_STATUS/{event.status}\n" if event.status else "")
    return (head + "".join(f"data:{line}\n" for line in event.data.split("\n")) + "\n").encode()


@MODEST
@given(
    st.lists(st.one_of(events.map(render), st.binary(max_size=40)), max_size=8),
    st.lists(st.integers(0, 2000), max_size=8),
)
def test_arbitrary_bytes_raise_only_project_errors(pieces: list[bytes], splits: list[int]) -> None:
    body = b"".join(pieces)
    decoder = SSEDecoder()
    cuts = sorted({cut for cut in splits if 0 < cut < len(body)})
    batches = [decoder.feed(body[a:b]) for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    survive([*batches, decoder.finish()])
