"""`logs replay` and `logs stats` on the fixture log, and the pure logic under every command
tested directly: reading and following files, filters, id prefixes, `--since`, percentiles,
stats and the replay comparison."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.code_runs import CodeFormat
from proxy.chat.fold import fold_chunks
from proxy.chat.stream import ChunkIdentity
from proxy.core.sse import SSEDecoder
from proxy.inspect.files import Corrupt, Follower, log_files, read_log
from proxy.inspect.query import Filter, parse_since, resolve, search_text, select
from proxy.inspect.replay import ReplayUnavailable, differences, replay
from proxy.inspect.stats import compute_stats, percentile
from proxy.inspect.timeline import Segment, timeline
from proxy.traffic.record import usage_of
from tests.golden_tools import load_body, load_expected
from tests.test_logs_cli import (
    CI_ID,
    FRAMES_ONLY_ID,
    MODEL,
    SEED_ANSWER,
    T0,
    TAMPERED_FOLD_ID,
    TAMPERED_ID,
    code_interpreter_record,
    plain_terminal,
    run,
    tampered_copies,
    write_log,
)


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_terminal(monkeypatch)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path)


# ---- replay ----------------------------------------------------------------------------------


def test_replay_matches_the_captured_chunks(log: Path) -> None:
    chunks = len(code_interpreter_record(CI_ID, T0)["chunks"])
    code, out, _ = run("replay", CI_ID[:8], "--path", str(log))
    assert code == 0
    assert out.startswith(f"matches: {CI_ID}, {chunks} chunk(s)")


def test_replay_without_chunks_compares_the_folded_response(log: Path) -> None:
    code, out, _ = run("replay", FRAMES_ONLY_ID[:8], "--path", str(log))
    assert code == 0
    assert "matches" in out
    assert "folded response" in out


def test_replay_reports_the_first_differing_chunk(log: Path) -> None:
    _, _, index = tampered_copies(code_interpreter_record(CI_ID, T0))
    code, out, _ = run("replay", TAMPERED_ID[:8], "--path", str(log))
    assert code == 1
    assert f"first differing chunk: #{index}" in out
    assert (
        f'chunks[{index}].choices[0].delta.content: "124 to the power of " -> '
        '"123 to the power of "'
    ) in out
    code, out, _ = run("replay", TAMPERED_FOLD_ID[:8], "--path", str(log))
    assert code == 1
    assert f'response.choices[0].message.content: "42" -> "{SEED_ANSWER}"' in out


def test_replay_needs_captured_frames(log: Path) -> None:
    code, _, err = run("replay", "1a2b3c", "--path", str(log))
    assert code == 2
    assert "enable [traffic_log] capture_frames" in err


# ---- stats -----------------------------------------------------------------------------------


def test_stats_json_counts_errors_latencies_and_tokens(log: Path) -> None:
    code, out, _ = run("stats", "--json", "--path", str(log))
    assert code == 0
    stats = orjson.loads(out)
    overall = stats["overall"]
    assert overall["exchanges"] == 10
    assert overall["errors"] == 3
    assert overall["errors_by_code"] == {
        "Throttling.RateQuota": {"count": 1, "rate": 0.1},
        "InternalError": {"count": 1, "rate": 0.1},
        "cancelled": {"count": 1, "rate": 0.1},
    }
    # first byte (ms), sorted: 20 x4 (the code-interpreter records), 90, 120.25, 200, 300
    assert overall["first_byte_ms"] == {"p50": 20.0, "p95": 300.0, "p99": 300.0, "count": 8}
    assert overall["tokens"] == {
        "prompt": 205 + 4 * 734,
        "completion": 69 + 4 * 263,
        "reasoning": 4 + 4 * 171,
    }
    assert overall["interpreter_runs"] == 4
    assert list(stats["models"]) == [MODEL, "qwen-plus", "qwen3-max", "qwen-flash"]
    assert stats["models"]["qwen3-max"]["error_rate"] == 1.0
    assert stats["models"]["qwen-plus"]["total_ms"]["p50"] == 400.0


def test_stats_renders_tables_and_honours_since(log: Path) -> None:
    code, out, _ = run("stats", "--path", str(log), "--since", "54m")
    assert code == 0
    assert out.startswith("4 exchange(s) since 54m")
    assert re.search(r"1st byte +1st byte +1st byte +total +total +total\n", out)
    assert re.search(r"\nlatency +p50 +p95 +p99 +p50 +p95 +p99\n", out)  # under each moment
    assert "qwen-plus" not in out
    _, out, _ = run("stats", "--path", str(log))
    assert "Throttling.RateQuota" in out
    assert "30.0%" in out  # overall error rate: 3 of 10


# ---- replay, directly -----------------------------------------------------------------------


def test_replay_feeds_frames_as_one_batch_or_many_alike() -> None:
    record = code_interpreter_record(CI_ID, T0)
    result = replay(record)
    assert result.matches
    assert (result.compared, result.expected_count) == ("chunks", len(record["chunks"]))
    assert result.error is None


def test_replay_of_a_cancelled_exchange_makes_no_closing_chunks() -> None:
    """The client left after the last frame but before the closing (usage) chunk went out."""
    record = code_interpreter_record(CI_ID, T0)
    record.update(outcome="cancelled", chunks=record["chunks"][:-1])
    assert replay(record).matches
    record["outcome"] = "ok"
    assert replay(record).first_difference == len(record["chunks"])


def test_replay_reports_missing_chunks_at_the_end() -> None:
    record = code_interpreter_record(CI_ID, T0)
    extra = copy.deepcopy(record["chunks"][-1])
    record["chunks"].append(extra)
    result = replay(record)
    assert not result.matches
    assert result.first_difference == len(record["chunks"]) - 1
    assert result.differences[0].endswith("-> null")


def version_1_record(code_format: CodeFormat) -> dict[str, Any]:
    """The seed exchange as version 1 recorded it without chunks: each message folded as the
    client saw it, the code run in it as `code_format` showed it."""
    decoder = SSEDecoder()
    events = decoder.feed(load_body("seed_single_run")) + decoder.finish()
    identity = ChunkIdentity("chatcmpl-x", 1, MODEL, "call_ci_x_")
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity, include_usage=True, code_format=code_format)
    )
    folded = fold_chunks(translation.feed(events) + translation.finish())
    summary = translation.summary()
    record = {
        "v": 1,
        "id": "x",
        "outcome": "ok",
        "translation": translation.settings(),
        "response": {
            "choices": [
                {key: choice[key] for key in ("index", "finish_reason", "message")}
                for choice in folded["choices"]
            ],
            "code_runs": list(summary.code_runs),
        },
        "usage": usage_of(summary),
        "frames": [{"event": e.event, "status": e.status, "data": e.data} for e in events],
    }
    plain: dict[str, Any] = orjson.loads(orjson.dumps(record))
    return plain


@pytest.mark.parametrize("code_format", ["tool_calls", "reasoning", "content", "vendor", "off"])
def test_replay_reads_version_1_records_that_showed_runs_in_the_message(
    code_format: CodeFormat,
) -> None:
    record = version_1_record(code_format)
    result = replay(record)
    assert (result.compared, result.differences) == ("response", [])
    record["response"]["choices"][0]["message"]["content"] = "42"
    assert replay(record).differences == [
        f'response.choices[0].message.content: "42" -> "{SEED_ANSWER}"'
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"frames": None}, "capture_frames"),
        ({"outcome": "local", "frames": []}, "answered this exchange itself"),
        ({"translation": {"chunk_id": "x"}}, "incomplete"),
        ({"translation": {"api": "embeddings"}}, "does not serve"),
    ],
)
def test_replay_explains_what_it_cannot_replay(change: dict[str, Any], reason: str) -> None:
    record = {**code_interpreter_record(CI_ID, T0), **change}
    with pytest.raises(ReplayUnavailable, match=reason):
        replay(record)


def test_differences_are_compact_paths() -> None:
    old = {"a": [1, 2], "b": {"c": "x" * 100}, "gone": 1}
    new = {"a": [1, 3, 4], "b": {"c": "y"}, "new": None}
    assert differences(old, new, "r") == [
        "r.a[1]: 2 -> 3",
        "r.a[2]: (absent) -> 4",
        f'r.b.c: "{"x" * 66}... -> "y"',
        "r.gone: 1 -> (absent)",
        "r.new: (absent) -> null",
    ]
    many = differences(list(range(20)), list(range(1, 21)), "r", limit=3)
    assert many[-1] == "... and 17 more difference(s)"


# ---- stats, directly ------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unordered input
    assert [percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 0)


def _record(n: int, model: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{n:032x}",
        "started_at": T0 + n,
        "model": model,
        "status": 200,
        "outcome": "ok",
        **fields,
    }


def test_stats_on_known_data() -> None:
    records = [
        _record(
            n,
            "a" if n <= 20 else "b",
            timings_ms={"first_byte": n * 10.0, "total": n * 100.0},
            usage={
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "completion_tokens_details": {"reasoning_tokens": 2},
                "x_tools": {"code_interpreter": {"count": n % 2}},
            },
        )
        for n in range(1, 21 + 4)
    ]
    records[0].update(status=429, outcome="error", error={"code": "Throttling"})
    records[1].update(outcome="error", error={"code": "InternalError"})
    records[2].update(outcome="cancelled")
    records[3].update(status=502, outcome="error")
    stats = compute_stats(records)
    a = stats["models"]["a"]
    assert a["exchanges"] == 20
    assert a["first_byte_ms"] == {"p50": 100.0, "p95": 190.0, "p99": 200.0, "count": 20}
    assert a["total_ms"]["p50"] == 1000.0
    assert a["errors"] == 4
    assert a["error_rate"] == 0.2
    assert a["errors_by_code"] == {
        code: {"count": 1, "rate": 0.05}
        for code in ("Throttling", "InternalError", "cancelled", "HTTP 502")
    }
    assert a["tokens"] == {"prompt": 200, "completion": 100, "reasoning": 40}
    assert a["interpreter_runs"] == 10
    overall = stats["overall"]
    assert overall["exchanges"] == 24
    assert overall["first_byte_ms"]["p99"] == 240.0
    assert stats["models"]["b"]["errors"] == 0
    assert compute_stats([])["overall"]["first_byte_ms"]["p50"] is None


# ---- selecting, directly ---------------------------------------------------------------------


def test_since_takes_durations_and_iso_times() -> None:
    now = 1_000_000.0
    assert parse_since("10m", now) == now - 600
    assert parse_since("2h", now) == now - 7200
    assert parse_since("1d", now) == now - 86400
    assert parse_since("1.5H", now) == now - 5400
    assert parse_since("2026-01-01T10:00:00+00:00", now) == T0
    assert parse_since("2026-01-01T10:00:00Z", now) == T0
    with pytest.raises(ValueError, match="10m, 2h, 1d"):
        parse_since("last tuesday", now)


def test_filters_and_grep() -> None:
    ci = code_interpreter_record(CI_ID, T0)
    other = _record(
        1,
        "qwen-plus",
        status=404,
        outcome="error",
        request={
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look at this"},
                        {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                    ],
                }
            ]
        },
    )
    assert "123**21" in search_text(ci)
    assert "Look at this" in search_text(other)
    assert select([ci, other], Filter(grep="look AT")) == [other]
    assert select([ci, other], Filter(errors=True)) == [other]
    assert select([ci, other], Filter(status=200, model=MODEL)) == [ci]
    assert select([ci, other], Filter(since=T0 + 0.5)) == [other]
    assert select([ci, other], Filter()) == [other, ci]  # newest first
    assert select([ci, other], Filter(), limit=1) == [other]


def test_resolve_prefers_an_exact_id() -> None:
    short = _record(1, "m") | {"id": "abc"}
    longer = _record(2, "m") | {"id": "abcdef"}
    assert resolve([short, longer], "abc") == [short]
    assert resolve([short, longer], "chatcmpl-abcd") == [longer]
    assert resolve([short, longer], "ab") == [longer, short]
    assert resolve([short, longer], "") == []


# ---- files, directly -------------------------------------------------------------------------


def test_rotated_files_are_read_oldest_first_and_bad_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    lines: dict[str, list[Any]] = {
        "t.jsonl.2": [_record(1, "m")],
        "t.jsonl.1": [_record(2, "m"), "[1, 2]"],
        "t.jsonl": [_record(3, "m"), "", '{"id": ""}', _record(4, "m")],
    }
    for name, items in lines.items():
        text = "\n".join(x if isinstance(x, str) else orjson.dumps(x).decode() for x in items)
        (tmp_path / name).write_text(text + "\n")
    (tmp_path / "t.jsonl.bak").write_text("ignored")
    assert [p.name for p in log_files(path)] == ["t.jsonl.2", "t.jsonl.1", "t.jsonl"]
    read = read_log(path)
    assert [r["started_at"] - T0 for r in read.records] == [1, 2, 3, 4]
    assert read.corrupt == [Corrupt("t.jsonl.1", 2), Corrupt("t.jsonl", 3)]
    assert len(read_log(path, live=False).records) == 2


def test_follower_waits_for_a_file_and_for_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    line = orjson.dumps(_record(1, "m")) + b"\n"
    with Follower(path) as follower:
        assert follower.poll().records == []  # no file yet
        path.write_bytes(line[:10])
        assert follower.poll().records == []
        with path.open("ab") as file:
            file.write(line[10:])
        assert [r["id"] for r in follower.poll().records] == [f"{1:032x}"]
        assert follower.poll().records == []


# ---- timeline, directly ----------------------------------------------------------------------


def _translated(code_format: CodeFormat) -> dict[str, Any]:
    """The seed exchange as recorded with another representation of its code run."""
    decoder = SSEDecoder()
    events = decoder.feed(load_body("seed_single_run")) + decoder.finish()
    identity = ChunkIdentity("chatcmpl-x", 1, MODEL, "call_ci_x_")
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity, include_usage=True, code_format=code_format)
    )
    chunks = translation.feed(events) + translation.finish()
    completion = fold_chunks(chunks)
    return {
        "id": "x",
        "translation": {"call_id_prefix": "call_ci_x_", "code_format": code_format},
        "response": {
            "choices": completion["choices"],
            "code_runs": list(translation.summary().code_runs),
        },
        "chunks": chunks,
    }


def _kinds(segments: list[Segment] | None) -> list[tuple[str, str]]:
    assert segments is not None
    return [(s.kind, s.text if s.kind != "reasoning" else s.text[:10]) for s in segments]


def test_timeline_puts_each_run_between_the_thoughts_around_it() -> None:
    record = code_interpreter_record(CI_ID, T0)
    assert _kinds(timeline(record)) == [
        ("reasoning", "The user i"),
        ("code", "123**21"),
        ("reasoning", "The user a"),
        ("answer", SEED_ANSWER),
    ]
    del record["chunks"]
    assert timeline(record) is None  # folded: nothing says what came when


@pytest.mark.parametrize("code_format", ["vendor", "tool_calls"])
def test_timeline_knows_runs_in_either_structured_form(code_format: CodeFormat) -> None:
    kinds = _kinds(timeline(_translated(code_format)))
    assert [kind for kind, _ in kinds] == ["reasoning", "code", "reasoning", "answer"]
    assert kinds[1] == ("code", "123**21")


def test_timeline_places_runs_shown_inside_text_before_the_answer() -> None:
    kinds = _kinds(timeline(_translated("reasoning")))
    assert kinds[-2:] == [("code", "123**21"), ("answer", SEED_ANSWER)]


def test_timeline_shows_function_calls_with_their_arguments() -> None:
    chunks = load_expected("parallel_tools")["chunks"]
    completion = fold_chunks(chunks)
    record = {
        "id": "x",
        "translation": {"call_id_prefix": "call_ci_x_"},
        "response": {"choices": completion["choices"], "code_runs": []},
        "chunks": chunks,
    }
    assert _kinds(timeline(record)) == [
        ("tool_call", '{"location": "浙江省杭州市"}'),
        ("tool_call", '{"location": "上海市"}'),
    ]


def test_show_without_chunks_keeps_the_folded_order(log: Path) -> None:
    code, out, _ = run("show", FRAMES_ONLY_ID[:8], "--path", str(log))
    assert code == 0
    assert out.count("reasoning ─") == 1
    assert out.index("reasoning ─") < out.index("code interpreter run 1") < out.index(SEED_ANSWER)
