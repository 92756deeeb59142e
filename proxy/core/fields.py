"""What a request field table row is, and the rows both client APIs share (sans-I/O).

Each client API has its table (`proxy/chat/fields.py`, `proxy/responses/fields.py`); each table
drives its request translator (types and treatment) and is rendered into `docs/fields.md`, so
the documentation cannot drift from the code. Treatments:

- `passed`: sent in `parameters` under the same name, unchanged.
- `converted`: sent with the same meaning in DashScope's form (the table says which form);
  nothing changes, so there is nothing to report.
- `mapped`: the proxy decides what DashScope gets (the table says how); whenever that is not
  what the request says, the `x-dashscope-proxy-notes` response header says what was sent.
- `proxy`: handled by the proxy itself.
- `reported`: DashScope cannot express it: dropped, and named in the notes header, whose notes
  are separated by "; ", so the text of a reported field never holds one.
- `refused`: a 400 that says why.

The DashScope rows below are the same for both APIs: the native protocol's own parameters,
which clients send through `extra_body`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from proxy.core.errors import InvalidRequest
from proxy.core.json_types import expected_types, json_type

Treatment = Literal["passed", "converted", "mapped", "proxy", "reported", "refused"]
Origin = Literal["openai", "dashscope"]

NUMBER: tuple[type, ...] = (int, float)
INT: tuple[type, ...] = (int,)
BOOL: tuple[type, ...] = (bool,)
STR: tuple[type, ...] = (str,)
OBJECT: tuple[type, ...] = (dict,)
ARRAY: tuple[type, ...] = (list,)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    types: tuple[type, ...]
    treatment: Treatment
    how: str
    origin: Origin = "openai"  # or "dashscope": a DashScope extra sent through `extra_body`


def check_type(value: Any, types: tuple[type, ...], name: str) -> Any:
    """`value` if it has one of `types` (or is None), else a 400 naming the field."""
    # bool is an int in Python, but `"temperature": true` is a client bug worth a 400.
    if value is None:
        return None
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise InvalidRequest(
            f"'{name}' must be {expected_types(types)}, got {json_type(value)}.", param=name
        )
    return value


def _dashscope(name: str, types: tuple[type, ...], how: str = "sent in `parameters`") -> Field:
    return Field(name, types, "passed", how, "dashscope")


# Always incremental, in message format (docs/architecture.md, "Always stream upstream").
FORCED: dict[str, Any] = {"result_format": "message", "incremental_output": True}

FORCED_FIELDS: tuple[Field, ...] = (
    Field(
        "incremental_output",
        BOOL,
        "proxy",
        "always `true` (DashScope's thinking needs it); a different value is reported",
    ),
    Field("result_format", STR, "proxy", "always `message`; a different value is reported"),
)

DASHSCOPE_FIELDS: tuple[Field, ...] = (
    _dashscope("enable_thinking", BOOL),
    _dashscope("thinking_budget", INT),
    _dashscope(
        "preserve_thinking", BOOL, "sent in `parameters`; keeps replayed `reasoning_content`"
    ),
    Field(
        "enable_code_interpreter",
        BOOL,
        "mapped",
        "sent in `parameters`; also sends `enable_thinking: true` (reported), since the "
        "interpreter runs only while thinking, unless `enable_thinking` or an effort decides it",
        "dashscope",
    ),
    _dashscope("enable_search", BOOL),
    _dashscope(
        "search_options", OBJECT, "sent in `parameters`; `enable_source` returns `search_info`"
    ),
    _dashscope("top_k", INT),
    _dashscope("repetition_penalty", NUMBER),
)

NATIVE_FIELD_BY_NAME = {field.name: field for field in (*FORCED_FIELDS, *DASHSCOPE_FIELDS)}

EXTRA_ROW = ("any other key", "passed", "sent in `parameters` (DashScope extras from `extra_body`)")


def field_rows(fields: tuple[Field, ...]) -> list[str]:
    """The Markdown table of `fields`, ending with the row for keys no table names."""
    lines = [
        "| field | treatment | what the proxy does |",
        "|---|---|---|",
    ]
    for field in fields:
        origin = " (DashScope, via `extra_body`)" if field.origin == "dashscope" else ""
        lines.append(f"| `{field.name}`{origin} | {field.treatment} | {field.how} |")
    lines.append(f"| {EXTRA_ROW[0]} | {EXTRA_ROW[1]} | {EXTRA_ROW[2]} |")
    return lines


def rule_rows(heading: str, rows: tuple[tuple[str, str], ...]) -> list[str]:
    """A two-column Markdown table: what comes in, what is sent upstream."""
    return [f"| {heading} | sent upstream as |", "|---|---|"] + [
        f"| {what} | {how} |" for what, how in rows
    ]
