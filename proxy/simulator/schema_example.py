"""A value that fits a JSON schema: the simulated model's arguments for a tool it calls.

Clients validate what comes back against the schema they sent: instructor and llama-index
build a pydantic model from the call's arguments, so a value that breaks a constraint is a
failed request there, not a quirk. This covers what pydantic and the agent SDKs emit: `$ref`
into `$defs` (nested models), `allOf`, `const`, enums, formats pydantic checks (dates, URLs,
e-mail addresses, UUIDs), and the bounds of strings, numbers and arrays. A `pattern` is not
honoured; a schema that refers to itself without end gets empty arrays below a depth.
"""

import math
from typing import Any

_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_SIMPLE = {"boolean": True, "null": None}
# Deeper than this, a self-referring schema (a tree of nodes) stops growing.
_DEPTH = 8


def example(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value that fits `schema` (`root` holds the `$defs` its references point into): its
    required properties (all of them when none is required), an enum's first value, ..."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return "example"
    schema = _resolved(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example(_alternative(schema[key], depth), root, depth + 1)
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {name: example(properties.get(name), root, depth + 1) for name in required}
    if kind == "array":
        return _array(schema, root, depth)
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    return _string(schema)


def _resolved(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """`schema` with its `$ref` followed and its `allOf` merged in (siblings win)."""
    seen: set[str] = set()
    while isinstance(schema.get("$ref"), str) and schema["$ref"] not in seen:
        seen.add(schema["$ref"])
        target = _pointer(root, schema["$ref"])
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings} if isinstance(target, dict) else siblings
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    required: list[Any] = []
    for part in (_resolved(p, root) for p in parts if isinstance(p, dict)):
        merged.update(part)
        properties.update(part.get("properties") or {})
        required += part.get("required") or []
    merged.pop("properties", None)
    merged.pop("required", None)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return {**merged, **{k: v for k, v in schema.items() if k != "allOf"}}


def _alternative(choices: list[Any], depth: int) -> Any:
    """The first alternative, or `null` where there is one and the value is deep already (a
    tree whose children are optional ends there)."""
    if depth >= _DEPTH:
        for choice in choices:
            if isinstance(choice, dict) and choice.get("type") == "null":
                return choice
    return choices[0]


def _pointer(root: Any, ref: str) -> Any:
    """The part of `root` a local reference (`#/$defs/Name`) names; None for any other."""
    if not ref.startswith("#"):
        return None
    found = root
    for token in ref[1:].split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        found = found.get(token) if isinstance(found, dict) else None
    return found


def _array(schema: dict[str, Any], root: Any, depth: int) -> list[Any]:
    least = _int(schema.get("minItems"), 0)
    count = least if depth >= _DEPTH else max(least, 1)
    most = schema.get("maxItems")
    if isinstance(most, int):
        count = min(count, most)
    return [example(schema.get("items"), root, depth + 1) for _ in range(count)]


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """1 if it fits, else the smallest value the bounds allow."""
    step = schema.get("multipleOf")
    step = step if isinstance(step, int | float) and step > 0 else (1 if integer else None)
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    value: float = 1
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(above, int | float) and value <= above:
        value = above + (step or 1)
    if isinstance(high, int | float) and value > high:
        value = high
    if isinstance(below, int | float) and value >= below:
        value = below - (step or 1)
    if step:
        value = math.ceil(value / step) * step
    return int(value) if integer or float(value).is_integer() else value


def _string(schema: dict[str, Any]) -> str:
    text = _FORMATS.get(str(schema.get("format")), "example")
    least, most = _int(schema.get("minLength"), 0), schema.get("maxLength")
    if len(text) < least:
        text += "x" * (least - len(text))
    if isinstance(most, int) and len(text) > most:
        text = text[:most]
    return text


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
