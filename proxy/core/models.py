"""What a model family is, and how a model name finds its family (sans-I/O, pure data).

The families themselves, with their sources, are in `proxy/core/model_table.py`, documented in
docs/models.md. A family says which native endpoint serves its models, whether they think
(and by default), which tools and media they take, how an OpenAI reasoning effort maps onto
them, their context length and their published prices. Routing, validation, `/v1/models`, the
field mapping and the simulator all read the same table; the config can add or change
families (`[[models.family]]`, parsed by `proxy/core/model_config.py`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

# `compatible-only`: served only by DashScope's OpenAI-compatible mode, which the proxy does not
# speak (it needs the native protocol's code-interpreter frames), so the proxy refuses them.
Endpoint = Literal["text", "multimodal", "compatible-only"]
Thinking = Literal["optional", "always", "never"]
# How an OpenAI reasoning effort reaches the family:
#   budget: enable_thinking, and a thinking_budget per effort (Qwen3 and later, Kimi)
#   switch: enable_thinking only (no documented budget)
#   native: enable_thinking, and the effort itself as `reasoning_effort` (DeepSeek V4)
#   none:   nothing to send (the family cannot change how it thinks); the effort is reported
EffortMapping = Literal["budget", "switch", "native", "none"]
Currency = Literal["CNY", "USD"]

ENDPOINTS: tuple[Endpoint, ...] = ("text", "multimodal", "compatible-only")
THINKING: tuple[Thinking, ...] = ("optional", "always", "never")
EFFORT_MAPPINGS: tuple[EffortMapping, ...] = ("budget", "switch", "native", "none")
CURRENCIES: tuple[Currency, ...] = ("CNY", "USD")
# What a family's prices can say; `Prices.verified` names the ones a vendor page confirmed.
PRICE_FIELDS = ("input", "output", "cached_input", "thinking_output", "tool_fees")
# The built-in tools a per-call fee can be for (`search:<strategy>` narrows `search`).
TOOLS = ("search", "code_interpreter")


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices per million tokens for requests whose input is at most `up_to` tokens."""

    up_to: int | None  # None: any input length
    input: float
    output: float
    cached_input: float | None = None  # implicit cache hits
    thinking_output: float | None = None  # output in thinking mode, where it costs more


@dataclass(frozen=True, slots=True)
class Prices:
    """A family's published prices in one currency: CNY for China (Beijing), USD for the
    international deployment (Singapore)."""

    currency: Currency
    as_of: str  # the date the prices were read from their source, YYYY-MM-DD
    tiers: tuple[PriceTier, ...]
    # Per-call fees for built-in tools, per 1,000 calls: (tool, price). A tool is `search`
    # (every web search), `search:<strategy>` (searches with that `search_strategy` only) or
    # `code_interpreter` (every run); proxy/core/cost.py bills them from the usage.
    tool_fees: tuple[tuple[str, float], ...] = ()
    # Where the figures come from, and which of them (`input`, `output`, `cached_input`,
    # `thinking_output`, `tool_fees`) a vendor page confirmed; the others are unverified.
    source: str = ""
    verified: tuple[str, ...] = ()

    def tier(self, input_tokens: int) -> PriceTier | None:
        """The tier a request with this many input tokens is billed at."""
        for tier in self.tiers:
            if tier.up_to is None or input_tokens <= tier.up_to:
                return tier
        return None


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """Models whose names match one of `patterns` (regular expressions matched at the start of
    the name, ignoring case)."""

    name: str
    patterns: tuple[str, ...]
    endpoint: Endpoint = "text"
    thinking: Thinking = "optional"
    thinking_default: bool = False  # for `optional`: whether it thinks when not told
    effort: EffortMapping = "budget"
    code_interpreter: bool = False
    search: bool = False
    vision: bool = False
    audio: bool = False
    video: bool = False
    context_length: int | None = None  # tokens, input and output together
    served: tuple[str, ...] = ()  # model ids GET /v1/models lists for this family
    prices: tuple[Prices, ...] = ()

    def matches(self, model: str) -> bool:
        return _matcher(self.patterns)(model)

    @property
    def thinks_by_default(self) -> bool:
        """Whether a request that says nothing about thinking gets thinking."""
        return self.thinking == "always" or (self.thinking == "optional" and self.thinking_default)

    def price(self, currency: Currency) -> Prices | None:
        return next((p for p in self.prices if p.currency == currency), None)


_MAX_REMEMBERED = 1024  # model names whose family ModelTable.family_of keeps


