"""`dashscope-proxy logs`: each command's output on a fixture log, and one real exchange.

The fixture log (tests/fixtures/traffic/) is a live file and one rotated file, written by hand
after docs/traffic-log.md: a 429, an in-band error, a cancelled exchange, a function call with
a dropped field, a corrupt line, several models. Code-interpreter records are added per test,
their frames and chunks made by the real translator from the golden seed frames, so `replay`
must match them; tampered copies must not. The last test writes a log through a real proxy.
"""

from __future__ import annotations

import argparse
import copy
import io
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from proxy.chat.api import CHAT_COMPLETIONS
from proxy.chat.stream import ChunkIdentity
from proxy.cli.main import main
from proxy.config import Settings, TrafficLogSettings, UpstreamSettings
from proxy.core.sse import SSEDecoder
from proxy.inspect.commands import add_logs_parser, run_logs
from proxy.inspect.render import make_console
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator import create_simulator_app
from proxy.traffic.record import response_of, usage_of
from tests.golden_tools import load_body

FIXTURES = Path(__file__).parent / "fixtures" / "traffic"
T0 = 1767261600.0  # the fixture's first exchange: 2026-01-01T10:00:00Z
NOW = T0 + 3600
MODEL = "qwen3-max-preview"
QUESTION = "What is 123 to the power of 21?"
RESULT = "77269364466549865653073473388030061522211723"  # the simulator's whole answer
SEED_ANSWER = "123 to the power of 23"  # the golden seed frames: the page elides the middle
CI_ID = "c1c1c1c1000000000000000000000001"  # frames and chunks captured
FRAMES_ONLY_ID = "f4f4f4f4000000000000000000000002"  # frames only: replay folds
TAMPERED_ID = "7a7a7a7a000000000000000000000003"  # a chunk edited
TAMPERED_FOLD_ID = "8b8b8b8b000000000000000000000004"  # frames only, answer edited
FIXTURE_IDS = [  # newest first
    "1a2bffff0000000000000000000ffff6",
    "5e6f70810000000000000000000eeee5",
    "4d5e6f700000000000000000000dddd4",
    "3c4d5e6f0000000000000000000cccc3",
    "2b3c4d5e0000000000000000000bbbb2",
    "1a2b3c4d0000000000000000000aaaa1",
]
ALL_IDS = [TAMPERED_FOLD_ID, TAMPERED_ID, FRAMES_ONLY_ID, CI_ID, *FIXTURE_IDS]


def code_interpreter_record(exchange_id: str, started_at: float) -> dict[str, Any]:
    """The record of the demo's exchange, field by field as docs/traffic-log.md describes it:
    the golden seed frames, fed one at a time through the real translator, and its chunks."""
    decoder = SSEDecoder()
    events = decoder.feed(load_body("seed_single_run")) + decoder.finish()
    identity = ChunkIdentity(
        f"chatcmpl-{exchange_id}", int(started_at), MODEL, f"call_ci_{exchange_id[:16]}_"
    )
    settings = {
        "api": "chat.completions",
        "chunk_id": identity.chunk_id,
        "created": identity.created,
        "model": MODEL,
        "call_id_prefix": identity.call_id_prefix,
        "code_format": "tool_calls",
        "include_usage": True,
    }
    translation = CHAT_COMPLETIONS.new_translation(
        replace(identity, include_usage=True, code_format="tool_calls")
    )
    chunks = [chunk for event in events for chunk in translation.feed([event])]
    chunks += translation.finish()
    summary = translation.summary()
    flags = {"enable_code_interpreter": True, "enable_thinking": True}
    question = [{"role": "user", "content": QUESTION}]
    record = {
        "v": 2,
        "id": exchange_id,
        "upstream_request_id": translation.request_id,
        "client_request_id": None,
        "started_at": started_at,
        "endpoint": "/v1/chat/completions",
        "model": MODEL,
        "stream": True,
        "status": 200,
        "outcome": "ok",
        "error": None,
        "request": {"model": MODEL, "messages": question, "stream": True, **flags},
        "upstream_request": {
            "path": "/api/v1/services/aigc/text-generation/generation",
            "body": {"model": MODEL, "input": {"messages": question}, "parameters": flags},
        },
        "notes": [],
        "translation": settings,
        "timings_ms": {"upstream_first_frame": 10.0, "first_byte": 20.0, "total": 30.0},
        "response": response_of(summary),
        "usage": usage_of(summary),
        "frames": [{"event": e.event, "status": e.status, "data": e.data} for e in events],
        "chunks": chunks,
    }
    plain: dict[str, Any] = orjson.loads(orjson.dumps(record))
    return plain


