"""The model table: DashScope's model families as the proxy knows them (sans-I/O, pure data).

One row per family, most specific first (the first family whose pattern matches a name wins).
Each fact comes from the vendor's pages named in docs/models.md, which renders this table
(`python -m proxy.core.model_table` prints it; a test keeps the two in step). Prices are per
million tokens, as published on the date given: CNY for China (Beijing), USD for the
international deployment (Singapore). A family without prices has none the project has checked.

A model released tomorrow, or a family the vendor changes, is a `[[models.family]]` entry in
the config (config.example.toml), not a code change.
"""

from __future__ import annotations

from proxy.core.models import ModelFamily, ModelTable, Prices, PriceTier, render_markdown

# When the prices were read (docs/models.md, "Prices", says from where): CNY for China
# (Beijing), USD for the international deployment (Singapore).
_CN = "2026-12-02"
_INTL = "2026-12-02"
_K = 1024
# Where each price list comes from. Only figures a vendor page gave are marked verified.
# Cached input is 20 % of the input price: the implicit-cache rule of Model Studio's
# "Context Cache" page (updated 2026-10-11), which the console's CNY figures follow too.
_CACHE_RULE = "cached input at 20 % of input, the rule of the vendor's Context Cache page"
_CONSOLE_CN = (
    "the console's model pages for China (Beijing), read from a third-party copy of them; "
    f"no vendor help page with these figures was found (unverified); {_CACHE_RULE}"
)
_LISTINGS_INTL = (
    "international (Singapore) prices as third-party listings quote them; not found on a "
    f"vendor page (unverified); {_CACHE_RULE}"
)
_BILLING_PAGE = (
    'Model Studio "Billing for model services" (international edition, updated '
    "2025-04-22) gives the minimum input and output price per million tokens of the flagship "
    f"models; {_CACHE_RULE}; the thinking output price is from third-party listings "
    "(unverified)"
)

