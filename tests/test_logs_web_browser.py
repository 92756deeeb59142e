"""`dashscope-proxy logs web` in a real headless browser: Debian's Chromium driven by
Playwright (`executable_path`, so Playwright never downloads a browser of its own).

The list loads, a filter narrows it, an exchange page shows the code of a run, the live tail
adds an exchange appended meanwhile, a record full of markup runs none of it, and the pages
break none of their own Content-Security-Policy. Without Chromium these tests are skipped with
how to install it; under CI (`CI=true`, as `.ci/run` sets) they fail instead.

`python -m tests.test_logs_web_browser DIR` writes the screenshots docs/traffic-log.md shows.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.cli.web.app import create_web_app
from proxy.server.serving import BackgroundServer
from tests.test_logs_cli import CI_ID, NOW, T0, code_interpreter_record
from tests.test_logs_web import EVIL_ID, SCRIPT, newest_ids, sample_log

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HOW_TO_INSTALL = (
    "the browser tests of `logs web` need Chromium and Playwright: on Debian or Ubuntu, "
    "`apt-get install -y chromium` (then CHROMIUM=/path if it is not /usr/bin/chromium), and "
    "`pip install -c constraints.txt -e '.[dev]'` for Playwright"
)
TIMEOUT_MS = 15_000


def _missing() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}"
    return ""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}; under CI it is required: {HOW_TO_INSTALL}")
        pytest.skip(f"{missing}: {HOW_TO_INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Site:
    """A page in the browser, on a `logs web` server over a log of its own."""

    def __init__(self, page: Any, url: str, log: Path) -> None:
        self.page = page
        self.url = url
        self.log = log
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(message.text))
        page.on("dialog", lambda dialog: dialog.dismiss())  # an alert() would show here

    def open(self, path: str) -> Any:
        response = self.page.goto(self.url + path)
        assert response is not None
        return response

    def row_ids(self) -> list[str]:
        rows = self.page.locator("#rows tr[data-id]")
        return [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]


@pytest.fixture
def site(browser: Any, tmp_path: Path) -> Iterator[Site]:
    log = sample_log(tmp_path)
    app = create_web_app(str(log), token=None, clock=lambda: NOW)
    with BackgroundServer(app) as server:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        yield Site(context.new_page(), server.url, log)
        context.close()


def test_the_list_loads_every_exchange_newest_first(site: Site) -> None:
    assert site.open("/").status == 200
    assert site.row_ids() == newest_ids(site.log)
    assert site.page.locator("#count").inner_text() == str(len(newest_ids(site.log)))


def test_a_filter_narrows_the_list(site: Site) -> None:
    site.open("/")
    everything = site.row_ids()
    site.page.select_option("select[name=model]", "qwen-plus")
    site.page.get_by_role("button", name="Filter").click()
    site.page.wait_for_url("**/?model=qwen-plus*")
    narrowed = site.row_ids()
    assert narrowed
    assert len(narrowed) < len(everything)
    models = site.page.locator("#rows td.model").all_inner_texts()
    assert set(models) == {"qwen-plus"}
    site.page.check("input[name=errors]")
    site.page.get_by_role("button", name="Filter").click()
    site.page.wait_for_url("**errors=1*")
    assert site.page.locator("#rows td.model").all_inner_texts() == ["qwen-plus"]


def test_an_exchange_page_shows_the_code_of_a_run(site: Site) -> None:
    site.open("/")
    site.page.click(f'a[href="/exchange/{CI_ID}"]')
    site.page.wait_for_url(f"**/exchange/{CI_ID}")
    run = site.page.locator(".segment.code")
    assert run.locator(".label").inner_text().lower() == "code interpreter run 1"
    assert run.locator("pre").inner_text().strip() == "123**21"
    # The stylesheet applies under the policy: the number is coloured as a number.
    colour = run.locator("pre .mi").first.evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(5, 80, 174)"
    labels = site.page.locator(".segment .label").all_inner_texts()
    assert [label.lower() for label in labels] == [
        "user",
        "thinking",
        "code interpreter run 1",
        "thinking",
        "answer",
    ]


def test_the_live_tail_adds_an_exchange_appended_after_the_page_loaded(site: Site) -> None:
    site.open("/")
    before = site.row_ids()
    site.page.check("#live")
    late = code_interpreter_record("1a7e0000000000000000000000000001", NOW)
    with site.log.open("ab") as file:
        file.write(orjson.dumps(late) + b"\n")
    site.page.wait_for_selector(f'#rows tr.new[data-id="{late["id"]}"]')
    assert site.row_ids() == [late["id"], *before]
    assert site.page.locator("#rows tr.new").count() == 1


def test_a_malicious_record_runs_no_script_and_shows_as_text(site: Site) -> None:
    for path in ("/", f"/exchange/{EVIL_ID}", "/plots", "/?grep=pwned"):
        site.open(path)
        assert site.page.evaluate("window.__pwned") is None, path
        assert site.page.locator("main img, main script").count() == 0, path
    site.open(f"/exchange/{EVIL_ID}")
    shown = site.page.locator("main").inner_text()
    assert shown.count(SCRIPT) >= 6  # reasoning, answer, code, error, note, cost, request
    assert site.page.locator(".segment.code pre").inner_text().startswith('print("</pre>')


def test_the_pages_keep_to_their_own_content_security_policy(site: Site) -> None:
    for path in ("/", "/plots", f"/exchange/{CI_ID}", f"/exchange/{EVIL_ID}"):
        response = site.open(path)
        assert "default-src 'none'" in response.headers["content-security-policy"]
    site.open("/")
    with site.page.expect_response(lambda r: "/rows" in r.url) as poll:  # under connect-src
        site.page.check("#live")
    assert poll.value.status == 200
    refused = [line for line in site.console if "Content Security Policy" in line]
    assert refused == []


# ---- screenshots for docs/traffic-log.md -----------------------------------------------------


def two_run_record(directory: Path) -> dict[str, Any]:
    """The record the real proxy writes for the simulator's two-run answer, chunks captured."""
    import httpx

    from proxy.config import TrafficLogSettings
    from proxy.server.app import create_app
    from proxy.simulator import create_simulator_app
    from tests.conftest import SERVER_KEY, proxy_settings

    path = directory / "two-runs.jsonl"
    question = "Compute 123 to the power of 23, then divide it by 5. [sim:seed_two_runs]"
    body = {
        "model": "qwen3-max-preview",
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "enable_code_interpreter": True,
        "enable_thinking": True,
    }
    with BackgroundServer(create_simulator_app(frame_delay=0.02)) as simulator:
        traffic = TrafficLogSettings(path=str(path), capture_chunks=True)
        settings = replace(proxy_settings(simulator.url, api_key=SERVER_KEY), traffic_log=traffic)
        with BackgroundServer(create_app(settings)) as proxy:
            headers = {"authorization": "Bearer sk-fake-client"}
            url = f"{proxy.url}/v1/chat/completions"
            httpx.post(url, json=body, headers=headers, timeout=30).raise_for_status()
    record: dict[str, Any] = orjson.loads(path.read_bytes().splitlines()[0])
    return record


def screenshots(directory: Path) -> None:
    """The list (a two-hour sample, then a two-run exchange the real proxy recorded from the
    simulator, moved to the sample's end), that exchange, and the plots, as PNG files."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work:
        log = sample_log(Path(work), many=True, evil=False)
        record = two_run_record(Path(work))
        record["started_at"] = T0 + 600 + 40 * 170
        with log.open("ab") as file:
            file.write(orjson.dumps(record) + b"\n")
        app = create_web_app(str(log), token=None, clock=lambda: NOW)
        with BackgroundServer(app) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 720})
            page.goto(server.url + "/")
            page.screenshot(path=str(directory / "logs-web-list.png"))
            page.goto(server.url + f"/exchange/{record['id']}")
            page.screenshot(path=str(directory / "logs-web-exchange.png"), full_page=True)
            page.goto(server.url + "/plots")
            page.screenshot(path=str(directory / "logs-web-plots.png"), full_page=True)
            browser.close()


if __name__ == "__main__":
    screenshots(Path(sys.argv[1]))