def tampered_copies(original: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A copy whose first answer chunk says something else, and a frames-only copy whose folded
    answer does; with the index of the edited chunk."""
    edited = copy.deepcopy(original)
    edited.update(id=TAMPERED_ID, started_at=T0 + 420)
    index = next(
        i for i, c in enumerate(edited["chunks"]) if c["choices"][0]["delta"].get("content")
    )
    edited["chunks"][index]["choices"][0]["delta"]["content"] = "124 to the power of "
    folded = copy.deepcopy(original)
    folded.update(id=TAMPERED_FOLD_ID, started_at=T0 + 450)
    del folded["chunks"]
    folded["response"]["choices"][0]["message"]["content"] = "42"
    return edited, folded, index


def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour forced by the environment; 100 columns for commands run through `main`."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "DASHSCOPE_PROXY_TRAFFIC_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def write_log(tmp_path: Path) -> Path:
    """The fixture log in `tmp_path`, with the code-interpreter records appended."""
    ci_record = code_interpreter_record(CI_ID, T0 + 360)
    for name in ("traffic.jsonl", "traffic.jsonl.1"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    frames_only = copy.deepcopy(ci_record)
    frames_only.update(id=FRAMES_ONLY_ID, started_at=T0 + 390)
    del frames_only["chunks"]
    edited, folded, _ = tampered_copies(ci_record)
    path = tmp_path / "traffic.jsonl"
    with path.open("ab") as file:
        for record in (ci_record, frames_only, edited, folded):
            file.write(orjson.dumps(record) + b"\n")
    return path


def run(
    *argv: str,
    clock: Callable[[], float] = lambda: NOW,
    sleep: Callable[[float], None] = lambda seconds: None,
    environ: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """`dashscope-proxy logs ARGV` with a fixed clock; (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="dashscope-proxy")
    add_logs_parser(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    code = run_logs(
        parser.parse_args(["logs", *argv]),
        clock=clock,
        sleep=sleep,
        environ=environ or {},
        out=make_console(out, width=100),
        err=make_console(err, width=100),
    )
    return code, out.getvalue(), err.getvalue()


def row_ids(output: str, known: list[str] = ALL_IDS) -> list[str]:
    """The exchange ids (8 characters) of the rows in a `list` or `tail` table, in order."""
    prefixes = {exchange_id[:8]: exchange_id for exchange_id in known}
    return [
        prefixes[word] for line in output.splitlines() for word in line.split() if word in prefixes
    ]


def local(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%b %d %H:%M:%S")


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_terminal(monkeypatch)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path)


# ---- list ------------------------------------------------------------------------------------


def test_list_shows_every_exchange_newest_first_across_rotated_files(log: Path) -> None:
    code, out, err = run("list", "--path", str(log))
    assert code == 0
    assert row_ids(out) == ALL_IDS
    rows = {line.split()[3]: line for line in out.splitlines()[3:]}  # after a 2-line header
    ci = rows[CI_ID[:8]]
    assert local(T0 + 360) in ci
    assert MODEL in ci
    assert "734/263" in ci  # prompt/completion tokens
    assert ci.split()[-2:] == ["1", "-"]  # one interpreter run; no cost recorded
    assert "429 error" in rows["2b3c4d5e"]
    assert "200 error" in rows["3c4d5e6f"]  # an error in the stream
    assert "499 cancelled" in rows["4d5e6f70"]
    assert "120ms" in rows["1a2b3c4d"]
    assert "480ms" in rows["1a2b3c4d"]
    assert "15.0s" in rows["4d5e6f70"]
    assert "skipped 1 corrupt line(s): traffic.jsonl:2" in err


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--status", "429"], ["2b3c4d5e0000000000000000000bbbb2"]),
        (["--errors"], FIXTURE_IDS[2:5]),
        (["--model", "qwen-plus"], [FIXTURE_IDS[0], FIXTURE_IDS[4], FIXTURE_IDS[5]]),
        (["--since", "54m"], [TAMPERED_FOLD_ID, TAMPERED_ID, FRAMES_ONLY_ID, CI_ID]),
        (["--since", "2026-01-01T10:03:00+00:00"], ALL_IDS[:7]),
        (["--grep", "HANGZHOU"], [FIXTURE_IDS[1]]),  # in a tool call's arguments and a question
        (["--grep", "hamlet"], [FIXTURE_IDS[3]]),
        (["--grep", "123**21", "--limit", "2"], [TAMPERED_FOLD_ID, TAMPERED_ID]),  # the code
        (["--grep", "greeting. keep"], [FIXTURE_IDS[0]]),  # reasoning
        (["--errors", "--model", "qwen3-max"], FIXTURE_IDS[2:4]),
    ],
)
def test_list_filters(log: Path, arguments: list[str], expected: list[str]) -> None:
    code, out, _ = run("list", "--path", str(log), *arguments)
    assert code == 0
    assert row_ids(out) == expected


