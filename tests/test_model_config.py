"""The config's model families: `[[models.family]]` adds or changes families, the deprecated
`[models] ids` and `[routing] multimodal_models` keep working with a warning, and
config.example.toml documents every key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from proxy.cli.main import main
from proxy.config import DEFAULT_MODELS, ConfigError, settings_from_mapping
from proxy.core.model_config import (
    DEPRECATED_IDS,
    DEPRECATED_ROUTING,
    FORMER_MULTIMODAL_DEFAULTS,
    family_from_config,
    model_settings,
)
from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelFamily, Prices, PriceTier
from proxy.server.app import create_app

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"
NEW = {"name": "qwen9", "patterns": ["qwen9"], "endpoint": "multimodal"}


def families(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"models": {"family": list(entries)}}


def example_models_block() -> dict[str, Any]:
    """The commented [[models.family]] entries of config.example.toml, uncommented."""
    text = EXAMPLE.read_text(encoding="utf-8").split("\n[models]\n", 1)[1]
    lines = [line.removeprefix("# ") for line in text.splitlines() if line.startswith("# ")]
    start = lines.index("[[models.family]]")
    end = next(i for i, line in enumerate(lines) if line.startswith("Deprecated"))
    return tomllib.loads("[models]\n" + "\n".join(lines[start:end]))


def test_the_example_s_families_parse_as_documented() -> None:
    settings = settings_from_mapping(example_models_block())
    new = settings.model_table.family_of("qwen9-plus")
    assert new.name == "qwen9"
    assert (new.endpoint, new.thinking, new.thinking_default, new.effort) == (
        "multimodal",
        "optional",
        True,
        "budget",
    )
    assert (new.code_interpreter, new.search, new.vision, new.audio, new.video) == (
        True,
        True,
        True,
        False,
        True,
    )
    assert new.context_length == 1_000_000
    assert new.prices == (
        Prices(
            "USD",
            "2026-12-01",
            (PriceTier(262144, 0.4, 2.4, 0.08, 4.0),),
            tool_fees=(("search:agent", 4.0),),
            source="console, 2026-12-01",
        ),
    )
    assert settings.models[0] == "qwen9-plus"
    assert settings.model_table.family_of("qwen-plus").thinks_by_default is True
    assert settings.deprecations == ()


def test_the_example_names_every_family_key() -> None:
    block = example_models_block()["models"]["family"]
    documented = set(block[0]) | {f"prices.{key}" for key in block[0]["prices"][0]}
    family_keys = {name for name in ModelFamily.__dataclass_fields__ if name != "prices"}
    tier_keys = {f"prices.{name}" for name in PriceTier.__dataclass_fields__}
    list_keys = {"prices.currency", "prices.as_of", "prices.tool_fees", "prices.source"}
    assert documented == family_keys | tier_keys | {"prices"} | list_keys


def test_a_new_family_goes_first_and_starts_from_the_default() -> None:
    settings = settings_from_mapping(families({**NEW, "patterns": ["qwen3-max-2099"]}))
    family = settings.model_table.family_of("qwen3-max-2099-01-01")
    assert family.name == "qwen9"
    assert (family.thinking, family.effort, family.served, family.prices) == (
        "optional",
        "budget",
        (),
        (),
    )
    assert settings.model_table.family_of("qwen3-max").name == "qwen3-max"


def test_a_built_in_family_changes_only_the_keys_given() -> None:
    settings = settings_from_mapping(families({"name": "qwen3-max", "served": ["qwen3-max"]}))
    family = settings.model_table.family_of("qwen3-max-preview")
    built_in = MODEL_TABLE.family_of("qwen3-max-preview")
    assert family.served == ("qwen3-max",)
    assert family.prices == built_in.prices
    assert family.code_interpreter is built_in.code_interpreter is True
    assert "qwen3-max-preview" not in settings.models


def test_prices_of_one_currency_are_its_tiers_in_order() -> None:
    prices = [
        {"currency": "CNY", "as_of": "2026-12-01", "up_to": 100, "input": 1, "output": 2},
        {"currency": "USD", "as_of": "2026-11-30", "input": 0.5, "output": 1.5},
        {"currency": "CNY", "as_of": "2026-12-01", "input": 3, "output": 4.5},
    ]
    family = family_from_config({**NEW, "prices": prices}, MODEL_TABLE, "x")
    assert family.prices == (
        Prices("CNY", "2026-12-01", (PriceTier(100, 1, 2), PriceTier(None, 3, 4.5))),
        Prices("USD", "2026-11-30", (PriceTier(None, 0.5, 1.5),)),
    )


PRICE = {"currency": "USD", "as_of": "2026-12-01", "input": 1, "output": 2}


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"patterns": ["x"]}, "name must be a non-empty string"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": "brand-new"}, "'brand-new': a new family needs patterns"),
        ({**NEW, "endpoint": "compatible"}, "endpoint must be one of text, multimodal"),
        ({**NEW, "thinking": "sometimes"}, "thinking must be one of optional, always, never"),
        ({**NEW, "effort": "max"}, "effort must be one of budget, switch, native, none"),
        ({**NEW, "vision": "yes"}, "vision must be true or false"),
        ({**NEW, "patterns": "qwen9"}, "patterns must be a list of non-empty strings"),
        ({**NEW, "patterns": [""]}, "patterns must be a list of non-empty strings"),
        ({**NEW, "patterns": []}, "patterns must not be empty"),
        ({**NEW, "patterns": ["("]}, "'(' is not a regular expression"),
        ({**NEW, "served": [1]}, "served must be a list of non-empty strings"),
        ({**NEW, "context_length": 0}, "context_length must be a positive integer"),
        ({**NEW, "context_length": True}, "context_length must be a positive integer"),
        ({**NEW, "colour": "red"}, "unknown key colour (known: "),
        ({**NEW, "prices": {"currency": "USD"}}, "prices must be an array of tables"),
        ({**NEW, "prices": [{**PRICE, "tax": 1}]}, "unknown price key(s) tax"),
        ({**NEW, "prices": [{**PRICE, "currency": "EUR"}]}, "currency must be one of CNY, USD"),
        ({**NEW, "prices": [{**PRICE, "as_of": "December"}]}, "as_of must be a date"),
        ({**NEW, "prices": [{**PRICE, "up_to": 0}]}, "up_to must be a positive number"),
        ({**NEW, "prices": [{**PRICE, "up_to": 1.5}]}, "up_to must be a positive number"),
        ({**NEW, "prices": [{**PRICE, "input": None}]}, "input must be a number of 0 or more"),
        ({**NEW, "prices": [{**PRICE, "output": -1}]}, "output must be a number of 0 or more"),
        ({**NEW, "prices": [{**PRICE, "cached_input": True}]}, "cached_input must be a number"),
        ({**NEW, "prices": [{**PRICE, "tool_fees": 4}]}, "tool_fees must be a table of tool"),
        ({**NEW, "prices": [{**PRICE, "tool_fees": {"fax": 1}}]}, "'fax' is not a tool"),
        ({**NEW, "prices": [{**PRICE, "tool_fees": {"search:": 1}}]}, "'search:' is not a tool"),
        (
            {**NEW, "prices": [{**PRICE, "tool_fees": {"code_interpreter:x": 1}}]},
            "'code_interpreter:x' is not a tool",
        ),
        (
            {**NEW, "prices": [{**PRICE, "tool_fees": {"search": -1}}]},
            "tool_fees: search must be a number of 0 or more",
        ),
        ({**NEW, "prices": [{**PRICE, "source": 1}]}, "a price's source must be a string"),
    ],
)
def test_a_bad_family_is_a_config_error_naming_the_entry_and_key(
    entry: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(families(entry))
    assert "[[models.family]]" in str(caught.value)
    assert named in str(caught.value)


def test_tool_fees_and_source_belong_to_their_currency_s_price_list() -> None:
    prices = [
        {**PRICE, "up_to": 10, "tool_fees": {"search:agent": 4, "code_interpreter": 0.5}},
        {**PRICE, "source": "my contract"},
        {**PRICE, "currency": "CNY"},
    ]
    usd, cny = family_from_config({**NEW, "prices": prices}, MODEL_TABLE, "x").prices
    assert usd.tool_fees == (("search:agent", 4), ("code_interpreter", 0.5))
    assert usd.source == "my contract"
    assert len(usd.tiers) == 2
    assert (cny.tool_fees, cny.source, cny.verified) == ((), "", ())


def test_prices_leave_out_what_is_not_published() -> None:
    family = family_from_config({**NEW, "prices": [PRICE]}, MODEL_TABLE, "x")
    assert family.prices[0].tiers == (PriceTier(None, 1, 2, None, None),)


@pytest.mark.parametrize("value", [{"name": "x"}, ["not a table"]])
def test_models_family_must_be_an_array_of_tables(value: Any) -> None:
    with pytest.raises(ConfigError, match=re.escape("[[models.family]] must be an array")):
        settings_from_mapping({"models": {"family": value}})


# ---- the deprecated keys -----------------------------------------------------------------------


def test_the_deprecated_ids_are_served_as_given_with_a_warning() -> None:
    settings = settings_from_mapping({"models": {"ids": ["qwen-plus", "my-model"]}})
    assert settings.models == ("qwen-plus", "my-model")
    assert settings.deprecations == (DEPRECATED_IDS,)
    assert settings.model_table == MODEL_TABLE


def test_without_ids_the_table_s_served_ids_are_listed() -> None:
    assert settings_from_mapping({}).models == DEFAULT_MODELS == MODEL_TABLE.served_ids()


def test_deprecated_routing_expressions_become_multimodal_families() -> None:
    raw = {"routing": {"multimodal_models": ["^my-vision", "vision"]}}
    settings = settings_from_mapping(raw)
    assert settings.deprecations == (DEPRECATED_ROUTING,)
    table = settings.model_table
    assert table.family_of("my-vision-1").endpoint == "multimodal"
    # An expression without ^ was searched anywhere in the name, and still is.
    assert table.family_of("acme-vision-2").endpoint == "multimodal"
    assert table.family_of("qwen-plus").endpoint == "text"


def test_the_former_default_expressions_add_nothing() -> None:
    """A config copied from the old example lists the old defaults: they must not turn omni
    models back into multimodal ones."""
    found = model_settings({}, FORMER_MULTIMODAL_DEFAULTS, MODEL_TABLE)
    assert found.table == MODEL_TABLE
    assert found.deprecations == (DEPRECATED_ROUTING,)
    assert found.table.family_of("qwen3-omni-flash").endpoint == "compatible-only"


def test_both_deprecated_keys_and_a_family_together() -> None:
    raw = {
        "routing": {"multimodal_models": ["^acme"]},
        "models": {"ids": ["acme-1"], "family": [{"name": "qwen-plus", "vision": True}]},
    }
    settings = settings_from_mapping(raw)
    assert settings.deprecations == (DEPRECATED_ROUTING, DEPRECATED_IDS)
    assert settings.models == ("acme-1",)
    assert settings.model_table.family_of("qwen-plus").vision is True
    assert settings.model_table.family_of("acme-1").endpoint == "multimodal"


def test_serve_prints_each_deprecation_as_one_line(
    tmp_path: Path, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text('[routing]\nmultimodal_models = ["^acme"]\n\n[models]\nids = ["acme-1"]\n')
    # A busy port ends serve right after start-up, once the warnings are out.
    assert main(["serve", "--config", str(config), "--port", str(busy_port)]) == 3
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == [
        f"dashscope-proxy: config warning: {DEPRECATED_ROUTING}",
        f"dashscope-proxy: config warning: {DEPRECATED_IDS}",
    ]
    assert "Traceback" not in "\n".join(lines)


def test_v1_models_lists_the_table_s_served_ids_and_finds_each() -> None:
    entry = {"name": "qwen9", "patterns": ["qwen9"], "served": ["qwen9-max"]}
    app = create_app(settings_from_mapping(families(entry)))
    with TestClient(app) as http:
        listed = [model["id"] for model in http.get("/v1/models").json()["data"]]
        assert listed == ["qwen9-max", *MODEL_TABLE.served_ids()]
        for model in ("qwen9-max", "qwen3.5-plus", "qwen-plus"):
            assert http.get(f"/v1/models/{model}").json()["id"] == model
        assert http.get("/v1/models/qwen9-min").status_code == 404
