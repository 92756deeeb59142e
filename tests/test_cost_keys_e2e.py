"""Cost and key identity through a real proxy on loopback: the traffic record, `/metrics` and
`dashscope-proxy logs` agree on who made each exchange and what it cost."""

from __future__ import annotations

import argparse
import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from proxy.config import AuthSettings, PriceSettings, TrafficLogSettings
from proxy.core.key_identity import fingerprint
from proxy.inspect.commands import add_logs_parser, run_logs
from proxy.inspect.render import make_console
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from tests.conftest import SERVER_KEY, proxy_settings, read_jsonl
from tests.test_metrics_and_logs import CODE_RUN, Samples

NAMED, UNNAMED = "sk-fake-team-a-0123456789", "sk-fake-unnamed-0123456789"
CHAT = "/v1/chat/completions"
PLAIN = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
UNPRICED = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture(params=["beijing", "singapore"])
def served(
    request: pytest.FixtureRequest, simulator_url: str, tmp_path: Path
) -> tuple[list[dict[str, Any]], Samples, str, Path]:
    """Three exchanges by the named key, one by the unnamed key, one refused; then the
    records (the proxy stopped, its log flushed), the metrics, the region, the log path."""
    region: str = request.param
    path = tmp_path / "traffic.jsonl"
    settings = replace(
        proxy_settings(simulator_url, api_key=SERVER_KEY),
        auth=AuthSettings(proxy_keys=(NAMED, UNNAMED), key_names=("team-a", "")),
        traffic_log=TrafficLogSettings(path=str(path)),
        prices=PriceSettings(region=region),
    )
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        assert http.post(CHAT, json=CODE_RUN, headers=bearer(NAMED)).status_code == 200
        assert http.post(CHAT, json=PLAIN, headers=bearer(NAMED)).status_code == 200
        assert http.post(CHAT, json=UNPRICED, headers=bearer(NAMED)).status_code == 200
        assert http.post(CHAT, json=PLAIN, headers=bearer(UNNAMED)).status_code == 200
        assert http.post(CHAT, json=PLAIN, headers=bearer("sk-fake-wrong-01234")).status_code == 401
        samples = Samples(http.get("/metrics").text)
    return read_jsonl(path), samples, region, path


def expected_cost(record: dict[str, Any], prices: dict[str, Decimal]) -> Decimal:
    """The cost worked out from the recorded usage, independently of proxy/core/cost.py."""
    usage = record["usage"]
    cached: int = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    prompt: int = usage["prompt_tokens"]
    completion: int = usage["completion_tokens"]
    total = (prompt - cached) * prices["input"] + cached * prices["cached"]
    return (total + completion * prices["output"]) / 1_000_000


# First tiers of docs/models.md: qwen3-max and qwen-plus, CNY and USD.
PRICES: dict[tuple[str, str], dict[str, Decimal]] = {
    ("qwen3-max", "beijing"): {
        "input": Decimal("2.5"),
        "cached": Decimal("0.5"),
        "output": Decimal(10),
    },
    ("qwen3-max", "singapore"): {
        "input": Decimal("1.2"),
        "cached": Decimal("0.24"),
        "output": Decimal(6),
    },
    ("qwen-plus", "beijing"): {
        "input": Decimal("0.8"),
        "cached": Decimal("0.16"),
        "output": Decimal(2),
    },
    ("qwen-plus", "singapore"): {
        "input": Decimal("0.4"),
        "cached": Decimal("0.08"),
        "output": Decimal("1.2"),
    },
}


def test_each_record_names_its_key_and_carries_its_cost(
    served: tuple[list[dict[str, Any]], Samples, str, Path],
) -> None:
    records, _, region, path = served
    assert len(records) == 4  # the refused request made no exchange
    currency = "CNY" if region == "beijing" else "USD"
    team_a = {"name": "team-a", "fingerprint": fingerprint(NAMED)}
    unnamed = {"name": None, "fingerprint": fingerprint(UNNAMED)}
    assert [r["key"] for r in records] == [team_a, team_a, team_a, unnamed]
    text = path.read_text()
    assert NAMED not in text
    assert UNNAMED not in text
    code_run, plain, unpriced, other = records
    assert unpriced["cost"] is None  # glm has no price in the table
    for record, family in ((code_run, "qwen3-max"), (plain, "qwen-plus"), (other, "qwen-plus")):
        cost = record["cost"]
        prices = PRICES[(family, region)]
        reasoned = record["usage"].get("completion_tokens_details", {}).get("reasoning_tokens")
        if reasoned and family == "qwen-plus":  # the one with a thinking-mode output price
            prices = {**prices, "output": Decimal(8 if region == "beijing" else 4)}
        assert (cost["currency"], cost["family"]) == (currency, family)
        assert Decimal(cost["amount"]) == expected_cost(record, prices)
        assert Decimal(cost["amount"]) > 0


def test_metrics_count_by_key_and_add_up_the_cost(
    served: tuple[list[dict[str, Any]], Samples, str, Path],
) -> None:
    records, samples, region, _ = served
    currency = "CNY" if region == "beijing" else "USD"
    exchanges = "dashscope_proxy_key_exchanges_total"
    assert samples.value(exchanges, key="team-a") == 3
    assert samples.value(exchanges, key=fingerprint(UNNAMED), model="qwen-plus") == 1
    recorded = sum(Decimal(r["cost"]["amount"]) for r in records[:2])
    counted = samples.value("dashscope_proxy_cost_total", key="team-a", currency=currency)
    assert counted == pytest.approx(float(recorded))
    # Label values are the configured keys only: never a key, never what a client sent.
    labels = {ls.get("key") for name, ls, _ in samples.rows if name.startswith("dashscope_proxy")}
    assert labels <= {None, "team-a", fingerprint(UNNAMED)}


def logs(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="dashscope-proxy")
    add_logs_parser(parser.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    code = run_logs(
        parser.parse_args(["logs", *argv]),
        clock=lambda: 0.0,
        sleep=lambda seconds: None,
        environ={},
        out=make_console(out, width=120),
        err=make_console(io.StringIO(), width=120),
    )
    return code, out.getvalue()


def test_logs_filter_by_key_and_total_the_cost_per_model_and_key(
    served: tuple[list[dict[str, Any]], Samples, str, Path],
) -> None:
    records, _, region, path = served
    symbol = "¥" if region == "beijing" else "$"
    by_name = logs("list", "--path", str(path), "--key", "team-a", "--json")[1]
    assert [orjson.loads(line)["id"] for line in by_name.splitlines()] == [
        r["id"] for r in reversed(records[:3])
    ]
    by_fingerprint = logs("list", "--path", str(path), "--key", fingerprint(UNNAMED).upper())
    assert records[3]["id"][:8] in by_fingerprint[1]
    assert records[0]["id"][:8] not in by_fingerprint[1]
    assert symbol in by_fingerprint[1]  # the cost column
    code, stats = logs("stats", "--path", str(path), "--json")
    assert code == 0
    totals = orjson.loads(stats)
    every = sum(Decimal(r["cost"]["amount"]) for r in records if r["cost"])
    currency = "CNY" if region == "beijing" else "USD"
    assert Decimal(totals["overall"]["cost"][currency]) == every
    assert totals["models"]["glm-4.6"]["cost"] == {}
    assert set(totals["keys"]) == {"team-a", fingerprint(UNNAMED)}
    assert totals["keys"]["team-a"]["exchanges"] == 3
    shown = logs("stats", "--path", str(path))[1]
    assert "proxy key" in shown
    assert "team-a" in shown
    assert symbol in shown
