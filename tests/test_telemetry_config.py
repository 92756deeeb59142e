"""The [telemetry] section and its standard variables, and the run times spans are built from."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from proxy.config import ConfigError, Settings, load_settings, settings_from_mapping
from proxy.core.events import CodeDelta, CodeDone, ContentDelta
from proxy.core.summary import SummaryBuilder
from proxy.core.telemetry_settings import TelemetrySettings, resource_attributes
from proxy.server.app import create_app


def test_telemetry_is_off_by_default_and_the_standard_variables_set_it() -> None:
    assert load_settings().telemetry == TelemetrySettings()
    assert TelemetrySettings().endpoint == ""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_SERVICE_NAME": "proxy-eu",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=ml",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    assert load_settings(env=env).telemetry == TelemetrySettings(
        endpoint="http://collector:4317",
        protocol="grpc",
        service_name="proxy-eu",
        resource_attributes="deployment.environment=prod,team=ml",
        sampler="parentbased_traceidratio",
        sampler_arg=0.25,
        capture_message_content=True,
    )


def test_a_variable_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[telemetry]\nendpoint = "http://a:4318"\nservice_name = "file"\n')
    settings = load_settings(config, {"OTEL_SERVICE_NAME": "env"})
    assert (settings.telemetry.endpoint, settings.telemetry.service_name) == (
        "http://a:4318",
        "env",
    )


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"endpoint": "collector:4317"}, "endpoint must be an http:// or https:// URL"),
        ({"protocol": "http/json"}, "protocol must be one of http/protobuf, grpc"),
        ({"sampler": "sometimes"}, "sampler must be one of"),
        ({"sampler_arg": 1.5}, "sampler_arg must be between 0 and 1"),
        ({"resource_attributes": "team"}, "resource_attributes: 'team' is not key=value"),
        ({"resource_attributes": "=x"}, "resource_attributes: '=x' is not key=value"),
        ({"capture_message_content": "SPAN_ONLY"}, "capture_message_content must be"),
    ],
)
def test_an_invalid_telemetry_key_is_named(values: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=r"\[telemetry\] ") as raised:
        settings_from_mapping({"telemetry": values})
    assert named in str(raised.value)


def test_resource_attributes_read_like_the_standard_variable() -> None:
    assert resource_attributes(" a = 1 ,, b=two=2 ,") == {"a": "1", "b": "two=2"}
    assert resource_attributes("") == {}


def test_the_summary_times_each_run_by_the_clock_it_is_given() -> None:
    moments = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    builder = SummaryBuilder(clock=lambda: next(moments))
    builder.add(CodeDelta(0, 0, "1+"))  # 1.0
    builder.add(CodeDelta(0, 0, "1"))  # 2.0: the code went to the interpreter then
    builder.add(CodeDone(0, 0, "1+1"))  # 3.0: the model went on
    builder.add(CodeDone(0, 1, ""))  # 4.0: a run that settled without growing
    builder.add(CodeDelta(0, 2, "x"))  # 5.0, never settled
    builder.add(ContentDelta(0, "2"))
    summary = builder.summary()
    assert summary.code_runs == ("1+1", "", "x")
    assert summary.run_times == ((2.0, 3.0), (4.0, 4.0), (5.0, None))


def test_without_a_clock_no_run_is_timed() -> None:
    builder = SummaryBuilder()
    builder.add(CodeDelta(0, 0, "1"))
    builder.add(CodeDone(0, 0, "1"))
    assert builder.summary().run_times == ()


def test_a_proxy_without_an_endpoint_never_imports_the_sdk() -> None:
    script = (
        "import sys\n"
        "from proxy.config import Settings\n"
        "from proxy.server.app import create_app\n"
        "create_app(Settings())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'grpc'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_standard_switch_turns_every_sdk_off(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = replace(Settings(), telemetry=TelemetrySettings(endpoint="http://127.0.0.1:4318"))
    telemetry = create_app(settings).state.telemetry
    assert telemetry is not None
    telemetry.shutdown()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert create_app(settings).state.telemetry is None
