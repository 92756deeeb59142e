"""Reading cost and key identity back from traffic records, old ones included (proxy/inspect),
the `[prices]` section, and the metric labels they make."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.config import ConfigError, settings_from_mapping
from proxy.core.cost import Cost
from proxy.core.key_identity import KeyIdentity
from proxy.inspect.query import Filter, cost_of, key_label
from proxy.inspect.render import money
from proxy.inspect.stats import compute_stats
from proxy.server.metrics import Metrics
from proxy.traffic.record import ExchangeRecorder

OLD = {"id": "a", "model": "qwen-plus", "status": 200, "outcome": "ok"}  # before cost and key


def record(cost: Any = None, key: Any = None, model: str = "qwen-plus") -> dict[str, Any]:
    return {**OLD, "model": model, "cost": cost, "key": key}


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY", "family": "qwen-plus", "prices_as_of": "x"}


@pytest.mark.parametrize(
    "cost",
    [
        None,
        "0.1",
        {"amount": "0.1"},
        {"amount": "a lot", "currency": "CNY"},
        {"amount": "NaN", "currency": "CNY"},
        {"amount": 0.1, "currency": "CNY"},
    ],
)
def test_a_missing_or_broken_cost_reads_as_none(cost: Any) -> None:
    assert cost_of(record(cost)) is None
    assert cost_of(OLD) is None


def test_costs_are_summed_exactly_per_currency_model_and_key() -> None:
    team = {"name": "team-a", "fingerprint": "0a1b2c3d"}
    unnamed = {"name": None, "fingerprint": "9f8e7d6c"}
    records = [
        record(cny("0.1"), team),
        record(cny("0.2"), team),
        record({**cny("0.5"), "currency": "USD"}, unnamed, "qwen3-max"),
        record(None, None, "glm-4.6"),
        OLD,
    ]
    stats = compute_stats(records)
    assert stats["overall"]["cost"] == {"CNY": "0.3", "USD": "0.5"}  # not 0.30000000000000004
    assert stats["models"]["qwen-plus"]["cost"] == {"CNY": "0.3"}
    assert stats["models"]["glm-4.6"]["cost"] == {}
    assert stats["keys"]["team-a"]["cost"] == {"CNY": "0.3"}
    assert stats["keys"]["9f8e7d6c"]["exchanges"] == 1
    assert stats["keys"]["(none)"]["exchanges"] == 2
    # A log with no proxy keys (pass-through, or older records) has no per-key section.
    assert "keys" not in compute_stats([OLD, record(cny("0.1"))])


def test_the_key_filter_takes_a_name_or_a_fingerprint_in_any_case() -> None:
    named = record(key={"name": "team-a", "fingerprint": "0a1b2c3d"})
    unnamed = record(key={"name": None, "fingerprint": "9f8e7d6c"})
    assert key_label(named) == "team-a"
    assert key_label(unnamed) == "9f8e7d6c"
    assert key_label(OLD) == ""
    assert Filter(key="team-a").matches(named)
    assert Filter(key="0A1B2C3D").matches(named)
    assert not Filter(key="team-a").matches(unnamed)
    assert Filter(key="9f8e7d6c").matches(unnamed)
    assert not Filter(key="9f8e7d6c").matches(OLD)
    assert not Filter(key="").matches(OLD)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("0", "CNY", "¥0.00"),
        ("0.0042317", "USD", "$0.0042"),
        ("0.5", "USD", "$0.50"),
        ("1.375", "CNY", "¥1.38"),
        ("12", "EUR", "EUR 12.00"),
        ("0.000000052", "USD", "$0.000000052"),
    ],
)
def test_money_is_short_and_never_in_exponent_form(amount: str, currency: str, shown: str) -> None:
    assert money(Decimal(amount), currency) == shown


def test_the_prices_region_is_validated() -> None:
    assert settings_from_mapping({"prices": {"region": "singapore"}}).prices.region == "singapore"
    with pytest.raises(ConfigError, match=r"\[prices\] region must be one of beijing"):
        settings_from_mapping({"prices": {"region": "mars"}})


def samples(metrics: Metrics) -> list[tuple[str, dict[str, str], float]]:
    families = text_string_to_metric_families(metrics.exposition().decode())
    return [(s.name, s.labels, s.value) for f in families for s in f.samples]


def test_metric_key_labels_are_the_configured_keys_or_other() -> None:
    metrics = Metrics(models=("qwen-plus",), keys=("team-a",))
    assert metrics.key_label(KeyIdentity("0a1b2c3d", "team-a")) == "team-a"
    assert metrics.key_label(KeyIdentity("9f8e7d6c")) == "other"  # not configured: bounded
    assert metrics.key_label(None) == ""
    recorder = ExchangeRecorder(
        exchange_id="x", started_at=0.0, clock=lambda: 0.0, endpoint="/v1/chat/completions"
    )
    recorder.request({"model": "qwen-plus"})
    finished = recorder.finish(status=200, outcome="ok", key=KeyIdentity("0a1b2c3d", "team-a"))
    metrics.exchange(finished)
    metrics.exchange(replace(finished, cost=Cost(Decimal("0.25"), "CNY", "qwen-plus", "x")))
    rows = samples(metrics)
    assert (
        "dashscope_proxy_key_exchanges_total",
        {"key": "team-a", "model": "qwen-plus"},
        2.0,
    ) in rows
    cost = [r for r in rows if r[0] == "dashscope_proxy_cost_total"]
    assert cost == [
        (
            "dashscope_proxy_cost_total",
            {"model": "qwen-plus", "currency": "CNY", "key": "team-a"},
            0.25,
        )
    ]
