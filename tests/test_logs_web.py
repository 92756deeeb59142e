"""`dashscope-proxy logs web` over plain HTTP (Starlette's TestClient): the pages, the filters,
the token, the refusal of a non-loopback bind without one, and escaping of what a record holds.
The browser tests (tests/test_logs_web_browser.py) use the same sample log."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from proxy.cli.main import main
from proxy.cli.web.app import create_web_app
from proxy.cli.web.command import TOKEN_ENV
from proxy.cli.web.guard import COOKIE
from proxy.cli.web.source import FILTER_NAMES
from proxy.inspect.files import read_log
from proxy.inspect.query import Filter, select
from tests.test_logs_cli import CI_ID, FIXTURE_IDS, NOW, T0, code_interpreter_record, write_log
from tests.test_logs_responses import QUESTION, RESULT
from tests.test_logs_responses import write_log as write_responses_log

EVIL_ID = "e0e0e0e0000000000000000000000bad"
SCRIPT = "<script>window.__pwned = 1</script>"
EVIL_MODEL = '"><img src=x onerror="window.__pwned=2">'
TOKEN = "sk-fake-web-token-0123456789"
MODELS = ("qwen3-max-preview", "qwen-plus", "qwen-flash", "qwen3-coder-plus")
KEYS = ("billing", "search", None)  # the names of three proxy keys, the last unnamed


def malicious_record() -> dict[str, Any]:
    """A record whose every free-text field carries markup that would run if not escaped."""
    record = code_interpreter_record(EVIL_ID, T0 + 500)
    record["model"] = EVIL_MODEL
    record["request"]["messages"][0]["content"] = f"hi {SCRIPT}"
    record["response"]["choices"][0]["message"]["content"] = f"answer {SCRIPT}"
    record["response"]["choices"][0]["message"]["reasoning_content"] = f"think {SCRIPT}"
    record["response"]["code_runs"] = [f'print("</pre>{SCRIPT}")  # {SCRIPT}']
    record["outcome"] = "error"
    record["error"] = {"type": "server_error", "code": SCRIPT, "message": SCRIPT}
    record["notes"] = [SCRIPT]
    record["cost"] = {"amount": "0.5", "currency": SCRIPT, "family": SCRIPT, "prices_as_of": ""}
    record["key"] = {"name": SCRIPT, "fingerprint": "0badc0de"}
    del record["chunks"]  # the folded response is what the page shows
    return record


def sample_log(directory: Path, *, many: bool = False, evil: bool = True) -> Path:
    """The `logs` fixture log (rotated file, errors, a cancelled exchange, several models, a
    corrupt line, code-interpreter exchanges) and the malicious record (unless not `evil`);
    with `many`, forty more exchanges over two hours, for the plots and the screenshots."""
    path = write_log(directory)
    extra = [malicious_record()] if evil else []
    if many:
        base = code_interpreter_record(CI_ID, T0)
        for n in range(40):
            extra.append(_variant(base, n))
    with path.open("ab") as file:
        for record in extra:
            file.write(orjson.dumps(record) + b"\n")
    return path


def _variant(base: dict[str, Any], n: int) -> dict[str, Any]:
    """Exchange `n` of a spread: models in turn, timings that vary, an error now and then."""
    record = copy.deepcopy(base)
    model = MODELS[n % len(MODELS)]
    first = 180.0 + (n * 137) % 700 + 400 * (n % len(MODELS))
    record.update(id=_variant_id(n), model=model)
    record.update(started_at=T0 + 600 + n * 170 + (n * 53) % 90)
    record["timings_ms"] = {
        "upstream_first_frame": first - 40,
        "first_byte": first,
        "total": first + 900 + (n * 911) % 5200,
    }
    record["cost"] = {
        "amount": f"{0.0004 + (n % 7) * 0.00037:.5f}",
        "currency": "CNY",
        "family": model.removesuffix("-preview"),
        "prices_as_of": "2026-10-11",
    }
    record["key"] = {"name": KEYS[n % 3], "fingerprint": f"{n % 3 + 10:08x}"}
    if n % 9 == 4:
        record.update(status=429, outcome="error")
        record["error"] = {"type": "requests", "code": "Throttling", "message": "rate limited"}
    return record


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return sample_log(tmp_path)


def client_for(log: Path, token: str | None = None, host: str = "127.0.0.1") -> TestClient:
    app = create_web_app(str(log), token=token, clock=lambda: NOW)
    return TestClient(app, base_url=f"http://{host}:8001")


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page)


def newest_ids(log: Path) -> list[str]:
    """What `logs list --json --limit 0` lists for the same log: the order the page must show."""
    return [r["id"] for r in select(read_log(log).records, Filter())]


# ---- the list and its filters ----------------------------------------------------------------


def test_the_list_shows_every_exchange_newest_first_like_logs_list(log: Path) -> None:
    page = client_for(log).get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert row_ids(page.text) == newest_ids(log)
    assert "1 corrupt line(s) skipped" in page.text


def test_the_list_filters_are_those_of_logs_list(log: Path) -> None:
    client = client_for(log)
    by_model = row_ids(client.get("/", params={"model": "qwen-plus"}).text)
    assert sorted(by_model) == sorted([FIXTURE_IDS[0], FIXTURE_IDS[4], FIXTURE_IDS[5]])
    assert row_ids(client.get("/", params={"status": "429"}).text) == [FIXTURE_IDS[4]]
    errors = row_ids(client.get("/", params={"errors": "1"}).text)
    assert set(errors) == {EVIL_ID, FIXTURE_IDS[2], FIXTURE_IDS[3], FIXTURE_IDS[4]}
    # NOW is an hour after T0: the last 5 minutes hold nothing of the fixture's first hour.
    assert row_ids(client.get("/", params={"since": "5m"}).text) == []
    recent = row_ids(client.get("/", params={"since": "56m"}).text)
    assert FIXTURE_IDS[0] in recent
    assert FIXTURE_IDS[5] not in recent
    assert row_ids(client.get("/", params={"grep": "HANGZHOU"}).text) == [FIXTURE_IDS[1]]
    both = client.get("/", params={"model": "qwen-plus", "errors": "1"})
    assert row_ids(both.text) == [FIXTURE_IDS[4]]
    assert 'value="qwen-plus" selected' in both.text  # the form shows the filter in force


def test_a_filter_the_page_cannot_read_is_a_400_that_says_why(log: Path) -> None:
    client = client_for(log)
    page = client.get("/", params={"since": "yesterday-ish"})
    assert page.status_code == 400
    assert "give a duration like 10m" in page.text
    assert row_ids(page.text) == []
    assert client.get("/", params={"status": "4xx"}).status_code == 400
    assert client.get("/rows", params={"since": "soon"}).status_code == 400
    plots = client.get("/plots", params={"since": "soon"})
    assert plots.status_code == 400
    assert "give a duration like 10m" in plots.text


def test_a_log_not_written_yet_is_an_empty_list_that_fills_in(tmp_path: Path) -> None:
    log = tmp_path / "traffic.jsonl"
    client = client_for(log)
    page = client.get("/")
    assert page.status_code == 200
    assert row_ids(page.text) == []
    assert client.get("/plots").status_code == 200
    log.write_bytes(orjson.dumps(code_interpreter_record(CI_ID, NOW)) + b"\n")
    assert row_ids(client.get("/rows").text) == [CI_ID]


def test_the_live_tail_rows_include_an_exchange_appended_after_the_page_loaded(
    log: Path,
) -> None:
    client = client_for(log)
    first = row_ids(client.get("/rows", params={"model": MODELS[0]}).text)
    late = code_interpreter_record("1a7e0000000000000000000000000001", NOW)
    with log.open("ab") as file:
        file.write(orjson.dumps(late) + b"\n")
    again = row_ids(client.get("/rows", params={"model": MODELS[0]}).text)
    assert again == [late["id"], *first]
    assert (
        'data-src="/rows?model=qwen3-max-preview&amp;limit=50"'
        in client.get("/", params={"model": MODELS[0]}).text
    )


def test_the_page_follows_the_log_through_rotation_and_truncation(log: Path) -> None:
    client = client_for(log)
    before = newest_ids(log)
    assert row_ids(client.get("/", params={"limit": "200"}).text) == before
    # The writer's rotation: .1 -> .2, the live file -> .1, a new live file.
    rotated = log.with_name(log.name + ".1")
    rotated.rename(log.with_name(log.name + ".2"))
    log.rename(rotated)
    late = code_interpreter_record("1a7e0000000000000000000000000002", NOW)
    log.write_bytes(orjson.dumps(late) + b"\n")
    after = row_ids(client.get("/", params={"limit": "200"}).text)
    assert after == [late["id"], *before]
    # Emptied in place: what was read from it before is gone from the page too.
    rotated.write_bytes(b"")
    shown = row_ids(client.get("/", params={"limit": "200"}).text)
    assert shown == newest_ids(log)
    assert len(shown) < len(after)


def test_the_limit_caps_the_rows_and_says_how_many_matched(tmp_path: Path) -> None:
    log = sample_log(tmp_path, many=True)
    page = client_for(log).get("/").text
    assert len(row_ids(page)) == 50
    assert f"shown of {len(newest_ids(log))} matching" in page
    assert len(row_ids(client_for(log).get("/", params={"limit": "200"}).text)) > 50


# ---- an exchange -----------------------------------------------------------------------------


def test_an_exchange_page_is_its_timeline_with_the_code_highlighted(log: Path) -> None:
    page = client_for(log).get(f"/exchange/{CI_ID[:8]}")  # a unique prefix is enough
    assert page.status_code == 200
    html = page.text
    order = [html.index(part) for part in ("Thinking", "Code interpreter run 1", "Answer")]
    assert order == sorted(order)
    code = re.search(r'<pre class="hl">(.*?)</pre>', html, re.S)
    assert code is not None
    assert re.sub(r"<[^>]+>", "", code.group(1)).strip() == "123**21"
    assert '<span class="mi">123</span>' in html  # a number, highlighted
    assert "What is 123 to the power of 21?" in html
    for shown in ("734", "263", "171 reasoning", "first byte 20 ms", "total 30 ms"):
        assert shown in html


def test_an_exchange_shows_its_error_and_its_cost_when_the_record_has_one(log: Path) -> None:
    client = client_for(log)
    failed = client.get(f"/exchange/{FIXTURE_IDS[4]}").text
    assert "Throttling" in failed
    assert "429 error" in failed
    assert ">cost<" not in failed  # no cost recorded, none shown
    evil = client.get(f"/exchange/{EVIL_ID}").text
    assert "0.5 &lt;script&gt;" in evil


def test_an_unknown_or_ambiguous_id_is_a_404_that_says_so(log: Path) -> None:
    client = client_for(log)
    missing = client.get("/exchange/ffffffff")
    assert missing.status_code == 404
    assert "no exchange with an id starting" in missing.text
    ambiguous = client.get("/exchange/1a2b")
    assert ambiguous.status_code == 404
    assert "matches 2 exchanges" in ambiguous.text
    assert set(row_ids(ambiguous.text)) == {FIXTURE_IDS[0], FIXTURE_IDS[5]}


def test_cost_and_key_are_columns_when_the_records_have_them(tmp_path: Path) -> None:
    log = sample_log(tmp_path, many=True, evil=False)
    client = client_for(log)
    page = client.get("/", params={"model": MODELS[1]}).text
    assert "<th>key</th>" in page
    assert '<th class="num">cost</th>' in page
    assert '<td class="num cost">0.00077 CNY</td>' in page  # amounts as recorded: exact
    assert '<td class="key">search (0000000b)</td>' in page
    assert '<td class="key">0000000c</td>' in page  # an unnamed key: its fingerprint
    rows = client.get("/rows", params={"model": MODELS[1], "columns": "key,cost"}).text
    assert rows.count("<tr") == rows.count('class="num cost"') > 0  # the tail keeps them
    plain = client.get("/", params={"model": "qwen3-max"}).text  # the fixture: neither
    assert "cost</th>" not in plain
    assert "key</th>" not in plain
    shown = client.get(f"/exchange/{_variant_id(1)}").text
    assert "0.00077 CNY (qwen-plus 2026-10-11 prices)" in shown
    assert "search (0000000b)" in shown


def _variant_id(n: int) -> str:
    return f"{n + 1:04x}a5e0000000000000000000{n:06x}"


def test_the_key_filter_of_logs_list_is_on_the_page_too(tmp_path: Path) -> None:
    """Each `Filter` field is a query parameter and a form field, `--key` included."""
    if "key" not in FILTER_NAMES:
        pytest.skip("this tree's `logs list` has no --key filter yet")
    log = sample_log(tmp_path, many=True, evil=False)
    client = client_for(log)
    page = client.get("/", params={"key": "search", "limit": "200"}).text
    assert 'name="key" value="search"' in page
    assert sorted(row_ids(page)) == sorted(_variant_id(n) for n in range(40) if n % 3 == 1)
    by_fingerprint = row_ids(client.get("/", params={"key": "0000000c"}).text)
    assert sorted(by_fingerprint) == sorted(_variant_id(n) for n in range(40) if n % 3 == 2)


# ---- plots -----------------------------------------------------------------------------------


def test_the_plots_draw_one_dot_per_timed_exchange_and_a_bar_per_model(log: Path) -> None:
    client = client_for(log)
    page = client.get("/plots").text
    timed_first = sum(1 for r in _records(log) if r["timings_ms"]["first_byte"] is not None)
    first_plot = page.split("Total time, over time")[0]
    assert first_plot.count("<circle") == timed_first
    assert page.count("<svg") == 4
    narrowed = client.get("/plots", params={"model": "qwen-plus"}).text
    assert narrowed.split("Total time, over time")[0].count("<circle") == 2  # one lacks it


def _records(log: Path) -> list[dict[str, Any]]:
    return read_log(log).records


# ---- escaping and headers --------------------------------------------------------------------


def test_record_content_is_escaped_on_every_page(log: Path) -> None:
    client = client_for(log)
    for url in ("/", "/rows", f"/exchange/{EVIL_ID}", "/plots", "/exchange/e0e0"):
        html = client.get(url).text
        assert "<script>window" not in html, url
        assert "<img src=x" not in html, url
    evil = client.get(f"/exchange/{EVIL_ID}").text
    assert evil.count("&lt;script&gt;window.__pwned = 1&lt;/script&gt;") >= 6
    assert "&lt;/pre&gt;&lt;script&gt;" in evil  # inside the highlighted code too
    form = client.get("/", params={"grep": '"><script>x</script>'}).text
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in form


def test_every_answer_carries_the_content_security_policy(log: Path) -> None:
    client = client_for(log)
    for url in ("/", "/plots", f"/exchange/{CI_ID}", "/exchange/nope", "/static/web.js"):
        response = client.get(url)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "'unsafe-inline'" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    refused = client_for(log, token=TOKEN).get("/")
    assert "default-src 'none'" in refused.headers["content-security-policy"]


def test_the_pages_are_read_only(log: Path) -> None:
    client = client_for(log)
    assert client.post("/", data={"model": "x"}).status_code == 405
    assert client.delete(f"/exchange/{CI_ID}").status_code == 405


# ---- who may read ----------------------------------------------------------------------------


def test_with_a_token_every_request_needs_it(log: Path) -> None:
    client = client_for(log, token=TOKEN)
    refused = client.get("/")
    assert refused.status_code == 401
    assert TOKEN not in refused.text
    assert client.get("/", headers={"Authorization": "Bearer sk-fake-wrong"}).status_code == 401
    bearer = client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200
    assert row_ids(bearer.text)
    client.cookies.set(COOKIE, "sk-fake-wrong")
    assert client.get("/plots").status_code == 401


def test_a_token_in_the_address_becomes_a_cookie_and_leaves_the_address(log: Path) -> None:
    client = client_for(log, token=TOKEN)
    login = client.get(f"/?model=qwen-plus&token={TOKEN}", follow_redirects=False)
    assert login.status_code == 303
    assert login.headers["location"] == "/?model=qwen-plus"
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert client.get("/rows").status_code == 200  # the client kept the cookie
    stranger = client_for(log, token=TOKEN)
    assert stranger.get("/?token=sk-fake-wrong", follow_redirects=False).status_code == 401


def test_without_a_token_only_a_loopback_host_header_is_answered(log: Path) -> None:
    for host in ("localhost:8001", "127.0.0.1", "[::1]:8001", "app.localhost"):
        assert client_for(log).get("/", headers={"host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8001", "10.0.0.1:8001", "127.0.0.1.nip.io"):
        assert client_for(log).get("/", headers={"host": host}).status_code == 421, host
    # With a token the token decides: a name on the network is fine.
    client = client_for(log, token=TOKEN, host="logs.internal")
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_bind_beyond_loopback_without_a_token_is_refused(
    log: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    for host in ("0.0.0.0", "::", "192.0.2.7", "example.com"):
        code = main(["logs", "web", "--path", str(log), "--host", host, "--port", "0"])
        assert code == 2
        message = capsys.readouterr().err
        assert f"refusing to serve the traffic log on {host} without a token" in message
        assert "--token" in message
    short = main(["logs", "web", "--path", str(log), "--host", "0.0.0.0", "--token", "abc"])
    assert short == 2
    assert "at least 16 characters" in capsys.readouterr().err


def test_the_command_serves_the_pages_on_loopback_until_stopped(log: Path) -> None:
    """`dashscope-proxy logs web --port 0` as a user runs it: the address it prints answers."""
    environ = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    command = [sys.executable, "-m", "proxy", "logs", "web", "--path", str(log), "--port", "0"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=environ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline()
            url = re.search(r"http://127\.0\.0\.1:\d+/", line)
            assert url is not None, line
            assert str(log) in line
            page = httpx.get(url.group(0), timeout=10)
            assert page.status_code == 200
            assert row_ids(page.text) == newest_ids(log)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize("capture_chunks", [True, False])
def test_a_responses_api_exchange_shows_its_question_code_and_answer(
    tmp_path: Path, capture_chunks: bool
) -> None:
    """Written by a real proxy, events captured (stream order) or not (the folded summary)."""
    log = tmp_path / "traffic.jsonl"
    ids = write_responses_log(log, capture_chunks=capture_chunks)
    client = client_for(log)
    for exchange_id in ids.values():
        assert client.get(f"/exchange/{exchange_id}").status_code == 200
    html = client.get(f"/exchange/{ids['streamed']}").text
    assert QUESTION in html
    assert "Code interpreter run 1" in html
    assert RESULT in html
    assert html.index("Code interpreter run 1") < html.index("Answer")
    weather = client.get(f"/exchange/{ids['function']}").text
    assert "Tool call" in weather
    assert "get_weather" in weather
