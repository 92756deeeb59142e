"""`logs export`: traffic records as JSON lines, CSV, a HAR 1.2 archive or curl commands (pure).

Each function takes the chosen records (oldest first) and returns the text to print. Nothing
here holds a key: the records were redacted on their way to disk, and the curl commands and
HAR entries name the proxy key only as `$DASHSCOPE_PROXY_KEY`, for the shell to fill in.
"""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from proxy import __version__
from proxy.inspect.query import (
    Record,
    code_runs,
    cost_of,
    key_label,
    started_at,
    status_of,
    text,
    timing,
    usage_of,
)
from proxy.traffic.apis import UnknownApi, api_of

FORMATS = ("jsonl", "csv", "har", "curl")
KEY_VARIABLE = "DASHSCOPE_PROXY_KEY"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
CSV_COLUMNS = (
    "id",
    "started_at",
    "endpoint",
    "model",
    "stream",
    "status",
    "outcome",
    "error_code",
    "error_message",
    "first_byte_ms",
    "total_ms",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "code_runs",
    "cost",
    "currency",
    "proxy_key",
    "upstream_request_id",
    "client_request_id",
    "notes",
)
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
_REASONS |= {404: "Not Found", 413: "Payload Too Large", 429: "Too Many Requests"}
_REASONS |= {499: "Client Closed Request", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout"}


def export(records: Sequence[Record], format: str, *, base_url: str = DEFAULT_BASE_URL) -> str:
    exporters: dict[str, Callable[[], str]] = {
        "jsonl": lambda: jsonl(records),
        "csv": lambda: csv_text(records),
        "har": lambda: har(records, base_url),
        "curl": lambda: curl(records, base_url),
    }
    return exporters[format]()


def jsonl(records: Sequence[Record]) -> str:
    return "".join(orjson.dumps(record).decode() + "\n" for record in records)


def iso_time(timestamp: float) -> str:
    """ISO 8601 in UTC with milliseconds, as HAR wants `startedDateTime`."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(record: Record) -> dict[str, Any]:
    error = record.get("error")
    return error if isinstance(error, dict) else {}


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_row(record: Record) -> list[str]:
    usage = usage_of(record)
    notes = record.get("notes")
    amount, currency = cost_of(record) or ("", "")
    values = (
        text(record.get("id")),
        iso_time(started_at(record)),
        text(record.get("endpoint")),
        text(record.get("model")),
        _cell(record.get("stream")).lower(),
        _cell(status_of(record)),
        text(record.get("outcome")),
        text(_error(record).get("code")),
        text(_error(record).get("message")),
        _cell(timing(record, "first_byte")),
        _cell(timing(record, "total")),
        _cell(usage.prompt),
        _cell(usage.completion),
        _cell(usage.reasoning),
        str(usage.runs),
        str(amount),
        currency,
        key_label(record),
        text(record.get("upstream_request_id")),
        text(record.get("client_request_id")),
        "; ".join(n for n in notes if isinstance(n, str)) if isinstance(notes, list) else "",
    )
    return list(values)


def csv_text(records: Sequence[Record]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(record) for record in records)
    return out.getvalue()


def _url(base_url: str, record: Record) -> str:
    return base_url.rstrip("/") + (text(record.get("endpoint")) or "/v1/chat/completions")


def curl_command(record: Record, base_url: str) -> str:
    """One exchange's request as a curl command, or a comment saying why there is none."""
    exchange_id = text(record.get("id"))
    head = (
        f"# {exchange_id} {iso_time(started_at(record))} {text(record.get('model')) or '-'} "
        f"-> {_cell(status_of(record))} {text(record.get('outcome'))}"
    )
    request = record.get("request")
    if request is None:
        return f"{head}\n# the request body was not recorded (it was not JSON)\n"
    body = orjson.dumps(request).decode()
    options = ["-sS", "-N"] if isinstance(request, dict) and request.get("stream") else ["-sS"]
    lines = [
        f"curl {' '.join(options)} -X POST {shlex.quote(_url(base_url, record))}",
        f'  -H "Authorization: Bearer ${KEY_VARIABLE}"',
        "  -H 'Content-Type: application/json'",
        f"  --data-raw {shlex.quote(body)}",
    ]
    return head + "\n" + " \\\n".join(lines) + "\n"


def curl(records: Sequence[Record], base_url: str) -> str:
    return "\n".join(curl_command(record, base_url) for record in records)


def _headers(pairs: Sequence[tuple[str, str | None]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs if value]


def _response_content(record: Record) -> dict[str, Any]:
    """What the client got: the captured chunks as the stream carried them, else the error
    body, else the answer as the record summarises it (said in `comment`)."""
    chunks = record.get("chunks")
    settings = record.get("translation")
    streamed = record.get("stream") and status_of(record) == 200  # else an error body came
    if isinstance(chunks, list) and isinstance(settings, dict) and streamed:
        try:
            api = api_of(settings)
        except UnknownApi:
            pass
        else:
            stream = b"".join(api.encode(chunk) for chunk in chunks)
            content = {"mimeType": "text/event-stream", "text": ""}
            if record.get("outcome") == "ok":
                stream += api.trailer
            elif record.get("outcome") == "error":
                content["comment"] = "the in-band error that ended the stream is not captured"
            content["text"] = stream.decode()
            return content
    error = _error(record)
    if error:
        body = {"error": {k: error.get(k) for k in ("message", "type", "code")} | {"param": None}}
        return {"mimeType": "application/json", "text": orjson.dumps(body).decode()}
    summary = {"response": record.get("response"), "usage": record.get("usage")}
    return {
        "mimeType": "application/json",
        "text": orjson.dumps(summary).decode(),
        "comment": "the answer as the traffic record summarises it (chunks were not captured)",
    }


def har_entry(record: Record, base_url: str) -> dict[str, Any]:
    request = record.get("request")
    body = "" if request is None else orjson.dumps(request).decode()
    status = status_of(record) or 0
    content = _response_content(record)
    content["size"] = len(content["text"].encode())
    total = timing(record, "total") or 0.0
    wait = min(timing(record, "first_byte") or total, total)
    request_id = text(record.get("upstream_request_id")) or None
    return {
        "startedDateTime": iso_time(started_at(record)),
        "time": total,
        "request": {
            "method": "POST",
            "url": _url(base_url, record),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(
                [
                    ("Authorization", f"Bearer ${KEY_VARIABLE}"),
                    ("Content-Type", "application/json"),
                    ("x-request-id", text(record.get("client_request_id")) or None),
                ]
            ),
            "queryString": [],
            "postData": {"mimeType": "application/json", "text": body},
            "headersSize": -1,
            "bodySize": len(body.encode()),
        },
        "response": {
            "status": status,
            "statusText": _REASONS.get(status, ""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(
                [
                    ("Content-Type", content["mimeType"]),
                    ("x-proxy-request-id", text(record.get("id"))),
                    ("x-request-id", request_id),
                ]
            ),
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": content["size"],
        },
        "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": round(total - wait, 3)},
        "comment": _comment(record),
    }


def _comment(record: Record) -> str:
    runs = code_runs(record)
    parts = [f"exchange {text(record.get('id'))}", f"outcome {text(record.get('outcome'))}"]
    if runs:
        parts.append(f"{len(runs)} code-interpreter run(s)")
    return ", ".join(parts)


def har(records: Sequence[Record], base_url: str) -> str:
    archive = {
        "log": {
            "version": "1.2",
            "creator": {"name": "dashscope-proxy", "version": __version__},
            "pages": [],
            "entries": [har_entry(record, base_url) for record in records],
        }
    }
    return orjson.dumps(archive, option=orjson.OPT_INDENT_2).decode() + "\n"
