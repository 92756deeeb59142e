"""`dashscope-proxy logs` on Responses API exchanges, written through a real proxy: listed,
shown with the conversation and the run in stream order, replayed by the Responses
translation, with the events captured or only the frames (then the folded summary is
compared); a tampered record does not match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from proxy.cli.main import main
from proxy.config import Settings, TrafficLogSettings, UpstreamSettings
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator import create_simulator_app

MODEL = "qwen3-max-preview"
QUESTION = "What is 123 to the power of 21?"
RESULT = "77269364466549865653073473388030061522211723"
INTERPRETER: list[Any] = [{"type": "code_interpreter", "container": {"type": "auto"}}]
WEATHER: list[Any] = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]


def write_log(path: Path, *, capture_chunks: bool) -> dict[str, str]:
    """Three exchanges through a real proxy: code run (non-stream), code run (stream), a
    function call (stream); their exchange ids by name."""
    traffic = TrafficLogSettings(path=str(path), capture_frames=True, capture_chunks=capture_chunks)
    ids: dict[str, str] = {}
    with BackgroundServer(create_simulator_app(frame_delay=0)) as simulator:
        upstream = UpstreamSettings(base_url=simulator.url)
        with BackgroundServer(create_app(Settings(upstream=upstream, traffic_log=traffic))) as px:
            client = openai.OpenAI(base_url=f"{px.url}/v1", api_key="sk-test-logs", max_retries=0)
            with client:
                raw = client.responses.with_raw_response.create(
                    model=MODEL, input=QUESTION, tools=INTERPRETER
                )
                ids["code"] = raw.headers["x-proxy-request-id"]
                for name, tools in (("streamed", INTERPRETER), ("function", WEATHER)):
                    stream: Any = client.responses.create(
                        model=MODEL, input=QUESTION, tools=tools, stream=True
                    )
                    ids[name] = stream.response.headers["x-proxy-request-id"]
                    for _ in stream:
                        pass
    return ids  # the servers have stopped: the writer has flushed its queue


def out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["logs", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("capture_chunks", [True, False])
def test_responses_exchanges_are_listed_shown_and_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], capture_chunks: bool
) -> None:
    path = tmp_path / "traffic.jsonl"
    ids = write_log(path, capture_chunks=capture_chunks)
    where = ("--path", str(path))
    listing = out(capsys, "list", *where)
    assert all(exchange_id[:8] in listing for exchange_id in ids.values())

    for name in ("code", "streamed"):
        shown = out(capsys, "show", ids[name][:8], *where)
        assert "endpoint          /v1/responses" in shown
        assert f"user\n  {QUESTION}" in shown  # the input, shown as the conversation
        assert "code interpreter run 1" in shown
        assert shown.index("reasoning") < shown.index("123**21") < shown.index("answer ─")
        assert RESULT in shown[shown.index("answer ─") :]
        assert "interpreter runs 1" in shown
    shown = out(capsys, "show", ids["function"][:8], *where)
    assert '-> get_weather {"city": "Hangzhou"}' in shown
    assert "finish_reason: tool_calls" in shown

    compared = "chunk(s)" if capture_chunks else "the folded response"
    for exchange_id in ids.values():
        replayed = out(capsys, "replay", exchange_id[:8], *where)
        assert replayed.startswith(f"matches: {exchange_id}"), replayed
        assert compared in replayed


def test_a_tampered_responses_record_does_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traffic.jsonl"
    ids = write_log(path, capture_chunks=True)
    records: list[dict[str, Any]] = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        for event in record["chunks"]:
            if event["type"] == "response.code_interpreter_call_code.delta":
                event["delta"] = "print('something else')"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["logs", "replay", ids["streamed"][:8], "--path", str(path)]) == 1
    replayed = capsys.readouterr().out
    assert "differ" in replayed or "mismatch" in replayed.lower(), replayed
    assert "123**21" in replayed
