"""What an exchange cost, from its usage and the model table's prices (sans-I/O).

Amounts are `Decimal`s made from the table's decimal figures, so sums never drift the way
floats do. The rules (docs/models.md, "Prices"):

- the tier is chosen by the request's input tokens (a bounded last tier means no price beyond
  it: the cost is unknown, not guessed);
- cached input tokens are billed at the cached price where the family has one, the rest of
  the input at the input price;
- output tokens (reasoning included, as DashScope counts them) at the output price, or at the
  thinking-mode price when the family has one and the exchange reasoned;
- built-in tools at their per-call fee, per 1,000 calls: `search` for every web search,
  `search:<strategy>` only when the request asked for that `search_strategy`,
  `code_interpreter` for every run.

The currency is the region's: CNY in the Chinese mainland regions (Beijing, Finance Cloud),
USD elsewhere, billed at the international (Singapore) prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from proxy.core.events import Usage
from proxy.core.models import Currency, ModelTable, Prices, PriceTier
from proxy.core.regions import REGIONS

_MILLION = Decimal(1_000_000)
_THOUSAND = Decimal(1000)
CNY_REGIONS = frozenset({"beijing", "finance"})


@dataclass(frozen=True, slots=True)
class Cost:
    """One exchange's cost in one currency, with the prices it was computed from."""

    amount: Decimal
    currency: Currency
    family: str
    as_of: str  # when the prices were read


def currency_of(region: str) -> Currency:
    """The currency DashScope bills a region's calls in."""
    return "CNY" if region in CNY_REGIONS else "USD"


def billing_region(region: str, base_url: str = "") -> str:
    """The region DashScope bills the proxy's calls in: the one whose host `base_url` names
    (its shared domain or a workspace domain of it), else `region` (a base URL of another
    host, a gateway or a test server, says nothing about the bill)."""
    host = urlsplit(base_url.strip()).hostname or ""
    for name, preset in REGIONS.items():
        workspace_domain = f".{preset.maas_id}.maas.aliyuncs.com" if preset.maas_id else None
        if host and (host == preset.host or (workspace_domain and host.endswith(workspace_domain))):
            return name
    return region


def exchange_cost(
    usage: Usage, prices: Prices, *, family: str, search_strategy: str | None = None
) -> Cost | None:
    """The cost of one exchange at `prices`; None when no tier covers its input length."""
    tier = prices.tier(usage.prompt_tokens)
    if tier is None:
        return None
    amount = _tokens(usage, tier) / _MILLION + _tools(usage, prices, search_strategy) / _THOUSAND
    return Cost(amount, prices.currency, family, prices.as_of)


def _tokens(usage: Usage, tier: PriceTier) -> Decimal:
    cached = min(usage.cached_tokens or 0, usage.prompt_tokens)
    cached_price = tier.input if tier.cached_input is None else tier.cached_input
    thinking = bool(usage.reasoning_tokens) and tier.thinking_output is not None
    output_price = tier.thinking_output if thinking else tier.output
    return (
        (usage.prompt_tokens - cached) * _decimal(tier.input)
        + cached * _decimal(cached_price)
        + usage.completion_tokens * _decimal(output_price)
    )


def _tools(usage: Usage, prices: Prices, search_strategy: str | None) -> Decimal:
    total = Decimal(0)
    for tool, fee in prices.tool_fees:
        tool_name, _, strategy = tool.partition(":")
        if tool_name == "code_interpreter":
            calls = usage.code_interpreter_runs or 0
        elif not strategy or strategy == search_strategy:
            calls = usage.web_searches or 0
        else:
            calls = 0
        total += calls * _decimal(fee)
    return total


def _decimal(value: float | None) -> Decimal:
    # The table's figures are short decimals written as floats: their shortest repr is the
    # figure the vendor published, which Decimal(float) would not give back.
    return Decimal(repr(value or 0))


@dataclass(frozen=True, slots=True)
class Pricing:
    """The model table's prices for the region the proxy bills in."""

    table: ModelTable
    region: str

    @property
    def currency(self) -> Currency:
        return currency_of(self.region)

    def cost(
        self, model: str | None, usage: Usage | None, search_strategy: str | None = None
    ) -> Cost | None:
        """None when the model, the usage or a price for them is unknown."""
        if not model or usage is None:
            return None
        family = self.table.family_of(model)
        prices = family.price(self.currency)
        if prices is None:
            return None
        return exchange_cost(usage, prices, family=family.name, search_strategy=search_strategy)


def search_strategy_of(native_body: object) -> str | None:
    """The `search_strategy` a native request asked for, if any."""
    parameters = native_body.get("parameters") if isinstance(native_body, dict) else None
    options = parameters.get("search_options") if isinstance(parameters, dict) else None
    strategy = options.get("search_strategy") if isinstance(options, dict) else None
    return strategy if isinstance(strategy, str) else None