FAMILIES: tuple[ModelFamily, ...] = (
    # Omni models speak audio and video in and out through the OpenAI-compatible mode only.
    ModelFamily(
        "qwen-omni",
        (r"qwen[0-9.]*-omni",),
        endpoint="compatible-only",
        vision=True,
        audio=True,
        video=True,
    ),
    ModelFamily(
        "qvq",
        (r"qvq",),
        endpoint="multimodal",
        thinking="always",
        effort="none",
        vision=True,
        video=True,
        context_length=128 * _K,
    ),
    ModelFamily(
        "qwen3-vl-thinking",
        (r"qwen3-vl-.*thinking",),
        endpoint="multimodal",
        thinking="always",
        vision=True,
        video=True,
    ),
    ModelFamily(
        "qwen3-vl-instruct",
        (r"qwen3-vl-.*instruct",),
        endpoint="multimodal",
        thinking="never",
        effort="none",
        vision=True,
        video=True,
    ),
    ModelFamily(
        "qwen3-vl",
        (r"qwen3-vl",),
        endpoint="multimodal",
        vision=True,
        video=True,
        context_length=256 * _K,
        prices=(
            Prices(
                "CNY",
                _CN,
                (
                    PriceTier(32 * _K, 1.0, 10.0, 0.2),
                    PriceTier(128 * _K, 1.5, 15.0, 0.3),
                    PriceTier(None, 3.0, 30.0, 0.6),
                ),
                source=_CONSOLE_CN,
            ),
        ),
    ),
    ModelFamily(
        "qwen-vl",
        (r"qwen-vl", r"qwen2(\.5)?-vl"),
        endpoint="multimodal",
        thinking="never",
        effort="none",
        vision=True,
        video=True,
    ),
    # Qwen3.5 and later are natively multimodal: the text endpoint answers "url error".
    ModelFamily(
        "qwen3.5-plus",
        (r"qwen3\.5-plus",),
        endpoint="multimodal",
        thinking_default=True,
        code_interpreter=True,
        search=True,
        vision=True,
        video=True,
        context_length=1_000_000,
        served=("qwen3.5-plus",),
        prices=(
            Prices(
                "USD",
                _INTL,
                (PriceTier(256 * _K, 0.4, 2.4, 0.08), PriceTier(None, 0.5, 3.0, 0.1)),
                source=_LISTINGS_INTL,
            ),
        ),
    ),
    ModelFamily(
        "qwen3.5-flash",
        (r"qwen3\.5-flash",),
        endpoint="multimodal",
        thinking_default=True,
        code_interpreter=True,
        search=True,
        vision=True,
        video=True,
        context_length=1_000_000,
        served=("qwen3.5-flash",),
    ),
    ModelFamily(
        "qwen3.5+",
        (r"qwen3\.([5-9]|\d\d)", r"qwen[4-9]"),
        endpoint="multimodal",
        thinking_default=True,
        code_interpreter=True,
        search=True,
        vision=True,
        video=True,
        context_length=1_000_000,
        served=("qwen3.6-plus",),
    ),
    ModelFamily("qwen3-coder", (r"qwen3-coder",), thinking="never", effort="none"),
    # Open-weight Qwen3 releases say in their name whether they think.
    ModelFamily("qwen3-thinking", (r"qwen3-.*-thinking",), thinking="always"),
    ModelFamily("qwen3-instruct", (r"qwen3-.*-instruct",), thinking="never", effort="none"),
    ModelFamily(
        "qwen3-max",
        (r"qwen3-max",),
        code_interpreter=True,
        search=True,
        context_length=256 * _K,
        served=("qwen3-max", "qwen3-max-preview"),
        prices=(
            Prices(
                "CNY",
                _CN,
                (
                    PriceTier(32 * _K, 2.5, 10.0, 0.5),
                    PriceTier(128 * _K, 4.0, 16.0, 0.8),
                    PriceTier(None, 7.0, 28.0, 1.4),
                ),
                tool_fees=(("search:agent", 4.0),),
                source=_CONSOLE_CN,
            ),
            Prices(
                "USD",
                _INTL,
                (
                    PriceTier(32 * _K, 1.2, 6.0, 0.24),
                    PriceTier(128 * _K, 2.4, 12.0, 0.48),
                    PriceTier(None, 3.0, 15.0, 0.6),
                ),
                source=_LISTINGS_INTL,
            ),
        ),
    ),
    ModelFamily("qwen3", (r"qwen3-\d",), thinking_default=True, context_length=128 * _K),
    ModelFamily(
        "qwen-plus",
        (r"qwen-plus",),
        search=True,
        context_length=1_000_000,
        served=("qwen-plus",),
        prices=(
            Prices("CNY", _CN, (PriceTier(128 * _K, 0.8, 2.0, 0.16, 8.0),), source=_CONSOLE_CN),
            Prices(
                "USD",
                _INTL,
                (PriceTier(256 * _K, 0.4, 1.2, 0.08, 4.0),),
                source=_BILLING_PAGE,
                verified=("input", "output", "cached_input"),
            ),
        ),
    ),
    ModelFamily(
        "qwen-flash",
        (r"qwen-flash",),
        search=True,
        context_length=1_000_000,
        served=("qwen-flash",),
        prices=(
            Prices(
                "CNY",
                _CN,
                (
                    PriceTier(128 * _K, 0.15, 1.5, 0.03),
                    PriceTier(256 * _K, 0.6, 6.0, 0.12),
                    PriceTier(None, 1.2, 12.0, 0.24),
                ),
                source=_CONSOLE_CN,
            ),
            Prices(
                "USD",
                _INTL,
                (PriceTier(256 * _K, 0.05, 0.4, 0.01), PriceTier(None, 0.25, 2.0, 0.05)),
                source=_LISTINGS_INTL,
            ),
        ),
    ),
    ModelFamily(
        "qwen-turbo",
        (r"qwen-turbo",),
        context_length=128 * _K,
        served=("qwen-turbo",),
        prices=(
            Prices("CNY", _CN, (PriceTier(None, 0.3, 0.6, 0.06, 3.0),), source=_CONSOLE_CN),
            Prices(
                "USD",
                _INTL,
                (PriceTier(None, 0.05, 0.2, 0.01, 0.5),),
                source=_BILLING_PAGE,
                verified=("input", "output", "cached_input"),
            ),
        ),
    ),
    ModelFamily("qwen-max", (r"qwen-max",), thinking="never", effort="none", search=True),
    ModelFamily(
        "qwen2.5",
        (r"qwen2(\.5)?-", r"qwen-(long|coder|math|mt)"),
        thinking="never",
        effort="none",
    ),
    ModelFamily("qwq", (r"qwq",), thinking="always", effort="none"),
    # DeepSeek V4 takes OpenAI's effort names itself, next to enable_thinking.
    ModelFamily("deepseek-v4", (r"deepseek-v4",), thinking_default=True, effort="native"),
    ModelFamily("deepseek-r1", (r"deepseek-r1",), thinking="always", effort="none"),
    ModelFamily("deepseek-v3.x", (r"deepseek-v3\.",), effort="switch", context_length=128 * _K),
    ModelFamily("deepseek-v3", (r"deepseek-v3",), thinking="never", effort="none"),
    ModelFamily("kimi-thinking", (r"kimi-k2-thinking",), thinking="always"),
    ModelFamily("kimi-instruct", (r"moonshot-kimi-k2-instruct",), thinking="never", effort="none"),
    ModelFamily("kimi", (r"kimi",)),
    ModelFamily("glm", (r"glm-",), thinking_default=True, effort="switch"),
)

MODEL_TABLE = ModelTable(FAMILIES)

if __name__ == "__main__":
    print(render_markdown(MODEL_TABLE), end="")
