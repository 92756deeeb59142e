"""The config's model families (sans-I/O): `[[models.family]]` entries and the keys they
replace, made into rows of the model table (`proxy/core/models.py`).

An entry whose `name` is a family of the table changes only the keys it gives; an entry with a
new name is a new family, needs `patterns`, and starts from the table's default (text endpoint,
thinking optional and off). config.example.toml shows both. Errors are `ValueError`s whose
message names the entry and the key; `proxy/config.py` makes them config errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from proxy.core.models import (
    CURRENCIES,
    EFFORT_MAPPINGS,
    ENDPOINTS,
    THINKING,
    TOOLS,
    Currency,
    ModelFamily,
    ModelTable,
    Prices,
    PriceTier,
)

_CHOICES: dict[str, tuple[str, ...]] = {
    "endpoint": ENDPOINTS,
    "thinking": THINKING,
    "effort": EFFORT_MAPPINGS,
}
_FLAGS = ("thinking_default", "code_interpreter", "search", "vision", "audio", "video")
_LISTS = ("patterns", "served")
_PRICE_NUMBERS = ("input", "output", "cached_input", "thinking_output")
_PRICE_KEYS = ("currency", "as_of", "up_to", *_PRICE_NUMBERS, "tool_fees", "source")

DEPRECATED_IDS = (
    "[models] ids is deprecated: GET /v1/models lists the model table's served ids "
    "(docs/models.md); give a family `served = [...]` in [[models.family]] instead. "
    "The ids are listed as given until then."
)
DEPRECATED_ROUTING = (
    "[routing] multimodal_models is deprecated: the model table says which endpoint serves "
    'a family (docs/models.md); give a family `endpoint = "multimodal"` in '
    "[[models.family]] instead. Its expressions were added to the table as multimodal families."
)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """What the config makes of the model table: the table, the ids `/v1/models` lists, and a
    note for each deprecated key it used."""

    table: ModelTable
    served: tuple[str, ...]
    deprecations: tuple[str, ...] = ()


def model_settings(
    models: dict[str, Any], multimodal_models: tuple[str, ...], table: ModelTable
) -> ModelSettings:
    """`[models]` (`family`, and the deprecated `ids`) and the deprecated
    `[routing] multimodal_models`, over the built-in `table`."""
    unknown = set(models) - {"family", "ids"}
    if unknown:
        raise ValueError(f"unknown key(s) in [models]: {', '.join(sorted(unknown))}")
    deprecations: list[str] = []
    added = routing_families(multimodal_models)
    if multimodal_models:
        deprecations.append(DEPRECATED_ROUTING)
    table = table.with_overrides(added)
    if "family" in models:
        table = table.with_overrides(families_from_config(models["family"], table))
    served = table.served_ids()
    if "ids" in models:
        ids = models["ids"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise ValueError("[models] ids must be a non-empty list of non-empty strings")
        served = tuple(ids)
        deprecations.append(DEPRECATED_IDS)
    return ModelSettings(table, served, tuple(deprecations))


# What `[routing] multimodal_models` held by default before the model table: a config that
# still lists them asks for nothing the table does not already know.
FORMER_MULTIMODAL_DEFAULTS = (
    r"^qwen-vl",
    r"^qwen2(\.5)?-vl",
    r"^qwen3-vl",
    r"^qwen3\.([5-9]|\d\d)",
    r"^qwen-omni",
    r"^qwen3-omni",
    r"^qvq",
)


def families_from_config(entries: Any, table: ModelTable) -> tuple[ModelFamily, ...]:
    """The families `[[models.family]]` describes, over the ones `table` has."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("[[models.family]] must be an array of tables")
    return tuple(
        family_from_config(entry, table, f"[[models.family]] #{i}")
        for i, entry in enumerate(entries, 1)
    )


def family_from_config(entry: dict[str, Any], table: ModelTable, where: str) -> ModelFamily:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: name must be a non-empty string")
    where = f"[[models.family]] {name!r}"
    base = table.named(name)
    if base is None and "patterns" not in entry:
        raise ValueError(f"{where}: a new family needs patterns (it is not one of the table's)")
    changes = {key: _value(key, value, where) for key, value in entry.items() if key != "name"}
    return replace(base or replace(table.default, name=name), **changes)


