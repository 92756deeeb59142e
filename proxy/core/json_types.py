"""How errors name JSON types, one table for every message that says what a value should be
(the request field tables, the configuration) and what it was (sans-I/O)."""

from __future__ import annotations

from typing import Any

# Python types as a JSON reader says them. bool comes before int: True is an int in Python.
TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def json_type(value: Any) -> str:
    """What `value` is, as a JSON reader would say it ("a string", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return TYPE_NAMES[bool]
    if isinstance(value, int | float):
        return TYPE_NAMES[float]  # JSON has one number type: 7 and 7.5 are both "a number"
    for kind in (str, list):
        if isinstance(value, kind):
            return TYPE_NAMES[kind]
    return TYPE_NAMES[dict]


def expected_types(types: tuple[type, ...]) -> str:
    """What a field of these Python types takes, for a 400: "a string or an object"."""
    return " or ".join(TYPE_NAMES[kind] for kind in types)
