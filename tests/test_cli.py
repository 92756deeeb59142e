"""The command line and the demo that the README's first command runs."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from proxy import __version__
from proxy.cli.demo import command_name, run_demo
from proxy.cli.main import main
from proxy.simulator import SCENARIOS


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


# ---- commands the demo prints work as written -------------------------------------------------


def console_script(where: Path) -> Path:
    script = where / ".venv" / "bin" / "dashscope-proxy"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def test_the_demo_names_the_venv_script_it_was_run_as(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README runs `.venv/bin/dashscope-proxy demo` without activating the venv."""
    script = console_script(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    python = str(script.with_name("python"))
    name = command_name(".venv/bin/dashscope-proxy", python, tmp_path)
    assert name == ".venv/bin/dashscope-proxy"
    # `python -m proxy demo`: the script beside the interpreter.
    assert command_name("/somewhere/proxy/__main__.py", python, tmp_path) == name
    # From elsewhere, the whole path.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert command_name(str(script), python, elsewhere) == str(script)
    assert command_name("dashscope-proxy", python, script.parent) == "./dashscope-proxy"


def test_the_demo_names_the_bare_command_when_it_is_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = console_script(tmp_path)
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert command_name(str(script), str(script.with_name("python")), tmp_path) == "dashscope-proxy"


def test_the_demo_falls_back_to_the_bare_command(tmp_path: Path) -> None:
    python = str(tmp_path / "bin" / "python")  # no console script beside it
    assert command_name("/x/proxy/__main__.py", python, tmp_path) == "dashscope-proxy"


def test_a_path_with_spaces_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = console_script(tmp_path / "my repo")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert command_name(str(script), sys.executable, tmp_path) == (
        "'my repo/.venv/bin/dashscope-proxy'"
    )


def test_demo_serve_lists_the_scenarios_and_stops_on_sigterm(tmp_path: Path) -> None:
    lines: list[str] = []
    with (
        (tmp_path / "stderr.log").open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "proxy", "demo", "--serve", "--port", "0"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ) as demo,
    ):
        assert demo.stdout is not None
        try:
            while not lines or not lines[-1].endswith("Ctrl-C stops.\n"):
                line = demo.stdout.readline()
                assert line, f"the demo ended early: {(tmp_path / 'stderr.log').read_text()}"
                lines.append(line)
            demo.send_signal(signal.SIGTERM)
            assert demo.wait(10) == 0
        finally:
            if demo.poll() is None:
                demo.kill()
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()
    text = "".join(lines)
    listed = text[text.index("[sim:NAME]") :].replace("\n", " ")
    for name in SCENARIOS:
        assert f" {name}," in listed or f" {name} " in listed, name
    venv_script = Path(sys.executable).with_name("dashscope-proxy")
    assert f"{venv_script} logs list" in text  # run from elsewhere: the whole path