def _value(key: str, value: Any, where: str) -> Any:
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise ValueError(f"{where}: {key} must be one of {', '.join(_CHOICES[key])}")
        return value
    if key in _FLAGS:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key} must be true or false")
        return value
    if key in _LISTS:
        return _strings(key, value, where)
    if key == "context_length":
        if not _is_int(value) or value < 1:
            raise ValueError(f"{where}: context_length must be a positive integer")
        return value
    if key == "prices":
        return _prices(value, where)
    known = ", ".join(sorted(["name", *_CHOICES, *_FLAGS, *_LISTS, "context_length", "prices"]))
    raise ValueError(f"{where}: unknown key {key} (known: {known})")


def _strings(key: str, value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where}: {key} must be a list of non-empty strings")
    if key == "patterns":
        if not value:
            raise ValueError(f"{where}: patterns must not be empty")
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"{where}: {pattern!r} is not a regular expression: {exc}"
                ) from None
    return tuple(value)


def _prices(value: Any, where: str) -> tuple[Prices, ...]:
    """One entry per tier; entries of one currency make its tiers, in the order given. A
    price list's date, tool fees and source are its first entry's (or any entry's, for fees
    and source)."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{where}: prices must be an array of tables")
    by_currency: dict[Currency, list[tuple[str, PriceTier]]] = {}
    extras: dict[Currency, dict[str, Any]] = {}
    for entry in value:
        unknown = set(entry) - set(_PRICE_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown price key(s) {', '.join(sorted(unknown))}")
        currency, as_of, tier = _price(entry, where)
        by_currency.setdefault(currency, []).append((as_of, tier))
        extra = extras.setdefault(currency, {})
        if "tool_fees" in entry:
            extra["tool_fees"] = _tool_fees(entry["tool_fees"], where)
        if "source" in entry:
            if not isinstance(entry["source"], str):
                raise ValueError(f"{where}: a price's source must be a string")
            extra["source"] = entry["source"]
    return tuple(
        Prices(currency, tiers[0][0], tuple(tier for _, tier in tiers), **extras[currency])
        for currency, tiers in by_currency.items()
    )


def _tool_fees(value: Any, where: str) -> tuple[tuple[str, float], ...]:
    """`{ search = 4.0, "search:agent" = 4.0, code_interpreter = 0 }`: per 1,000 calls."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: a price's tool_fees must be a table of tool = fee")
    for tool, fee in value.items():
        if tool not in TOOLS and not (tool.startswith("search:") and len(tool) > len("search:")):
            raise ValueError(
                f"{where}: tool_fees: {tool!r} is not a tool (search, search:<strategy>, "
                "code_interpreter)"
            )
        if not _is_price(fee):
            raise ValueError(f"{where}: tool_fees: {tool} must be a number of 0 or more")
    return tuple(value.items())


def _price(entry: dict[str, Any], where: str) -> tuple[Currency, str, PriceTier]:
    as_of, up_to = entry.get("as_of"), entry.get("up_to")
    currency = next((c for c in CURRENCIES if c == entry.get("currency")), None)
    if currency is None:
        raise ValueError(f"{where}: a price's currency must be one of {', '.join(CURRENCIES)}")
    if not isinstance(as_of, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", as_of):
        raise ValueError(f"{where}: a price's as_of must be a date, YYYY-MM-DD")
    if up_to is not None and (not _is_int(up_to) or up_to < 1):
        raise ValueError(f"{where}: a price's up_to must be a positive number of tokens")
    numbers: dict[str, Any] = {key: entry.get(key) for key in _PRICE_NUMBERS}
    for key, number in numbers.items():
        required = key in ("input", "output")
        if (number is None and required) or (number is not None and not _is_price(number)):
            raise ValueError(f"{where}: a price's {key} must be a number of 0 or more")
    return currency, as_of, PriceTier(up_to, **numbers)


def routing_families(patterns: tuple[str, ...]) -> tuple[ModelFamily, ...]:
    """`[routing] multimodal_models` (deprecated) as multimodal families: each expression was
    searched anywhere in the name, table patterns match at its start."""
    return tuple(
        ModelFamily(
            name=f"[routing] {pattern}",
            patterns=(pattern if pattern.startswith("^") else f".*?(?:{pattern})",),
            endpoint="multimodal",
        )
        for pattern in patterns
        if pattern not in FORMER_MULTIMODAL_DEFAULTS
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_price(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
