"""`logs export --format jsonl|csv|har|curl` over a log a real proxy wrote (issue 14).

The HAR is read as JSON and checked against HAR 1.2's required fields; the CSV is read with the
csv module; the curl commands are run for real, with `curl`, against the proxy that served the
exchanges (in front of the simulator), and must get the same answer back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.config import TrafficLogSettings
from proxy.inspect.export import CSV_COLUMNS, har_entry
from tests.conftest import TrafficProxy, read_jsonl
from tests.sse_reader import read_events
from tests.test_logs_cli import CI_ID, T0, code_interpreter_record, run

MODEL = "qwen3-max-preview"
CLIENT_KEY = "sk-fake-client-key-for-export"
ASKED = {  # a word only its question holds (to --grep for): the question, whether it streams
    "zanzibar": ("zanzibar [sim:plain_text]", True),
    "quokka": ("quokka [sim:plain_text]", False),
    "interpreter": ("interpreter: what is 123 to the power of 21?", True),
    "walrus": ("walrus [sim:error_429]", False),
}


@pytest.fixture
def served(traffic_proxy: Callable[..., TrafficProxy], tmp_path: Path) -> tuple[TrafficProxy, Path]:
    """A proxy that served one exchange per ASKED entry, with its log written."""
    path = tmp_path / "traffic.jsonl"
    proxy = traffic_proxy(
        TrafficLogSettings(path=str(path), capture_frames=True, capture_chunks=True)
    )
    for question, stream in ASKED.values():
        flags = {"enable_code_interpreter": True} if "interpreter" in question else {}
        httpx.post(
            f"{proxy.url}/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": question}],
                "stream": stream,
                **flags,
            },
            headers={"authorization": f"Bearer {CLIENT_KEY}"},
            timeout=30,
        )
    deadline = time.monotonic() + 10
    while proxy.writer.written < len(ASKED):
        assert time.monotonic() < deadline, "the records were not written"
        time.sleep(0.01)
    return proxy, path


def export(path: Path, *argv: str) -> str:
    code, out, err = run("export", "--path", str(path), *argv)
    assert (code, err) == (0, "")
    assert CLIENT_KEY not in out
    return out


def test_jsonl_is_the_matching_records_oldest_first(served: tuple[TrafficProxy, Path]) -> None:
    _, path = served
    records = read_jsonl(path)
    out = export(path, "--format", "jsonl")
    assert [json.loads(line) for line in out.splitlines()] == records
    errors = export(path, "--format", "jsonl", "--errors")
    assert [json.loads(line)["status"] for line in errors.splitlines()] == [429]


def test_csv_is_read_by_the_csv_module(served: tuple[TrafficProxy, Path]) -> None:
    _, path = served
    records = read_jsonl(path)
    rows = list(csv.DictReader(io.StringIO(export(path, "--format", "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["id"] for row in rows] == [record["id"] for record in records]
    by_id = {row["id"]: row for row in rows}
    for record in records:
        row = by_id[record["id"]]
        assert int(row["status"]) == record["status"]
        assert row["model"] == MODEL
        usage = record["usage"] or {}
        assert row["prompt_tokens"] == str(usage.get("prompt_tokens", ""))
    refused = next(row for row in rows if row["status"] == "429")
    assert refused["error_code"] == "Throttling.RateQuota"
    assert refused["stream"] == "false"
    interpreter = next(row for row in rows if row["code_runs"] == "1")
    assert interpreter["outcome"] == "ok"


def test_har_holds_what_har_1_2_requires(served: tuple[TrafficProxy, Path]) -> None:
    _, path = served
    records = read_jsonl(path)
    har = json.loads(export(path, "--format", "har", "--base-url", "https://proxy.example"))
    log = har["log"]
    assert log["version"] == "1.2"
    assert {"name", "version"} <= set(log["creator"])
    assert len(log["entries"]) == len(records)
    for entry, record in zip(log["entries"], records, strict=True):
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(entry)
        assert entry["startedDateTime"].endswith("Z")
        request, response = entry["request"], entry["response"]
        for field in ("method", "url", "httpVersion", "cookies", "headers", "queryString"):
            assert field in request
        assert request["headersSize"] == -1
        assert request["bodySize"] > 0
        assert request["url"] == "https://proxy.example/v1/chat/completions"
        assert json.loads(request["postData"]["text"]) == record["request"]
        for field in ("status", "statusText", "httpVersion", "cookies", "headers", "redirectURL"):
            assert field in response
        assert response["status"] == record["status"]
        content = response["content"]
        assert content["size"] == len(content["text"].encode())
        assert {"mimeType", "text"} <= set(content)
        timings = entry["timings"]
        assert all(timings[name] >= 0 for name in ("send", "wait", "receive"))
        assert timings["send"] + timings["wait"] + timings["receive"] == pytest.approx(
            entry["time"], abs=0.01
        )
        for header in request["headers"]:
            assert set(header) == {"name", "value"}
            if header["name"] == "Authorization":
                assert header["value"] == "Bearer $DASHSCOPE_PROXY_KEY"
    streamed = next(e for e in log["entries"] if "zanzibar" in e["request"]["postData"]["text"])
    assert streamed["response"]["content"]["mimeType"] == "text/event-stream"
    assert streamed["response"]["content"]["text"].endswith("data: [DONE]\n\n")


def curl_answer(proxy: TrafficProxy, path: Path, word: str) -> str:
    """Export the exchange that asked `word` as curl, run it against the proxy, its output."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (Debian: apt-get install curl)")
    script = export(path, "--format", "curl", "--grep", word, "--base-url", proxy.url)
    assert script.count("\ncurl ") == 1
    assert "$DASHSCOPE_PROXY_KEY" in script
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "DASHSCOPE_PROXY_KEY": CLIENT_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def answer_of(record: dict[str, Any]) -> str:
    content: str = record["response"]["choices"][0]["message"]["content"]
    return content


def test_a_curl_command_asks_again_and_gets_the_same_answer(
    served: tuple[TrafficProxy, Path],
) -> None:
    proxy, path = served
    records = {r["request"]["messages"][0]["content"]: r for r in read_jsonl(path)}
    folded = json.loads(curl_answer(proxy, path, "quokka"))
    assert folded["choices"][0]["message"]["content"] == answer_of(records[ASKED["quokka"][0]])
    events = read_events(curl_answer(proxy, path, "zanzibar").encode())
    chunks = [json.loads(e.data) for e in events if e.data != "[DONE]"]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert streamed == answer_of(records[ASKED["zanzibar"][0]])
    refused = json.loads(curl_answer(proxy, path, "walrus"))
    assert refused["error"]["code"] == "Throttling.RateQuota"


def test_har_shows_the_body_the_client_got_whatever_the_stream_flag() -> None:
    record = code_interpreter_record(CI_ID, T0)
    ok = har_entry(record, "http://proxy")["response"]["content"]
    assert ok["mimeType"] == "text/event-stream"
    assert ok["text"].endswith("data: [DONE]\n\n")
    error = {"type": "requests", "code": "Throttling", "message": "Wait.", "status": 429}
    refused = {**record, "status": 429, "outcome": "error", "chunks": [], "error": error}
    content = har_entry(refused, "http://proxy")["response"]["content"]
    assert content["mimeType"] == "application/json"  # a refusal is a JSON body, not a stream
    assert json.loads(content["text"])["error"]["code"] == "Throttling"
    cut = {**record, "outcome": "error", "error": error}
    content = har_entry(cut, "http://proxy")["response"]["content"]
    assert not content["text"].endswith("data: [DONE]\n\n")
    assert "in-band error" in content["comment"]
