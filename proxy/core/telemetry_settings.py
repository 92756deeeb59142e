"""The `[telemetry]` section: OpenTelemetry export of GenAI spans and metrics, as plain data.

Each key mirrors one of the standard variables the OpenTelemetry SDKs read, which override it
like every variable overrides the file (`OTEL_ENVIRONMENT`, merged into proxy/config.py's).
Export is off while no endpoint is set. Pure: proxy/server/telemetry.py does the exporting.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOLS = ("http/protobuf", "grpc")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SERVICE_NAME = "dashscope-proxy"


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    # The collector's base URL (http://host:4318 for HTTP, http://host:4317 for gRPC); "" is off.
    endpoint: str = ""
    protocol: str = "http/protobuf"  # or grpc
    service_name: str = DEFAULT_SERVICE_NAME
    resource_attributes: str = ""  # key=value,key=value, as in OTEL_RESOURCE_ATTRIBUTES
    sampler: str = "parentbased_always_on"  # one of SAMPLERS
    sampler_arg: float = 1.0  # the ratio of the *traceidratio samplers
    # Messages, answers and the interpreter's code on spans (redacted like the traffic log).
    capture_message_content: bool = False


# The standard variables and the key each one sets.
OTEL_ENVIRONMENT = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": ("telemetry", "endpoint"),
    "OTEL_EXPORTER_OTLP_PROTOCOL": ("telemetry", "protocol"),
    "OTEL_SERVICE_NAME": ("telemetry", "service_name"),
    "OTEL_RESOURCE_ATTRIBUTES": ("telemetry", "resource_attributes"),
    "OTEL_TRACES_SAMPLER": ("telemetry", "sampler"),
    "OTEL_TRACES_SAMPLER_ARG": ("telemetry", "sampler_arg"),
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": ("telemetry", "capture_message_content"),
}


def resource_attributes(text: str) -> dict[str, str]:
    """`key=value,key=value` as a mapping; a ValueError names an item without `=` or key."""
    attributes: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"{item.strip()!r} is not key=value")
        attributes[key.strip()] = value.strip()
    return attributes


def telemetry_problem(settings: TelemetrySettings) -> str | None:
    """What is wrong with the section, naming the key; None when nothing is."""
    if settings.endpoint and not settings.endpoint.startswith(("http://", "https://")):
        return f"endpoint must be an http:// or https:// URL, got {settings.endpoint!r}"
    if settings.protocol not in PROTOCOLS:
        return f"protocol must be one of {', '.join(PROTOCOLS)}, got {settings.protocol!r}"
    if settings.sampler not in SAMPLERS:
        return f"sampler must be one of {', '.join(SAMPLERS)}, got {settings.sampler!r}"
    if not 0 <= settings.sampler_arg <= 1:
        return f"sampler_arg must be between 0 and 1, got {settings.sampler_arg}"
    try:
        resource_attributes(settings.resource_attributes)
    except ValueError as exc:
        return f"resource_attributes: {exc}"
    return None
