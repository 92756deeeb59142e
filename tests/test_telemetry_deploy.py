"""deploy/otel/: the Compose example with an OpenTelemetry Collector and Jaeger, checked offline
like the other deploy files (tests/test_deploy.py checks its Compose file against the
specification): here, what no schema sees: the collector's pipelines, and the proxy's
variables pointing at the collector."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from proxy.config import load_settings
from tests.test_deploy import DEPLOY

OTEL = DEPLOY / "otel"
COMPOSE = OTEL / "compose.yaml"
COLLECTOR = OTEL / "collector.yaml"
PORTS = {"grpc": 4317, "http/protobuf": 4318}  # the OTLP ports, by protocol


def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return services


def collector() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COLLECTOR.read_text(encoding="utf-8"))
    return config


def test_every_pipeline_component_is_defined_and_every_defined_one_used() -> None:
    config = collector()
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipeline in config["service"]["pipelines"].items():
        assert name.split("/")[0] in {"traces", "metrics", "logs"}, name
        for kind, names in pipeline.items():
            assert set(names) <= set(config[kind]), f"{name} uses undefined {kind}: {names}"
            used[kind] |= set(names)
    for kind, names in used.items():
        assert names == set(config[kind]), f"{kind} defined but unused"
    assert {"traces", "metrics"} <= set(config["service"]["pipelines"])


def test_the_collector_takes_otlp_on_both_protocols_and_sends_traces_to_jaeger() -> None:
    config, services = collector(), compose()
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    (jaeger,) = [config["exporters"][name] for name in exporters if name.startswith("otlp")]
    host, port = jaeger["endpoint"].split(":")
    assert host in services
    assert services[host]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert int(port) == PORTS["grpc"]
    mounted = services["otel-collector"]["volumes"][0].split(":")
    assert (OTEL / mounted[0]).resolve() == COLLECTOR.resolve()
    assert services["otel-collector"]["command"] == [f"--config={mounted[1]}"]


def test_the_proxy_variables_are_valid_settings_aimed_at_the_collector() -> None:
    services = compose()
    environment = services["dashscope-proxy"]["environment"]
    telemetry = load_settings(env=environment).telemetry
    url = urlsplit(telemetry.endpoint)
    assert url.hostname in services
    assert url.hostname == "otel-collector"
    assert url.port == PORTS[telemetry.protocol]
    assert telemetry.capture_message_content is False


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in compose().items():
        image = service["image"]
        assert ":" in image, f"{name}: {image}"
        assert not image.endswith(":latest"), f"{name}: {image}"
