"""What operators see: `/metrics` in Prometheus format, and one JSON app-log line per request."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.config import AuthSettings, ServerSettings
from proxy.server.applog import JSONFormatter
from tests.conftest import CLIENT_KEY, SERVER_KEY, RunningProxy

SECRET_PROMPT = "purple-elephant-7731: what is 123 to the power of 21?"
CODE_RUN = {
    "model": "qwen3-max",
    "messages": [{"role": "user", "content": SECRET_PROMPT}],
    "stream": True,
    "enable_code_interpreter": True,
    "enable_thinking": True,
}
RATE_LIMITED = {"model": "qwen3-max", "messages": [{"role": "user", "content": "[sim:error_429]"}]}
CHAT = "/v1/chat/completions"


class Samples:
    def __init__(self, text: str) -> None:
        self.rows = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def names(self) -> set[str]:
        return {name for name, _, _ in self.rows}

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels`."""
        matching = [v for n, ls, v in self.rows if n == name and labels.items() <= ls.items()]
        assert matching, f"no sample {name} {labels}"
        return sum(matching)


@pytest.fixture
def traffic(
    simulator_url: str, proxy_app: Callable[..., RunningProxy], caplog: pytest.LogCaptureFixture
) -> tuple[RunningProxy, Samples]:
    """A code-interpreter stream, a rate-limited request (retried twice) and a models call."""
    caplog.set_level(logging.INFO, logger="proxy.requests")
    proxy = proxy_app(simulator_url, retry_max_wait=0.01)
    with httpx.Client(
        base_url=proxy.url, headers={"authorization": f"Bearer {CLIENT_KEY}"}
    ) as http:
        streamed = http.post(CHAT, json=CODE_RUN)
        assert streamed.status_code == 200
        assert streamed.content.endswith(b"data: [DONE]\n\n")
        assert http.post(CHAT, json=RATE_LIMITED).status_code == 429
        assert http.get("/v1/models").status_code == 200
        metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    return proxy, Samples(metrics.text)


def test_metrics_after_a_stream_an_error_and_a_models_call(
    traffic: tuple[RunningProxy, Samples],
) -> None:
    _, metrics = traffic
    requests = "dashscope_proxy_requests_total"
    assert metrics.value(requests, route=CHAT, model="qwen3-max", status="200") == 1
    assert metrics.value(requests, route=CHAT, model="qwen3-max", status="429") == 1
    assert metrics.value("dashscope_proxy_time_to_first_byte_seconds_count", model="qwen3-max") == 1
    assert metrics.value("dashscope_proxy_request_duration_seconds_count", model="qwen3-max") == 2
    assert metrics.value("dashscope_proxy_request_duration_seconds_sum", model="qwen3-max") > 0
    assert metrics.value("dashscope_proxy_active_streams") == 0
    errors = "dashscope_proxy_upstream_errors_total"
    assert metrics.value(errors, code="Throttling.RateQuota") == 1
    assert metrics.value(errors) == 1
    assert metrics.value("dashscope_proxy_upstream_retries_total") == 2
    tokens = "dashscope_proxy_tokens_total"
    assert metrics.value(tokens, model="qwen3-max", kind="prompt") == 734
    assert metrics.value(tokens, model="qwen3-max", kind="completion") == 263
    assert metrics.value(tokens, model="qwen3-max", kind="reasoning") == 171
    runs = "dashscope_proxy_code_interpreter_runs_total"
    assert metrics.value(runs, model="qwen3-max") == 1
    assert metrics.value("dashscope_proxy_traffic_records_dropped") == 0


