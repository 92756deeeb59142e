"""The GenAI semantic-convention attributes of one finished exchange (no OpenTelemetry import).

Everything here is read from the exchange's `FinishedExchange`, the record the traffic log,
metrics and the app log share, so the spans cannot tell another story than the log.
Attribute names follow the OpenTelemetry GenAI conventions (gen-ai-spans, gen-ai-metrics);
the conventions register no provider value for DashScope, so it is `dashscope`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from proxy.traffic.record import FinishedExchange

Attributes = dict[str, Any]  # OpenTelemetry attribute values: str, bool, int, float, lists

PROVIDER = "dashscope"
OPERATION = "chat"
TOOL_NAME = "code_interpreter"

# Request fields of either client API -> the convention's attribute and the value's type.
_PARAMETERS: tuple[tuple[str, str, type], ...] = (
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("top_k", "gen_ai.request.top_k", float),
    ("max_tokens", "gen_ai.request.max_tokens", int),
    ("max_completion_tokens", "gen_ai.request.max_tokens", int),
    ("max_output_tokens", "gen_ai.request.max_tokens", int),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
    ("seed", "gen_ai.request.seed", int),
)


def server_of(url: str) -> Attributes:
    """`server.address` and `server.port` of the upstream base URL."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname or "", "server.port": port}


def error_type(finished: FinishedExchange) -> str | None:
    """A short, bounded class of how the exchange failed: DashScope's or the proxy's code."""
    if finished.error is not None:
        return finished.error.code or finished.error.type
    return "cancelled" if finished.outcome == "cancelled" else None


def request_model(finished: FinishedExchange) -> str | None:
    return finished.model


def response_model(finished: FinishedExchange) -> str | None:
    """The model DashScope was asked for (its stream does not name the one that answered)."""
    upstream = finished.upstream_request
    body = upstream["body"] if upstream else None
    model = body.get("model") if isinstance(body, Mapping) else None
    return model if isinstance(model, str) else None


def exchange_attributes(finished: FinishedExchange, server: Attributes) -> Attributes:
    """The chat span's attributes, content aside."""
    attributes: Attributes = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": PROVIDER,
        **server,
        "dashscope_proxy.exchange_id": finished.id,
        "dashscope_proxy.outcome": finished.outcome,
        "dashscope_proxy.status": finished.status,  # what the proxy answered the client
    }
    _put(attributes, "gen_ai.request.model", request_model(finished))
    _put(attributes, "gen_ai.request.stream", finished.stream)
    attributes.update(request_parameters(finished.request))
    attributes.update(response_attributes(finished))
    _put(attributes, "error.type", error_type(finished))
    return attributes


def request_parameters(request: object) -> Attributes:
    if not isinstance(request, Mapping):
        return {}
    found: Attributes = {}
    for field, name, kind in _PARAMETERS:
        value = request.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = kind(value)
    stop = request.get("stop")
    if isinstance(stop, str):
        found["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        found["gen_ai.request.stop_sequences"] = list(stop)
    choices = request.get("n")
    if isinstance(choices, int) and not isinstance(choices, bool) and choices != 1:
        found["gen_ai.request.choice.count"] = choices
    return found


def response_attributes(finished: FinishedExchange) -> Attributes:
    summary = finished.summary
    attributes: Attributes = {}
    translation = finished.translation or {}
    _put(
        attributes,
        "gen_ai.response.id",
        translation.get("chunk_id") or translation.get("response_id"),
    )
    _put(attributes, "gen_ai.response.model", response_model(finished))
    _put(attributes, "dashscope.request_id", finished.upstream_request_id)
    reasons = [c.finish_reason for c in summary.choices if c.finish_reason is not None]
    if reasons:
        attributes["gen_ai.response.finish_reasons"] = reasons
    first = finished.timings["upstream_first_frame"]
    if first is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = first / 1000
    usage = summary.usage
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
        _put(attributes, "gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens)
        _put(attributes, "gen_ai.usage.cache_read.input_tokens", usage.cached_tokens)
        _put(attributes, "gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens)
    return attributes


def tool_attributes(run: int) -> Attributes:
    """An interpreter run's span, its code aside (that is content)."""
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": TOOL_NAME,
        # Run by DashScope itself, not by the client: the conventions' "extension".
        "gen_ai.tool.type": "extension",
        "dashscope_proxy.code_run": run,
    }


def upstream_attributes(finished: FinishedExchange, url: str, server: Attributes) -> Attributes:
    """The HTTP client span of the call to DashScope (HTTP semantic conventions)."""
    upstream = finished.upstream_request
    path = upstream["path"] if upstream else ""
    attributes: Attributes = {
        "http.request.method": "POST",
        "url.full": url.rstrip("/") + path,
        **server,
    }
    if finished.timings["upstream_first_frame"] is not None:
        attributes["http.response.status_code"] = 200  # a frame came: the stream was open
    _put(attributes, "error.type", error_type(finished))
    return attributes


def metric_attributes(finished: FinishedExchange, model: str, server: Attributes) -> Attributes:
    """What every GenAI metric point of the exchange carries (`model`: a bounded label)."""
    attributes: Attributes = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.request.model": model,
        **server,
    }
    if model and model == request_model(finished):
        _put(attributes, "gen_ai.response.model", response_model(finished))
    return attributes


def _put(attributes: Attributes, name: str, value: object) -> None:
    if value is not None and value != "":
        attributes[name] = value