@functools.cache
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """A family's patterns as one expression, matched at the start, ignoring case (compiled
    once per family, not looked up in `re`'s cache per pattern and call). Patterns that cannot
    be joined (a global inline flag not at the start) are tried one by one."""
    joined = "|".join(f"(?:{p})" for p in patterns) or "(?!)"  # no patterns: matches nothing
    try:
        expression = re.compile(joined, re.IGNORECASE)
    except re.error:
        compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
        return lambda model: any(c.match(model) for c in compiled)
    return lambda model: expression.match(model) is not None


# What a name no family matches is taken to be: the text endpoint, thinking off unless asked,
# asked the way Qwen3 is asked. The same as the proxy assumed before it had a table.
UNKNOWN = ModelFamily(name="unknown", patterns=())


@dataclass(frozen=True, slots=True)
class ModelTable:
    """Families, most specific first: the first family with a matching pattern wins."""

    families: tuple[ModelFamily, ...]
    default: ModelFamily = UNKNOWN
    # Names already looked up: a request looks its model up several times, and a scan of the
    # families' patterns was a tenth of a request's setup. Bounded: clients choose the names.
    _found: dict[str, ModelFamily] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def family_of(self, model: str) -> ModelFamily:
        found = self._found.get(model)
        if found is None:
            found = next((f for f in self.families if f.matches(model)), self.default)
            if len(self._found) < _MAX_REMEMBERED:
                self._found[model] = found
        return found

    def named(self, name: str) -> ModelFamily | None:
        return next((f for f in self.families if f.name == name), None)

    def with_overrides(self, families: Iterable[ModelFamily]) -> ModelTable:
        """The table with `families` in it: a family with a name the table has replaces it in
        place; a new family goes first, so its patterns win over the built-in ones."""
        replaced = list(self.families)
        added: list[ModelFamily] = []
        for family in families:
            index = next((i for i, f in enumerate(replaced) if f.name == family.name), None)
            if index is None:
                added.append(family)
            else:
                replaced[index] = family
        return replace(self, families=(*added, *replaced))

    def served_ids(self) -> tuple[str, ...]:
        """The model ids `/v1/models` lists, in table order, each once."""
        return tuple(dict.fromkeys(m for family in self.families for m in family.served))


def family_of(model: str, table: ModelTable) -> ModelFamily:
    """The family `model` belongs to in `table`, or the table's conservative default."""
    return table.family_of(model)


def render_markdown(table: ModelTable) -> str:
    """The table as docs/models.md shows it: the families, then their prices and sources."""
    lines = [
        "| family | model names (start) | endpoint | thinking | effort | interpreter | search "
        "| input | context | listed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_family_row(family) for family in table.families]
    lines += [
        "",
        "| family | currency | as of | input up to | input | cached input | output "
        "| thinking output | tool calls (per 1,000) | verified |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sources: list[str] = []
    for family in table.families:
        for prices in family.prices:
            lines += [
                _price_row(family.name, prices, tier, first=i == 0)
                for i, tier in enumerate(prices.tiers)
            ]
            if prices.source:
                sources.append(f"- `{family.name}`, {prices.currency}: {prices.source}")
    if sources:
        lines += ["", *sources]
    return "\n".join(lines) + "\n"


def _family_row(family: ModelFamily) -> str:
    thinking: str = family.thinking
    if family.thinking == "optional":
        thinking += ", on by default" if family.thinking_default else ", off by default"
    media = [m for m in ("vision", "audio", "video") if getattr(family, m)]
    cells = (
        f"`{family.name}`",
        ", ".join(f"`{p}`".replace("|", "\\|") for p in family.patterns),
        family.endpoint,
        thinking,
        family.effort,
        _yes(family.code_interpreter),
        _yes(family.search),
        ", ".join(["text", *media]),
        f"{family.context_length:,}" if family.context_length else "",
        ", ".join(f"`{m}`" for m in family.served),
    )
    return "| " + " | ".join(cells) + " |"


def _price_row(name: str, prices: Prices, tier: PriceTier, *, first: bool) -> str:
    cells = (
        f"`{name}`",
        prices.currency,
        prices.as_of,
        f"{tier.up_to:,}" if tier.up_to else "any",
        _money(tier.input),
        _money(tier.cached_input),
        _money(tier.output),
        _money(tier.thinking_output),
        # Per call, not per token, and per price list: shown once, on its first tier.
        ", ".join(f"{tool}: {_money(fee)}" for tool, fee in prices.tool_fees) if first else "",
        (", ".join(prices.verified) or "no") if first else "",
    )
    return "| " + " | ".join(cells) + " |"


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