def test_histogram_buckets_are_cumulative_up_to_inf(traffic: tuple[RunningProxy, Samples]) -> None:
    _, metrics = traffic
    name = "dashscope_proxy_request_duration_seconds_bucket"
    buckets = sorted((float(labels["le"]), value) for n, labels, value in metrics.rows if n == name)
    counts = [value for _, value in buckets]
    assert counts == sorted(counts)
    assert buckets[-1] == (float("inf"), 2)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The request lines logged while the `traffic` fixture ran (the setup phase)."""
    return [r for r in caplog.get_records("setup") if r.name == "proxy.requests"]


def test_one_json_log_line_per_chat_request(
    traffic: tuple[RunningProxy, Samples], caplog: pytest.LogCaptureFixture
) -> None:
    formatter = JSONFormatter()
    lines = [formatter.format(record) for record in request_lines(caplog)]
    parsed: list[dict[str, Any]] = [orjson.loads(line) for line in lines]
    assert [(p["status"], p["outcome"], p["stream"]) for p in parsed[:2]] == [
        (200, "ok", True),
        (429, "error", False),
    ]
    ok, limited = parsed[:2]
    for fields in parsed[:2]:
        assert fields["level"] == "info"
        assert fields["message"] == "request"
        assert len(fields["id"]) == 32
        assert fields["endpoint"] == CHAT
        assert fields["model"] == "qwen3-max"
        assert isinstance(fields["total_ms"], float)
    assert ok["first_byte_ms"] <= ok["total_ms"]
    assert (ok["prompt_tokens"], ok["completion_tokens"]) == (734, 263)
    # qwen3-max in China (Beijing): 734 input tokens at CNY 2.5, 263 output at 10 per million.
    assert (ok["cost"], ok["currency"], ok["proxy_key"]) == ("0.004465", "CNY", None)
    assert (limited["cost"], limited["currency"]) == (None, None)
    assert ok["upstream_request_id"]
    assert limited["error_code"] == "Throttling.RateQuota"
    assert limited["first_byte_ms"] is None
    for line in lines:
        assert "\n" not in line
        assert "purple-elephant" not in line
        assert SERVER_KEY not in line
        assert CLIENT_KEY not in line


def test_an_exception_is_kept_in_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("proxy", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    line = orjson.loads(JSONFormatter().format(record))
    assert line["level"] == "error"
    assert "ValueError: boom" in line["exception"]


# Regression: only chat exchanges used to reach the metrics and the app log, although
# docs/operations.md lists the model routes too.
def test_model_routes_are_counted_and_logged(
    traffic: tuple[RunningProxy, Samples], caplog: pytest.LogCaptureFixture
) -> None:
    _, metrics = traffic
    assert "/v1/models" in {labels.get("route") for _, labels, _ in metrics.rows}
    assert len(request_lines(caplog)) == 3


def test_every_response_is_counted_once_with_bounded_labels(
    simulator_url: str, proxy_app: Callable[..., RunningProxy], caplog: pytest.LogCaptureFixture
) -> None:
    """Refusals before an exchange starts (401, 413), unknown paths and client-chosen model
    names are counted like answers, under route templates and served model names only."""
    caplog.set_level(logging.INFO, logger="proxy.requests")
    proxy = proxy_app(
        simulator_url,
        server=ServerSettings(max_body_bytes=2000),
        auth=AuthSettings(proxy_keys=(CLIENT_KEY,)),
    )
    long_name = "sk-" + "x" * 3000
    with httpx.Client(base_url=proxy.url) as http:
        assert http.post(CHAT, json=RATE_LIMITED).status_code == 401  # no proxy key
        http.headers["authorization"] = f"Bearer {CLIENT_KEY}"
        assert http.post(CHAT, content=b"{" + b" " * 3000 + b"}").status_code == 413
        assert http.get("/v1/nowhere/" + "y" * 500).status_code == 404
        assert http.get(f"/v1/models/{long_name}").status_code == 404
        pasted = "sk-" + "fakepasted0123456789 qwen-" + "z" * 500
        unknown = {"model": pasted, "messages": [{"role": "user", "content": "hi"}]}
        assert http.post(CHAT, json=unknown).status_code == 200
        metrics = Samples(http.get("/metrics").text)
    requests = "dashscope_proxy_requests_total"
    assert metrics.value(requests, route=CHAT, status="401") == 1
    assert metrics.value(requests, route=CHAT, status="413") == 1
    assert metrics.value(requests, route="other", status="404") == 1
    assert metrics.value(requests, route="/v1/models/{model_id:path}", status="404") == 1
    assert metrics.value(requests, route=CHAT, model="other", status="200") == 1
    labels = {value for _, ls, _ in metrics.rows for value in ls.values()}
    assert max(len(value) for value in labels) < 64, "a client-chosen text became a label"
    assert not any("sk-" in value for value in labels)
    logged = [str(r.__dict__.get("model")) for r in caplog.records if r.name == "proxy.requests"]
    assert not any("sk-" + "fakepasted0123456789" in line or "z" * 200 in line for line in logged)
    assert "[redacted] qwen-zzz" in " ".join(logged)
    assert max(len(line) for line in logged) < 200
    statuses = [int(r.__dict__["status"]) for r in caplog.records if r.name == "proxy.requests"]
    assert sorted(statuses) == [200, 401, 404, 404, 413]