def test_list_limit_says_how_many_matched(log: Path) -> None:
    code, out, err = run("list", "--path", str(log), "--limit", "3")
    assert code == 0
    assert row_ids(out) == ALL_IDS[:3]
    assert f"3 of {len(ALL_IDS)} shown" in err


def test_list_json_prints_the_matching_records_as_json_lines(log: Path) -> None:
    code, out, _ = run("list", "--path", str(log), "--json", "--model", MODEL)
    assert code == 0
    records = [orjson.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == ALL_IDS[:4]
    assert records[3]["frames"][0]["event"] == "result"
    assert records[3]["response"]["code_runs"] == ["123**21"]


def test_list_bad_since_is_a_usage_error(log: Path) -> None:
    code, _, err = run("list", "--path", str(log), "--since", "yesterday-ish")
    assert code == 2
    assert "10m, 2h, 1d" in err


# ---- show ------------------------------------------------------------------------------------


def test_show_lays_out_a_code_interpreter_exchange(log: Path) -> None:
    code, out, _ = run("show", CI_ID[:6], "--path", str(log))
    assert code == 0
    for expected in (
        CI_ID,
        MODEL,
        "/v1/chat/completions",
        "200 ok",
        "a1959ad1-2637-4672-a21f-4d351371d254",  # DashScope's request id
        "first byte",
        "prompt 734 · completion 263 (reasoning 171) · total 997 · interpreter runs 1",
        "enable_code_interpreter=true",
    ):
        assert expected in out
    sections = [
        out.index("request: 1 message(s)"),
        out.index(f"user\n  {QUESTION}"),
        out.index("reasoning ─"),
        out.index("The user is asking"),
        out.index("code interpreter run 1 ─"),
        out.index("  123**21\n"),
        out.index("reasoning ─", out.index("123**21")),  # thinking again after the run
        out.index("The user a clear format."),
        out.index("answer ─"),
        out.index(SEED_ANSWER),
        out.index("finish_reason: stop"),
    ]
    assert sections == sorted(sections)
    assert "tool calls ─" not in out  # the run is not shown again as a function call
    assert "\x1b[" not in out


def test_show_errors_tool_calls_and_notes(log: Path) -> None:
    _, out, _ = run("show", "2b3c", "--path", str(log))
    assert "429 error" in out
    assert "client-req-42" in out
    assert "rate_limit_error (Throttling.RateQuota): Requests rate limit exceeded" in out
    _, out, _ = run("show", "3c4d", "--path", str(log))
    assert out.index("Hamlet, prince of Denmark") < out.index("api_error (InternalError)")
    _, out, _ = run("show", "4d5e", "--path", str(log))
    assert "499 cancelled" in out
    assert "the client went away" in out
    _, out, _ = run("show", "5e6f", "--path", str(log))
    assert '-> get_current_weather {"location": "Hangzhou"}' in out
    assert "finish_reason: tool_calls" in out
    assert "- dropped frequency_penalty" in out
    _, out, _ = run("show", "1a2b3c", "--path", str(log))
    assert out.index("system\n  You are terse.") < out.index("user\n  What is the capital")


def test_show_resolves_ids_by_prefix(log: Path) -> None:
    assert run("show", f"chatcmpl-{CI_ID}", "--path", str(log))[0] == 0
    code, _, err = run("show", "1a2b", "--path", str(log))
    assert code == 2
    assert "'1a2b' matches 2 exchanges" in err
    assert row_ids(err) == [FIXTURE_IDS[0], FIXTURE_IDS[5]]  # the candidates, newest first
    code, _, err = run("show", "0000", "--path", str(log))
    assert code == 1
    assert "no exchange with an id starting '0000'" in err


def test_show_json_prints_the_raw_record(log: Path) -> None:
    code, out, _ = run("show", CI_ID[:8], "--json", "--path", str(log))
    assert code == 0
    assert orjson.loads(out) == code_interpreter_record(CI_ID, T0 + 360)


# ---- where the log is ------------------------------------------------------------------------


def test_the_log_is_found_through_the_config_serve_takes(log: Path, tmp_path: Path) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text(f'[traffic_log]\npath = "{log}"\ncapture_frames = true\n')
    code, out, _ = run("list", "--config", str(config))
    assert code == 0
    assert row_ids(out) == ALL_IDS
    code, out, _ = run("list", environ={"DASHSCOPE_PROXY_TRAFFIC_LOG": str(log)})
    assert row_ids(out) == ALL_IDS


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[server]\nport = 8080\n", "no traffic log file: set [traffic_log] path"),
        ('[traffic_log]\npath = "stdout"\n', "path is stdout here"),
        ("[traffic_log]\npath = 3\n", "config error: [traffic_log] path must be a string"),
    ],
)
def test_without_a_log_file_path_logs_says_how_to_set_one(
    tmp_path: Path, config: str, message: str
) -> None:
    (tmp_path / "proxy.toml").write_text(config)
    code, out, err = run("list", "--config", str(tmp_path / "proxy.toml"))
    assert (code, out) == (2, "")
    assert message in err


