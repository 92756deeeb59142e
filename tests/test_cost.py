"""The cost of an exchange from its usage and the model table's prices (proxy/core/cost.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from proxy.core.cost import (
    Cost,
    Pricing,
    billing_region,
    currency_of,
    exchange_cost,
    search_strategy_of,
)
from proxy.core.events import Usage
from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelFamily, ModelTable, Prices, PriceTier

TIERED = Prices(
    "CNY",
    "2026-12-01",
    (PriceTier(1000, 2.5, 10.0, 0.5), PriceTier(2000, 4.0, 16.0)),
    tool_fees=(("search:agent", 4.0), ("code_interpreter", 1.5)),
)
THINKING = Prices("USD", "2026-12-01", (PriceTier(None, 0.4, 1.2, None, 4.0),))


def usage(prompt: int = 0, completion: int = 0, **details: Any) -> Usage:
    base = Usage(prompt, completion, reasoning_tokens=None, cached_tokens=None,
                 code_interpreter_runs=None)  # fmt: skip
    return replace(base, **details)


def amount(u: Usage, prices: Prices, strategy: str | None = None) -> Decimal | None:
    cost = exchange_cost(u, prices, family="f", search_strategy=strategy)
    return None if cost is None else cost.amount


def test_input_and_output_tokens_at_the_tier_the_input_length_falls_in() -> None:
    # 1000 input tokens is the first tier (at most 1000), 1001 the second.
    assert amount(usage(1000, 100), TIERED) == Decimal("0.0035")  # 1000*2.5 + 100*10, per 1M
    assert amount(usage(1001, 100), TIERED) == Decimal("0.005604")  # 1001*4 + 100*16
    # Beyond a bounded last tier there is no published price: unknown, not guessed.
    assert amount(usage(2001, 1), TIERED) is None


def test_cached_input_at_the_cached_price_or_the_input_price_when_it_has_none() -> None:
    cached = usage(1000, 0, cached_tokens=400)
    assert amount(cached, TIERED) == Decimal("0.0017")  # 600*2.5 + 400*0.5
    second_tier = usage(1500, 0, cached_tokens=400)
    assert amount(second_tier, TIERED) == Decimal("0.006")  # no cached price: all at 4
    # A cached count above the prompt's (a vendor oddity) never bills negative input.
    assert amount(usage(100, 0, cached_tokens=500), TIERED) == Decimal("0.00005")


def test_thinking_output_price_applies_to_the_whole_output_when_the_exchange_reasoned() -> None:
    assert amount(usage(0, 1000, reasoning_tokens=600), THINKING) == Decimal("0.004")
    # No reasoning (or none reported): the ordinary output price.
    assert amount(usage(0, 1000, reasoning_tokens=0), THINKING) == Decimal("0.0012")
    assert amount(usage(0, 1000), THINKING) == Decimal("0.0012")
    # A family without a thinking price bills reasoning as output.
    assert amount(usage(0, 1000, reasoning_tokens=600), TIERED) == Decimal("0.01")


def test_tool_fees_per_thousand_calls() -> None:
    searched = usage(0, 0, web_searches=3, code_interpreter_runs=2)
    # search:agent only counts when the request asked for the agent strategy.
    assert amount(searched, TIERED, "agent") == Decimal("0.015")  # 3*4 + 2*1.5, per 1,000
    assert amount(searched, TIERED, "turbo") == Decimal("0.003")
    assert amount(searched, TIERED) == Decimal("0.003")
    every_search = replace(TIERED, tool_fees=(("search", 2.0),))
    assert amount(searched, every_search, "turbo") == Decimal("0.006")
    assert amount(usage(0, 0), TIERED, "agent") == Decimal(0)


def test_amounts_are_exact_decimals_where_floats_drift() -> None:
    prices = Prices("USD", "2026-12-01", (PriceTier(None, 0.1, 0.2),))
    one = amount(usage(1, 1), prices)
    assert one == Decimal("3E-7")
    total = sum((amount(usage(1, 1), prices) or Decimal(0) for _ in range(10)), Decimal(0))
    assert total == Decimal("0.000003")  # ten floats 0.1e-6 + 0.2e-6 do not sum to this
    assert sum([0.1e-6 + 0.2e-6] * 10) != 0.000003


def test_the_cost_names_its_family_currency_and_price_date() -> None:
    cost = exchange_cost(usage(10, 10), TIERED, family="qwen3-max")
    assert cost == Cost(Decimal("0.000125"), "CNY", "qwen3-max", "2026-12-01")


@pytest.mark.parametrize(
    ("region", "currency"),
    [("beijing", "CNY"), ("finance", "CNY"), ("singapore", "USD"), ("us", "USD"),
     ("hongkong", "USD"), ("frankfurt", "USD")],
)  # fmt: skip
def test_the_region_decides_the_currency(region: str, currency: str) -> None:
    assert currency_of(region) == currency
    assert Pricing(MODEL_TABLE, region).currency == currency


def test_pricing_reads_the_model_table_for_the_region() -> None:
    u = usage(1000, 1000)
    beijing, singapore = Pricing(MODEL_TABLE, "beijing"), Pricing(MODEL_TABLE, "singapore")
    # qwen3-max: CNY 2.5 / 10 and USD 1.2 / 6 per million below 32K input tokens.
    assert beijing.cost("qwen3-max-preview", u) == Cost(
        Decimal("0.0125"), "CNY", "qwen3-max", "2026-12-02"
    )
    found = singapore.cost("qwen3-max", u)
    assert found is not None
    assert (found.amount, found.currency) == (Decimal("0.0072"), "USD")
    # qwen3-max's agent search fee is in the CNY list.
    searched = beijing.cost("qwen3-max", usage(1000, 1000, web_searches=1), "agent")
    assert searched is not None
    assert searched.amount == Decimal("0.0165")
    # qwen3.5-plus has USD prices only; glm none; no model or no usage: no cost.
    assert beijing.cost("qwen3.5-plus", u) is None
    assert singapore.cost("qwen3.5-plus", u) is not None
    assert singapore.cost("glm-4.6", u) is None
    assert singapore.cost(None, u) is None
    assert singapore.cost("qwen3-max", None) is None


def test_pricing_follows_the_table_it_is_given() -> None:
    family = ModelFamily("mine", ("mine",), prices=(THINKING,))
    pricing = Pricing(ModelTable((family,)), "us")
    cost = pricing.cost("mine-1", usage(1_000_000, 0))
    assert cost is not None
    assert cost.amount == Decimal("0.4")


@pytest.mark.parametrize(
    ("body", "strategy"),
    [
        ({"parameters": {"search_options": {"search_strategy": "agent"}}}, "agent"),
        ({"parameters": {"search_options": {"search_strategy": 3}}}, None),
        ({"parameters": {"search_options": "agent"}}, None),
        ({"parameters": {"enable_search": True}}, None),
        ({"parameters": []}, None),
        ({}, None),
        (None, None),
    ],
)
def test_the_search_strategy_read_from_the_native_request(body: object, strategy: str) -> None:
    assert search_strategy_of(body) == strategy


@pytest.mark.parametrize(
    ("base_url", "region"),
    [
        ("", "beijing"),
        ("https://dashscope-intl.aliyuncs.com/api/v1", "singapore"),
        ("https://DASHSCOPE-US.aliyuncs.com", "us"),
        ("https://ws-1.eu-central-1.maas.aliyuncs.com/api/v1", "frankfurt"),
        ("https://ws-1.cn-beijing.maas.aliyuncs.com", "beijing"),
        ("https://dashscope-finance.aliyuncs.com", "finance"),
        ("http://127.0.0.1:8001", "beijing"),  # a test server or gateway: the configured one
        ("https://eu-central-1.maas.aliyuncs.com.example.com", "beijing"),
    ],
)
def test_the_billing_region_is_the_one_the_base_url_names(base_url: str, region: str) -> None:
    assert billing_region("beijing", base_url) == region
