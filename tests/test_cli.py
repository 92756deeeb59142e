"""The command line and the demo that the README's first command runs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from proxy.cli.demo import run_demo

from proxy import __version__
from proxy.cli.main import main


def test_demo_shows_thinking_code_and_answer_through_the_openai_sdk(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(out=out, traffic_log=str(tmp_path / "demo.jsonl")) == 0
    text = out.getvalue()
    thinking = text.index("== thinking ==")
    code = text.index("== code run 1 ==")
    answer = text.index("== answer ==")
    assert thinking < code < answer
    assert "```python\n123**21\n```" in text
    assert "77269364466549865653073473388030061522211723" in text[answer:]
    assert "[finish_reason: stop]" in text
    assert "interpreter runs 1" in text
    assert "\033[" not in text  # not a terminal: no colour codes


def test_serve_refuses_a_bad_config_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nport = "http"\n')
    assert main(["serve", "--config", str(config)]) == 2
    assert "[server] port" in capsys.readouterr().err


def test_serve_reports_a_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_python_dash_m_proxy_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == f"dashscope-proxy {__version__}"


def test_after_the_demo_logs_list_and_show_need_no_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's promise: run the demo, then `logs list` and `logs show <id>`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DASHSCOPE_PROXY_TRAFFIC_LOG", raising=False)
    assert main(["demo"]) == 0
    assert "dashscope-proxy logs list" in capsys.readouterr().out
    assert main(["logs", "list", "--json"]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert record["response"]["code_runs"] == ["123**21"]
    assert main(["logs", "show", record["id"][:8]]) == 0
    shown = capsys.readouterr().out
    assert "123**21" in shown
    assert "77269364466549865653073473388030061522211723" in shown
    assert main(["logs", "replay", record["id"][:8]]) == 0
    assert "matches" in capsys.readouterr().out
