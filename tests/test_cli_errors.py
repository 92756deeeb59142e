"""What a mistyped command, a busy port or a bad config file looks like: one line on stderr that
says what is wrong, a documented exit code (2 usage or config, 3 cannot listen), no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli.main import main
from proxy.config import ENVIRONMENT

SCRIPT = str(Path(sys.executable).with_name("dashscope-proxy"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The console script as a user runs it; every case here ends before serving."""
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# ---- the real console script, for the cases the issue names ------------------------------------


def test_serve_with_an_impossible_port_says_so_in_one_line() -> None:
    done = run("serve", "--port", "99999")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "--port" in line
    assert "99999" in line
    assert "0 to 65535" in line


def test_serve_on_a_busy_port_says_so_in_one_line(busy_port: int) -> None:
    done = run("serve", "--port", str(busy_port))
    assert done.returncode == 3
    line = one_line(done.stderr)
    assert f"cannot listen on 127.0.0.1:{busy_port}" in line
    assert "in use" in line


def test_demo_serve_on_a_busy_port_says_so_in_one_line(busy_port: int, tmp_path: Path) -> None:
    done = run("demo", "--serve", "--port", str(busy_port), cwd=tmp_path)
    assert done.returncode == 3
    line = one_line(done.stderr)
    assert f"cannot listen on 127.0.0.1:{busy_port}" in line
    assert done.stdout == ""  # nothing claims the demo is up


# ---- the same rules, in process ---------------------------------------------------------------


def usage_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    return one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve", "--port", "http"], "argument --port: must be a port number from 0 to 65535"),
        (["serve", "--port", "-1"], "argument --port: must be a port number from 0 to 65535"),
        (["serve", "--host", ""], "argument --host: must not be empty"),
        (["serve", "--colour"], "unrecognized arguments: --colour"),
        (["demo", "--serve", "--port", "65536"], "argument --port: must be a port number"),
        (["demo", "--port", "8001"], "--port applies only with --serve"),
        (["sreve"], "invalid choice: 'sreve'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(args, capsys)
    assert says in line
    assert line.startswith("dashscope-proxy")
    assert "--help" in line  # where to look next


@pytest.mark.parametrize(("command", "prog"), [("serve", ""), ("logs list", " logs")])
def test_a_config_file_that_is_a_directory(
    command: str, prog: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command.split(), "--config", str(tmp_path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"dashscope-proxy{prog}: config error: cannot read {tmp_path}:")


def test_a_config_file_that_is_not_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "proxy.toml"
    config.write_bytes(b"\xff\xfe[server]\n")
    assert main(["serve", "--config", str(config)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"dashscope-proxy: config error: cannot read {config}:")
    assert "UTF-8" in line


def test_a_config_file_that_is_not_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text("[server\nport = 8000\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert "is not valid TOML" in one_line(capsys.readouterr().err)


def test_a_port_out_of_range_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DASHSCOPE_PROXY_PORT", "99999")
    assert main(["serve"]) == 2
    assert "[server] port must be between 0 and 65535" in one_line(capsys.readouterr().err)


# ---- what --help promises --------------------------------------------------------------------


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_serve_help_names_every_environment_variable_and_its_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_text("serve", capsys)
    for name, (section, key) in ENVIRONMENT.items():
        [line] = [line for line in text.splitlines() if name in line.split()]
        assert f"[{section}] {key}" in line


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_help_documents_the_exit_codes(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(command, capsys)
    codes = text[text.index("exit codes:") :]
    assert "2  " in codes
    assert "3  " in codes
    assert "cannot listen" in codes


def test_operations_doc_lists_the_same_exit_codes() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
    section = doc[doc.index("## Exit codes") :]
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in section