def test_a_log_not_written_yet_is_reported(tmp_path: Path) -> None:
    code, _, err = run("list", "--path", str(tmp_path / "traffic.jsonl"))
    assert code == 1
    assert "no traffic log at" in err


def test_the_real_command_line_prints_plain_text(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "list", "--path", str(log)]) == 0
    assert main(["logs", "show", CI_ID[:8], "--path", str(log)]) == 0
    out = capsys.readouterr().out
    assert row_ids(out.split("exchange ")[0]) == ALL_IDS
    assert SEED_ANSWER in out
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 100


# ---- tail ------------------------------------------------------------------------------------


def test_tail_prints_the_last_exchanges_oldest_first(log: Path) -> None:
    code, out, _ = run("tail", "-n", "3", "--path", str(log))
    assert code == 0
    assert row_ids(out) == [FRAMES_ONLY_ID, TAMPERED_ID, TAMPERED_FOLD_ID]
    _, out, _ = run("tail", "--errors", "--path", str(log))
    assert row_ids(out) == FIXTURE_IDS[4:1:-1]


def _new_record(exchange_id: str, offset: float) -> bytes:
    record = orjson.loads((FIXTURES / "traffic.jsonl.1").read_bytes().splitlines()[0])
    record.update(id=exchange_id, started_at=NOW + offset)
    return orjson.dumps(record) + b"\n"


def test_tail_follow_survives_rotation_and_truncation(log: Path) -> None:
    """The injected sleep appends, rotates as the writer does, truncates, then is Ctrl-C."""
    ids = [f"{n:x}" * 8 + "0" * 24 for n in range(10, 15)]  # aaaaaaaa.., bbbbbbbb.., ...

    rotated, half = log.parent / "traffic.jsonl.1", _new_record(ids[1], 2)
    steps = iter(
        [
            [("append", _new_record(ids[0], 1))],
            [("append", half[:40])],  # half a line: it waits for the rest
            [("append", half[40:] + b"not json\n")],
            [
                ("append", _new_record(ids[2], 3)),
                ("rotate", b""),
                ("append", _new_record(ids[3], 4)),
            ],
            [("truncate", b"")],  # emptied in place
            [("append", _new_record(ids[4], 5))],
        ]
    )

    def sleep(seconds: float) -> None:
        step = next(steps, None)
        if step is None:
            raise KeyboardInterrupt  # as Ctrl-C does during the real sleep
        for action, data in step:
            if action == "rotate":  # as the writer does: path.1 -> path.2, path -> path.1
                rotated.rename(log.parent / "traffic.jsonl.2")
                log.rename(rotated)
            with log.open("wb" if action == "truncate" else "ab") as file:
                file.write(data)

    code, out, err = run("tail", "-f", "-n", "2", "--path", str(log), sleep=sleep)
    assert code == 0
    assert row_ids(out, [*ALL_IDS, *ids]) == [TAMPERED_ID, TAMPERED_FOLD_ID, *ids]
    assert out.count("tokens") == 1  # one header; new rows follow it
    assert "skipped 1 corrupt line(s): traffic.jsonl:11" in err


# ---- a real exchange -------------------------------------------------------------------------


def test_a_real_code_interpreter_exchange_can_be_listed_shown_and_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs" / "traffic.jsonl"
    traffic = TrafficLogSettings(path=str(path), capture_frames=True, capture_chunks=True)
    with BackgroundServer(create_simulator_app(frame_delay=0)) as simulator:
        upstream = UpstreamSettings(base_url=simulator.url, api_key="sk-simulated-server-key")
        with BackgroundServer(create_app(Settings(upstream=upstream, traffic_log=traffic))) as px:
            client = openai.OpenAI(base_url=f"{px.url}/v1", api_key="sk-client", max_retries=0)
            with client:
                stream = client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": QUESTION}],
                    extra_body={"enable_code_interpreter": True, "enable_thinking": True},
                    stream=True,
                    stream_options={"include_usage": True},
                )
                exchange_id = stream.response.headers["x-proxy-request-id"]
                for _ in stream:
                    pass
    # The server has stopped: the writer has flushed its queue.
    assert main(["logs", "list", "--path", str(path)]) == 0
    listing = capsys.readouterr().out
    assert exchange_id[:8] in listing
    assert MODEL in listing
    assert main(["logs", "show", exchange_id[:8], "--path", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "123**21" in shown
    assert RESULT in shown
    assert main(["logs", "replay", exchange_id[:8], "--path", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"matches: {exchange_id}")
