"""`logs replay` on exchanges DashScope refused (issue 14, "A log that tells the truth").

Real exchanges through a proxy in front of the simulator, captured with `capture_frames`:
an `event:error` first frame on an HTTP 200, and 401, 429, 500 answers. Their records keep
what DashScope sent, and replay runs today's translation of it: it must give the recorded
error, and a tampered record must not match. A record with nothing to replay says so (exit 2).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from proxy.config import TrafficLogSettings
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from tests.conftest import SERVER_KEY, TrafficProxy, proxy_settings, read_jsonl
from tests.faulty_upstream import Close, FaultyUpstream, Send
from tests.faulty_upstream import native_error as faulty_native_error
from tests.test_logs_cli import run
from tests.test_upstream_edges import REDIRECT, reply

MODEL = "qwen3-max-preview"
SCENARIOS = {  # the simulator's scenario: the status the client gets, DashScope's code
    "error_event_first": (400, "InvalidParameter"),
    "error_401": (401, "InvalidApiKey"),
    "error_429": (429, "Throttling.RateQuota"),
    "error_500": (500, "InternalError"),
    "error_sse_non2xx": (429, "Throttling.AllocationQuota"),
}


def ask(
    proxy: TrafficProxy | BackgroundServer, content: str, *, stream: bool = True, **body: Any
) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": content}],
            "stream": stream,
            **body,
        },
        headers={"authorization": "Bearer sk-fake-client-key"},
        timeout=30,
    )


def failed_exchanges(
    traffic_proxy: Callable[..., TrafficProxy], path: Path, *, capture: bool = True
) -> dict[str, dict[str, Any]]:
    """One request per scenario, streamed and not; their records by scenario."""
    proxy = traffic_proxy(TrafficLogSettings(path=str(path), capture_frames=capture))
    ids = {}
    for n, scenario in enumerate(SCENARIOS):
        response = ask(proxy, f"Hi [sim:{scenario}]", stream=n % 2 == 0)
        assert response.status_code == SCENARIOS[scenario][0], response.text
        ids[response.headers["x-proxy-request-id"]] = scenario
    proxy.stop()
    return {ids[record["id"]]: record for record in read_jsonl(path)}


@pytest.fixture
def records(traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path) -> dict[str, Any]:
    return failed_exchanges(traffic_proxy, tmp_path / "traffic.jsonl")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_gives_the_recorded_upstream_error(
    records: dict[str, dict[str, Any]], tmp_path: Path, scenario: str
) -> None:
    record = records[scenario]
    status, code = SCENARIOS[scenario]
    assert (record["status"], record["error"]["code"]) == (status, code)
    code_, out, err = run("replay", record["id"], "--path", str(tmp_path / "traffic.jsonl"))
    assert (code_, err) == (0, "")
    assert out.startswith(f"matches: {record['id']}")
    assert code in out
    assert record["error"]["message"] in " ".join(out.split())
    assert "upstream_truncated" not in out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_what_dashscope_answered_is_in_the_record(
    records: dict[str, dict[str, Any]], scenario: str
) -> None:
    record = records[scenario]
    captured = orjson.dumps({k: record.get(k) for k in ("frames", "upstream_error")})
    assert SCENARIOS[scenario][1].encode() in captured
    assert record["error"]["message"].encode() in captured


@pytest.mark.parametrize("scenario", ["error_event_first", "error_429"])
def test_a_tampered_error_record_does_not_match(
    records: dict[str, dict[str, Any]], tmp_path: Path, scenario: str
) -> None:
    record = copy.deepcopy(records[scenario])
    record["error"]["code"] = "SomethingElse"
    path = tmp_path / "tampered.jsonl"
    path.write_bytes(orjson.dumps(record) + b"\n")
    code, out, _ = run("replay", record["id"], "--path", str(path))
    assert code == 1
    assert out.startswith(f"differs: {record['id']}")
    assert "SomethingElse" in out
    assert SCENARIOS[scenario][1] in out


def test_without_captured_frames_replay_says_there_is_nothing_to_replay(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    path = tmp_path / "traffic.jsonl"
    record = failed_exchanges(traffic_proxy, path, capture=False)["error_event_first"]
    code, out, err = run("replay", record["id"], "--path", str(path))
    assert (code, out) == (2, "")
    assert "capture_frames" in err


def test_an_exchange_that_never_reached_dashscope_has_nothing_to_replay(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    path = tmp_path / "traffic.jsonl"
    proxy = traffic_proxy(TrafficLogSettings(path=str(path), capture_frames=True))
    response = ask(proxy, "Hi", messages="not a list")
    assert response.status_code == 400
    proxy.stop()
    (record,) = read_jsonl(path)
    code, out, err = run("replay", record["id"], "--path", str(path))
    assert (code, out) == (2, "")
    assert "nothing to replay" in err


def test_an_in_band_error_is_replayed_with_the_chunks_before_it(
    traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path
) -> None:
    path = tmp_path / "traffic.jsonl"
    proxy = traffic_proxy(
        TrafficLogSettings(path=str(path), capture_frames=True, capture_chunks=True)
    )
    response = ask(proxy, "Hi [sim:error_event_midstream]")
    assert response.status_code == 200
    assert b"DataInspectionFailed" in response.content
    proxy.stop()
    (record,) = read_jsonl(path)
    assert record["error"]["status"] == 400  # its own, though the exchange answered 200
    assert record["chunks"]
    code, out, _ = run("replay", record["id"], "--path", str(path))
    assert code == 0
    assert "the replay ended with the recorded error DataInspectionFailed (400)" in out
    record["error"]["message"] = "Something else."
    path.write_bytes(orjson.dumps(record) + b"\n")
    code, out, _ = run("replay", record["id"], "--path", str(path))
    assert code == 1
    assert 'error.message: "Something else." -> "Output data may contain' in out


# ---- answers that are no event stream: one mapping for the proxy and for replay --------------

NOT_STREAM = "upstream_not_an_event_stream"
NOT_A_STREAM = {
    "redirect": (REDIRECT, 502, "upstream_redirect"),
    "html_on_200": (reply(200, "text/html", b"<html>gateway</html>"), 502, NOT_STREAM),
    "json_error_on_200": (
        faulty_native_error(400, "InvalidParameter", "bad input").replace(b"400 Status", b"200 OK"),
        400,
        "InvalidParameter",
    ),
}


@pytest.mark.parametrize("answer", NOT_A_STREAM)
def test_replay_gives_the_error_an_answer_that_was_no_stream_became(
    faulty: Callable[..., FaultyUpstream], tmp_path: Path, answer: str
) -> None:
    sent, status, code = NOT_A_STREAM[answer]
    path = tmp_path / "traffic.jsonl"
    settings = replace(
        proxy_settings(faulty((Send(sent), Close())).url, api_key=SERVER_KEY, retries=0),
        traffic_log=TrafficLogSettings(path=str(path), capture_frames=True),
    )
    with BackgroundServer(create_app(settings)) as server:
        response = ask(server, "Hi")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    (record,) = read_jsonl(path)
    assert record["upstream_error"]["status"] == int(sent.split(b" ")[1])
    if answer == "redirect":
        assert record["upstream_error"]["location"] == "https://elsewhere.test/"
    exit_code, out, _ = run("replay", record["id"], "--path", str(path))
    assert (exit_code, out.split(":")[0]) == (0, "matches")
    record["upstream_error"]["status"] = 200 if answer == "redirect" else 302
    path.write_bytes(orjson.dumps(record) + b"\n")
    assert run("replay", record["id"], "--path", str(path))[0] == 1  # another answer differs
