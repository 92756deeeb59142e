"""A short run of the benchmark harness (tiny sizes, no LiteLLM), and its completeness checker.

Timing is not asserted here: figures belong in the benchmark. What is asserted is that the
harness runs end to end, every stream through the proxy arrives complete and in order, and
the checker does reject a stream that is not.
"""

import argparse
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import report
from bench.__main__ import PUBLISHED, destinations
from bench.client import Response
from bench.content import Shape, expected_content, native_frames
from bench.pipeline import response_bytes, run_once
from bench.verify import NATIVE, OPENAI, examine
from proxy.traffic.apis import CHAT, RESPONSES
from tests.conftest import once_per_run

ROOT = Path(__file__).resolve().parent.parent


def _run_smoke(directory: Path) -> dict[str, Any]:
    out, work = directory / "out", directory / "work"
    command = [
        sys.executable, "-m", "bench", "--profile", "smoke", "--no-litellm",
        "--out", str(out), "--work", str(work), "--docs", "",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = orjson.loads((out / "results.json").read_bytes())
    results["table"] = (out / "table.md").read_text()
    return results


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One benchmark run per pytest run, however many workers run these tests."""
    results: dict[str, Any] = once_per_run(tmp_path_factory, "bench-smoke", _run_smoke)
    return results


def test_every_proxy_stream_is_complete(smoke_run: dict[str, Any]) -> None:
    for level in smoke_run["latency"]["levels"]:
        for name, arm in level["arms"].items():
            assert arm["failed"] == 0, (name, arm["errors"])
            assert arm["ok"] == arm["requests"] > 0
            assert arm["ttfb_ms"]["p50"] > 0
    for name, arm in smoke_run["throughput"]["arms"].items():
        assert arm["failed"] == 0, (name, arm["errors"])
        assert arm["chunks_per_s"] > 0
    lost = next(t for t in smoke_run["derived"]["targets"] if t["target"].startswith("lost"))
    assert lost["met"] is True


def test_all_arms_measured_side_by_side(smoke_run: dict[str, Any]) -> None:
    first = smoke_run["latency"]["levels"][0]
    assert first["concurrency"] == 1
    assert {"direct", "relay", "proxy", "proxy-traffic-log", "direct-compatible"} <= set(
        first["arms"]
    )
    assert "skipped" in smoke_run["meta"]["litellm"]["status"]
    added = smoke_run["derived"]["added_latency"]
    assert {row["arm"] for row in added} >= {"proxy"}


def test_memory_and_scaling_reported(smoke_run: dict[str, Any]) -> None:
    memory = smoke_run["memory"]
    assert memory["open_at_sample"] == memory["streams"]
    assert memory["summary"]["failed"] == 0
    assert memory["rss_open_mb"] >= memory["rss_idle_mb"] > 0
    workers = smoke_run["scaling"]["workers"]
    assert set(workers) == {"1", "2"}
    assert all(arm["failed"] == 0 and arm["ok"] > 0 for arm in workers.values())


def _native_response(frames: list[bytes]) -> Response:
    body = b"".join(frames)
    response = Response(status=200, body=bytearray(body), sent=1.0, first_byte=1.001, done=1.01)
    response.reads = [(1.001, len(body))]
    return response


def test_checker_accepts_the_upstream_stream_as_generated() -> None:
    frames = native_frames(Shape(10, 24))
    outcome = examine(_native_response(frames), expected_content(10, 24), NATIVE, True)
    assert outcome.ok, outcome.error
    assert outcome.chunks == 10


@pytest.mark.parametrize("damage", ["drop", "swap", "repeat"])
def test_checker_rejects_lost_reordered_or_repeated_chunks(damage: str) -> None:
    frames = native_frames(Shape(10, 24))
    if damage == "drop":
        del frames[1]
    elif damage == "swap":
        frames[0], frames[1] = frames[1], frames[0]
    else:
        frames.insert(6, frames[5])
    outcome = examine(_native_response(frames), expected_content(10, 24), NATIVE, True)
    assert not outcome.ok


def test_checker_wants_the_code_as_one_tool_call() -> None:
    expected = expected_content(6, 8)
    chunk = {"choices": [{"delta": {"reasoning_content": expected.reasoning}}]}
    answer = {"choices": [{"delta": {"content": expected.answer}, "finish_reason": "stop"}]}
    body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in (chunk, answer))
    body += b"data: [DONE]\n\n"
    response = Response(status=200, body=bytearray(body), sent=1.0, first_byte=1.001, done=1.01)
    response.reads = [(1.001, len(body))]
    assert examine(response, expected, OPENAI, expect_code=False).ok
    assert not examine(response, expected, OPENAI, expect_code=True).ok


def test_the_run_says_whether_it_is_a_reference(smoke_run: dict[str, Any]) -> None:
    noise = smoke_run["meta"]["machine_noise"]
    assert isinstance(smoke_run["noisy"], bool)
    assert smoke_run["noisy"] == (noise["other_cpu_share"] > noise["noisy_above_share"])
    assert isinstance(noise["other_cpu_share_per_s"], list)
    head = smoke_run["table"].splitlines()
    if smoke_run["noisy"]:
        assert "NOISY RUN: not a reference" in head[0]
    assert any(line.startswith("Run `smoke`") for line in head[:3])


def test_every_target_names_its_two_figures(smoke_run: dict[str, Any]) -> None:
    found = {t["target"]: t for t in smoke_run["derived"]["targets"]}
    for target in found.values():
        assert target["status"] in {"met", "missed", "not measured", "reported"}
        assert (target["met"] is None) == (target["status"] in {"not measured", "reported"})
        assert target["reached"] in smoke_run["table"]
    issue = [t for t in found.values() if not t["extra"]]
    assert len(issue) == 6
    assert all(len(t["figures"]) == 2 for t in issue)
    # The smoke run has no LiteLLM: its ratios are not measured, never passed.
    litellm = [t for t in issue if "LiteLLM" in t["target"]]
    assert len(litellm) == 2
    assert all(t["status"] == "not measured" and t["met"] is None for t in litellm)
    wide = found["proxy added TTFB p99 at c=256 / the stream's length"]
    assert wide["status"] in {"met", "missed"}
    assert " / " in wide["reached"]
    assert " = " in wide["reached"]


def test_cpu_per_request_for_every_arm(smoke_run: dict[str, Any]) -> None:
    for level in smoke_run["latency"]["levels"]:
        for name, arm in level["arms"].items():
            for key in ("arm_cpu", "upstream_cpu", "loadgen_cpu", "arm_waited_for_cpu"):
                assert arm[f"{key}_ms_per_request"] >= 0, (level["concurrency"], name, key)
            assert arm["arm_process"] == ("simulator" if name.startswith("direct") else name)
    for name, arm in smoke_run["throughput"]["arms"].items():
        for key in ("arm_cpu_seconds", "upstream_cpu_seconds", "loadgen_cpu_seconds"):
            assert arm[key] >= 0, (name, key)


def test_the_level_past_the_default_pool_has_a_larger_pool(smoke_run: dict[str, Any]) -> None:
    wide = [level for level in smoke_run["latency"]["levels"] if level["concurrency"] == 256]
    assert len(wide) == 1
    assert wide[0]["proxy_config"] == {"upstream.max_connections": "300"}
    assert (
        "At c=256 the proxy is one started with `[upstream] max_connections = 300`"
        in (smoke_run["table"])
    )


def test_the_report_draws_results_older_than_its_fields(smoke_run: dict[str, Any]) -> None:
    old = copy.deepcopy(smoke_run)
    for key in ("noisy", "derived", "table"):
        old.pop(key)
    old["meta"].pop("machine_noise")
    for level in old["latency"]["levels"]:
        level.pop("proxy_config", None)
        for arm in level["arms"].values():
            for key in [
                k for k in arm if k.endswith("_per_request") or k in ("cpu", "arm_process")
            ]:
                del arm[key]
    derived = report.derive(old)
    assert derived["noisy"] is None
    table = report.markdown(old, derived)
    assert "NOISY" not in table
    assert "was not recorded" in table


def test_a_noisy_run_is_kept_from_the_published_results(tmp_path: Path) -> None:
    docs = tmp_path / "docs.md"

    def args(allow_noisy: bool) -> argparse.Namespace:
        return argparse.Namespace(
            out=PUBLISHED, work=tmp_path, docs=str(docs), allow_noisy=allow_noisy
        )

    assert destinations(args(False), noisy=False) == (PUBLISHED.resolve(), docs, False)
    assert destinations(args(False), noisy=True) == (tmp_path / "noisy-results", None, True)
    assert destinations(args(True), noisy=True) == (PUBLISHED.resolve(), docs, False)


def test_the_pipeline_tool_runs_every_frame_through_the_translation() -> None:
    raw = response_bytes(12, 16)
    for api in (CHAT, RESPONSES):
        # Any read size gives every frame and the same answer bytes.
        results = {run_once(api, raw, size) for size in (7, 100, len(raw))}
        assert len(results) == 1
        [(frames, written)] = results
        assert frames == 12
        assert written > 12 * 16


def test_the_bench_explains_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "--allow-noisy" in done.stdout
    assert "10 % of the CPU" in " ".join(done.stdout.split())


def test_each_round_is_recorded_and_only_kept_rounds_are_counted(
    smoke_run: dict[str, Any],
) -> None:
    """A round the hypervisor took too much from is run again; its samples are not counted."""
    settings = smoke_run["meta"]["profile_settings"]["levels"]
    for level, sizes in zip(smoke_run["latency"]["levels"], settings, strict=True):
        for name, arm in level["arms"].items():
            kept = [r for r in arm["rounds"] if not r["discarded"]]
            assert [r["round"] for r in kept] == list(range(sizes["rounds"])), name
            assert sum(r["ttfb_ms"]["n"] for r in kept) == arm["ttfb_ms"]["n"] == arm["ok"]
            for figures in arm["rounds"]:
                assert figures["steal_share"] is None or 0 <= figures["steal_share"] <= 1
            assert "Rounds run again because the hypervisor took" in smoke_run["table"]
