"""The model table: which family a name belongs to, and what the table says about it."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from proxy.core.model_table import FAMILIES, MODEL_TABLE
from proxy.core.models import (
    PRICE_FIELDS,
    UNKNOWN,
    ModelFamily,
    ModelTable,
    Prices,
    PriceTier,
    family_of,
    render_markdown,
)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("qwen3-max", "qwen3-max"),
        ("qwen3-max-preview", "qwen3-max"),
        ("qwen3-max-2026-01-23", "qwen3-max"),
        ("qwen-plus", "qwen-plus"),
        ("qwen-plus-2025-07-28", "qwen-plus"),
        ("qwen-flash", "qwen-flash"),
        ("qwen-turbo", "qwen-turbo"),
        ("qwen3.5-plus", "qwen3.5-plus"),
        ("qwen3.5-flash-2026-02-23", "qwen3.5-flash"),
        ("qwen3.6-plus", "qwen3.5+"),
        ("qwen3.7-plus", "qwen3.5+"),
        ("qwen3.10-plus", "qwen3.5+"),
        ("qwen4-max", "qwen3.5+"),
        ("qwen3.5-397b-a17b", "qwen3.5+"),
        ("qwen-omni-turbo", "qwen-omni"),
        ("qwen3-omni-flash", "qwen-omni"),
        ("qwen3.5-omni-plus", "qwen-omni"),
        ("qwen2.5-omni-7b", "qwen-omni"),
        ("qwen-vl-max", "qwen-vl"),
        ("qwen2.5-vl-72b-instruct", "qwen-vl"),
        ("qwen3-vl-plus", "qwen3-vl"),
        ("qwen3-vl-235b-a22b-thinking", "qwen3-vl-thinking"),
        ("qwen3-vl-235b-a22b-instruct", "qwen3-vl-instruct"),
        ("qvq-max", "qvq"),
        ("qwen3-235b-a22b-thinking-2507", "qwen3-thinking"),
        ("qwen3-next-80b-a3b-instruct", "qwen3-instruct"),
        ("qwen3-32b", "qwen3"),
        ("qwen3-coder-plus", "qwen3-coder"),
        ("qwq-plus", "qwq"),
        ("deepseek-v4-pro", "deepseek-v4"),
        ("deepseek-r1", "deepseek-r1"),
        ("deepseek-v3.2", "deepseek-v3.x"),
        ("deepseek-v3", "deepseek-v3"),
        ("kimi-k2-thinking", "kimi-thinking"),
        ("QWEN3-MAX", "qwen3-max"),
    ],
)
def test_names_find_their_family(model: str, family: str) -> None:
    assert family_of(model, MODEL_TABLE).name == family


@pytest.mark.parametrize("model", ["gpt-4o", "my-model", "", "xqwen3-max"])
def test_unknown_names_get_the_conservative_default(model: str) -> None:
    family = family_of(model, MODEL_TABLE)
    assert family is UNKNOWN
    assert (family.endpoint, family.thinking, family.thinks_by_default) == (
        "text",
        "optional",
        False,
    )


def test_patterns_match_at_the_start_of_the_name() -> None:
    assert family_of("my-qwen3.5-plus", MODEL_TABLE) is UNKNOWN
    assert family_of("qwen3.5-plus", MODEL_TABLE).endpoint == "multimodal"


def test_every_pattern_compiles_and_names_are_unique() -> None:
    names = [family.name for family in FAMILIES]
    assert len(names) == len(set(names))
    for family in FAMILIES:
        assert family.patterns
        for pattern in family.patterns:
            re.compile(pattern)


def test_every_family_is_reachable_by_a_name_of_its_own() -> None:
    """No family hides behind an earlier, less specific one: each pattern's own literal prefix
    finds the family (or one listed before it on purpose, which this test would name)."""
    for family in FAMILIES:
        for pattern in family.patterns:
            sample = {
                r"qwen[0-9.]*-omni": "qwen3-omni",
                r"qwen3-vl-.*thinking": "qwen3-vl-x-thinking",
                r"qwen3-vl-.*instruct": "qwen3-vl-x-instruct",
                r"qwen2(\.5)?-vl": "qwen2.5-vl",
                r"qwen3\.5-plus": "qwen3.5-plus",
                r"qwen3\.5-flash": "qwen3.5-flash",
                r"qwen3\.([5-9]|\d\d)": "qwen3.9",
                r"qwen[4-9]": "qwen4",
                r"qwen3-.*-thinking": "qwen3-x-thinking",
                r"qwen3-.*-instruct": "qwen3-x-instruct",
                r"qwen3-\d": "qwen3-8b",
                r"qwen2(\.5)?-": "qwen2.5-72b",
                r"qwen-(long|coder|math|mt)": "qwen-long",
                r"deepseek-v3\.": "deepseek-v3.1",
            }.get(pattern, pattern)
            assert family_of(sample, MODEL_TABLE) == family, (pattern, sample)


def test_thinking_defaults() -> None:
    assert family_of("qwen-plus", MODEL_TABLE).thinks_by_default is False
    assert family_of("qwen3.5-plus", MODEL_TABLE).thinks_by_default is True
    assert family_of("qwq-plus", MODEL_TABLE).thinks_by_default is True
    assert family_of("qwen3-coder-plus", MODEL_TABLE).thinks_by_default is False
    # `thinking_default` only means something for families that may think or not.
    never = ModelFamily("x", ("x",), thinking="never", thinking_default=True)
    assert never.thinks_by_default is False


def test_endpoints_of_the_known_multimodal_and_omni_families() -> None:
    for model in ("qwen-vl-max", "qwen3-vl-plus", "qwen3.5-plus", "qwen3.6-plus", "qvq-max"):
        assert family_of(model, MODEL_TABLE).endpoint == "multimodal"
    for model in ("qwen-omni-turbo", "qwen3-omni-flash", "qwen3.5-omni-plus"):
        assert family_of(model, MODEL_TABLE).endpoint == "compatible-only"
    for model in ("qwen-plus", "qwen3-max", "qwen-flash", "deepseek-v4-pro"):
        assert family_of(model, MODEL_TABLE).endpoint == "text"


def test_served_ids_are_listed_once_in_table_order() -> None:
    served = MODEL_TABLE.served_ids()
    assert len(served) == len(set(served))
    assert {"qwen3-max", "qwen3-max-preview", "qwen-plus", "qwen-flash", "qwen-turbo"} <= set(
        served
    )
    for model in served:
        assert family_of(model, MODEL_TABLE).endpoint != "compatible-only"


def test_overrides_replace_by_name_in_place_and_new_families_go_first() -> None:
    plus = family_of("qwen-plus", MODEL_TABLE)
    thinking_plus = replace(plus, thinking_default=True)
    newest = ModelFamily("qwen9", (r"qwen9",), endpoint="multimodal", served=("qwen9-max",))
    table = MODEL_TABLE.with_overrides([thinking_plus, newest])
    assert table.families[0] == newest
    assert family_of("qwen-plus", table).thinks_by_default is True
    assert len(table.families) == len(MODEL_TABLE.families) + 1
    assert table.served_ids()[0] == "qwen9-max"
    assert [f.name for f in table.families[1:]] == [f.name for f in MODEL_TABLE.families]
    # The built-in table is unchanged.
    assert family_of("qwen-plus", MODEL_TABLE).thinks_by_default is False


def test_a_new_family_wins_over_a_built_in_pattern() -> None:
    pinned = ModelFamily("pinned", (r"qwen3-max-2026-01-23$",), thinking="always")
    table = MODEL_TABLE.with_overrides([pinned])
    assert family_of("qwen3-max-2026-01-23", table) is pinned
    assert family_of("qwen3-max", table).name == "qwen3-max"


def test_price_tiers_by_input_length() -> None:
    prices = Prices("CNY", "2026-11-20", (PriceTier(32, 1.0, 2.0), PriceTier(None, 3.0, 4.0)))
    assert prices.tier(32) == PriceTier(32, 1.0, 2.0)
    assert prices.tier(33) == PriceTier(None, 3.0, 4.0)
    bounded = Prices("USD", "2026-11-20", (PriceTier(32, 1.0, 2.0),))
    assert bounded.tier(33) is None


def test_prices_carry_currency_and_date() -> None:
    for family in FAMILIES:
        currencies = [p.currency for p in family.prices]
        assert len(currencies) == len(set(currencies)), family.name
        for prices in family.prices:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", prices.as_of)
            assert prices.tiers
    max_cny = family_of("qwen3-max", MODEL_TABLE).price("CNY")
    assert max_cny is not None
    assert max_cny.tiers[0].input == 2.5
    assert family_of("qwen3-max", MODEL_TABLE).price("USD") is not None
    assert family_of("gpt-4o", MODEL_TABLE).price("CNY") is None


def test_each_price_list_says_where_it_comes_from_and_what_a_vendor_page_confirmed() -> None:
    # Cached input is 20 % of input throughout: the vendor's implicit-cache rule.
    tiers = [tier for family in FAMILIES for prices in family.prices for tier in prices.tiers]
    assert len(tiers) == 20
    for tier in tiers:
        assert round(tier.input * 0.2, 6) == tier.cached_input, tier
    lists = [prices for family in FAMILIES for prices in family.prices]
    assert lists
    assert all(prices.source for prices in lists)
    for prices in lists:
        assert set(prices.verified) <= set(PRICE_FIELDS)
        # A list with nothing confirmed says so in its source.
        assert prices.verified or "unverified" in prices.source
    verified = {
        (family.name, prices.currency): prices.verified
        for family in FAMILIES
        for prices in family.prices
        if prices.verified
    }
    assert verified == {
        ("qwen-plus", "USD"): ("input", "output", "cached_input"),
        ("qwen-turbo", "USD"): ("input", "output", "cached_input"),
    }


def test_the_rendered_prices_show_what_is_verified_and_list_the_sources() -> None:
    rows = render_markdown(MODEL_TABLE).splitlines()
    turbo = [r for r in rows if r.startswith("| `qwen-turbo` | USD |")]
    assert turbo == [
        "| `qwen-turbo` | USD | 2026-12-02 | any | 0.05 | 0.01 | 0.2 | 0.5 |  "
        "| input, output, cached_input |"
    ]
    assert any(
        r.startswith("| `qwen3-max` | CNY |") and r.endswith("| search:agent: 4 | no |")
        for r in rows
    )
    assert sum(r.startswith("- `") for r in rows) == sum(len(f.prices) for f in FAMILIES)


def test_a_table_without_sources_renders_no_source_list() -> None:
    unsourced = ModelFamily(
        "mine", ("mine",), prices=(Prices("USD", "2026-12-01", (PriceTier(None, 1, 2),)),)
    )
    rendered = render_markdown(ModelTable((unsourced,))).splitlines()
    assert rendered[-1] == "| `mine` | USD | 2026-12-01 | any | 1 |  | 2 |  |  | no |"


# ---- docs/models.md ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- models:start -->\n", "<!-- models:end -->"


def test_docs_show_the_generated_table_verbatim() -> None:
    text = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert text.count(START) == text.count(END) == 1
    between = text.split(START, 1)[1].split(END, 1)[0]
    assert between == render_markdown(MODEL_TABLE), (
        "docs/models.md is stale: regenerate it with `python -m proxy.core.model_table`"
    )


def test_rendered_table_has_a_row_per_family_and_per_price_tier() -> None:
    rows = render_markdown(MODEL_TABLE).splitlines()
    for family in FAMILIES:
        assert sum(r.startswith(f"| `{family.name}` | `") for r in rows) == 1, family.name
        tiers = sum(len(prices.tiers) for prices in family.prices)
        priced = [r for r in rows if r.startswith(f"| `{family.name}` | ") and " | 20" in r]
        assert len(priced) == tiers, family.name
    # A pattern's "|" would split its cell.
    assert r"`qwen-(long\|coder\|math\|mt)`" in "\n".join(rows)


def test_module_prints_the_table() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "proxy.core.model_table"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert printed == render_markdown(MODEL_TABLE)


def test_patterns_match_at_the_start_ignoring_case_also_with_inline_flags() -> None:
    from proxy.core.models import ModelFamily, ModelTable

    plain = ModelFamily(name="plain", patterns=("qwen3-", "qwq"))
    flagged = ModelFamily(name="flagged", patterns=("(?i)deep", "seek$"))
    table = ModelTable(families=(plain, flagged))
    assert table.family_of("QWEN3-max").name == "plain"
    assert table.family_of("qwq-32b").name == "plain"
    assert table.family_of("x-qwen3-max").name == "unknown"  # at the start only
    assert table.family_of("DeepSeek-r1").name == "flagged"  # joined would be invalid here
    assert table.family_of("seek").name == "flagged"
    assert table.family_of("other").name == "unknown"
    assert ModelFamily(name="none", patterns=()).matches("anything") is False
    # Looked up again: the same answer, from what the table remembers.
    assert table.family_of("QWEN3-max") is plain


def test_the_names_a_table_remembers_are_bounded() -> None:
    from proxy.core import models

    table = models.ModelTable(families=(models.ModelFamily(name="q", patterns=("q",)),))
    for n in range(models._MAX_REMEMBERED + 10):  # client-chosen names: many
        table.family_of(f"q-{n}")
    assert len(table._found) == models._MAX_REMEMBERED
    assert table.family_of("q-last").name == "q"  # still answered, just not remembered
