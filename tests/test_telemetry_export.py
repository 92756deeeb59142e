"""Export over gRPC to a real grpcio receiver, and a collector that is down: requests are
served as ever, and what could not be sent is counted on /metrics."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from proxy.core.telemetry_settings import TelemetrySettings
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from tests.conftest import CLIENT_KEY, SERVER_KEY, proxy_settings
from tests.otlp_receiver import grpc_receiver, http_receiver
from tests.test_telemetry import CODE_FLAGS, MODEL, TRACEPARENT, chat, only

DROPPED = "dashscope_proxy_telemetry_dropped_total"


def serve_traced(simulator_url: str, telemetry: TelemetrySettings) -> tuple[BackgroundServer, Any]:
    settings = replace(proxy_settings(simulator_url, api_key=SERVER_KEY), telemetry=telemetry)
    app = create_app(settings)
    return BackgroundServer(app).start(), app


def post(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {CLIENT_KEY}", **headers}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_spans_and_metrics_reach_a_grpc_receiver(simulator_url: str) -> None:
    with grpc_receiver() as (endpoint, received):
        server, _ = serve_traced(
            simulator_url, TelemetrySettings(endpoint=endpoint, protocol="grpc")
        )
        try:
            response = post(server.url, {**chat("hi"), **CODE_FLAGS}, traceparent=TRACEPARENT)
            assert response.status_code == 200
        finally:
            server.stop()
        span = only(received.named(f"chat {MODEL}"))
        assert span.parent_span_id == TRACEPARENT.split("-")[2]
        assert span.attributes["gen_ai.provider.name"] == "dashscope"
        run = only(received.named("execute_tool code_interpreter"))
        assert run.parent_span_id == span.span_id
        assert only(received.named("POST")).parent_span_id == span.span_id
        assert "gen_ai.client.token.usage" in received.metrics


def test_a_dead_collector_costs_counted_drops_not_requests(
    simulator_url: str, closed_port_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A one-span queue and a short export timeout: the exporting thread is busy failing while
    # the next spans arrive, so some cannot be queued.
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    server, app = serve_traced(simulator_url, TelemetrySettings(endpoint=closed_port_url))
    try:
        for _ in range(5):
            response = post(server.url, {**chat("hi"), **CODE_FLAGS})
            assert response.status_code == 200
            assert "123" in response.text
    finally:
        server.stop()
    registry = app.state.metrics.registry

    def dropped(signal: str, reason: str) -> float:
        value = registry.get_sample_value(DROPPED, {"signal": signal, "reason": reason})
        return float(value or 0)

    assert dropped("spans", "queue_full") > 0
    assert dropped("spans", "export_failed") > 0
    assert dropped("metrics", "export_failed") > 0
    assert dropped("spans", "internal_error") == 0


def test_metrics_can_be_left_out_for_a_backend_that_takes_traces_only(
    simulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    with http_receiver() as (endpoint, received):
        server, _ = serve_traced(simulator_url, TelemetrySettings(endpoint=endpoint))
        try:
            assert post(server.url, chat("hi")).status_code == 200
        finally:
            server.stop()
        assert only(received.named(f"chat {MODEL}"))
        assert received.metrics == {}
