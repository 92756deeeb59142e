"""Every `logs` table at 80 columns (what a pipe gets) and wide: no column lost, no value cut,
headers that can be told apart, no trailing spaces (issue 14, "A log that tells the truth").

The log is the fixture log with error rows that ran the interpreter, a cancelled exchange and
a long model name: the rows that lost their `runs` column before.
"""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.cli.main import main
from proxy.inspect.commands import add_logs_parser, run_logs
from proxy.inspect.render import make_console
from tests.test_logs_cli import ALL_IDS, CI_ID, NOW, T0, code_interpreter_record, write_log

ERROR_WITH_RUNS = "e1e1e1e1000000000000000000000009"
LONG_MODEL = "qwen3-coder-plus-2025-09-23-some-long-deployment"
COST = ("0.000123", "USD")  # as wide as a cost gets: two significant digits, 4 zeros


def error_after_a_run(
    exchange_id: str, model: str, offset: float, cost: tuple[str, str]
) -> dict[str, Any]:
    record = code_interpreter_record(exchange_id, T0 + offset)
    amount, currency = cost
    record.update(model=model, outcome="error")
    record["cost"] = {"amount": amount, "currency": currency, "family": model, "prices_as_of": ""}
    record["error"] = {
        "type": "invalid_request_error",
        "code": "DataInspectionFailed",
        "message": "Output data may contain inappropriate content.",
        "status": 400,
    }
    return record


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = write_log(tmp_path)
    with path.open("ab") as file:
        for record in (
            error_after_a_run(ERROR_WITH_RUNS, "qwen3-max-preview", 500, ("0.0045", "CNY")),
            error_after_a_run("e2e2e2e2000000000000000000000010", LONG_MODEL, 510, COST),
        ):
            file.write(orjson.dumps(record) + b"\n")
    return path


def logs(width: int, *argv: str) -> str:
    parser = argparse.ArgumentParser(prog="dashscope-proxy")
    add_logs_parser(parser.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    code = run_logs(
        parser.parse_args(["logs", *argv]),
        clock=lambda: NOW,
        sleep=lambda seconds: (_ for _ in ()).throw(KeyboardInterrupt),
        environ={},
        out=make_console(out, width=width),
        err=make_console(io.StringIO(), width=width),
    )
    assert code == 0
    return out.getvalue()


def assert_fits(output: str, width: int) -> None:
    for line in output.splitlines():
        assert len(line) <= width, f"wider than {width}: {line!r}"
        assert line == line.rstrip(), f"trailing spaces: {line!r}"
    assert "…" not in output, "a value was cut"


def rows(output: str) -> dict[str, str]:
    """Each exchange's row, by the 8 characters of its id (with a folded model's next line)."""
    found: dict[str, str] = {}
    last = ""
    for line in output.splitlines():
        words = line.split()
        if len(words) > 3 and re.fullmatch(r"[0-9a-f]{8}", words[3]):
            last = words[3]
            found[last] = line
        elif last and line.startswith(" "):
            found[last] += "\n" + line
    return found


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("command", [["list"], ["tail", "-n", "50"], ["tail", "-f", "-n", "50"]])
def test_rows_keep_every_column_at_any_width(log: Path, width: int, command: list[str]) -> None:
    output = logs(width, *command, "--path", str(log))
    assert_fits(output, width)
    header = " ".join(output.split("─")[0].split())
    columns = ("time", "id", "model", "status", "1st", "byte", "total", "tokens", "runs", "cost")
    for name in columns:
        assert name in header.split()
    found = rows(output)
    assert {i[:8] for i in [*ALL_IDS, ERROR_WITH_RUNS]} <= set(found)
    for exchange, cost in ((CI_ID, "-"), (ERROR_WITH_RUNS, "¥0.0045")):
        first_line = found[exchange[:8]].splitlines()[0]
        assert first_line.split()[-2:] == ["1", cost], first_line  # the run, on an error row too
        assert "734/263" in first_line
    assert found["e2e2e2e2"].splitlines()[0].endswith(" $0.00012")
    assert "200 error" in found[ERROR_WITH_RUNS[:8]]
    cancelled = next(row for row in found.values() if " 499 " in row)
    assert "cancelled" in cancelled, "the outcome went under its status, not away"
    if width >= 200:
        assert "499 cancelled" in output
    header_line = next(line for line in output.splitlines() if " model " in line)
    start, end = header_line.index(" model ") + 1, header_line.index(" status")
    model = "".join(line[start:end].strip() for line in found["e2e2e2e2"].splitlines())
    assert model == LONG_MODEL, "the model was cut"
    if width >= 200:
        assert len(found[CI_ID[:8]].splitlines()) == 1


@pytest.mark.parametrize("width", [80, 200])
def test_stats_headers_can_be_told_apart(log: Path, width: int) -> None:
    output = logs(width, "stats", "--path", str(log))
    assert_fits(output, width)
    tables = output.split("\n\n")[1:]
    for table in tables:
        lines = table.splitlines()
        rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
        header = lines[:rule]
        columns = column_headers(header)
        assert len(columns) == len(set(columns)), columns  # no two alike
    assert re.search(r"1st byte +1st byte +1st byte +total +total +total", output)
    assert re.search(r"latency +p50 +p95 +p99 +p50 +p95 +p99", output)
    for name in ("exchanges", "errors", "error", "rate", "prompt", "output", "reasoning"):
        assert name in output


def column_headers(lines: list[str]) -> list[str]:
    """A table's column headers, each line's words joined down each column (right-aligned
    headers end in the same place on every line)."""
    last = lines[-1]
    columns = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", last)]
    headers = []
    for start, end, word in columns:
        above = [line[start:end].strip() for line in lines[:-1] if line[start:end].strip()]
        headers.append(" ".join([*above, word]))
    return headers


def test_stats_fold_a_long_model_name_without_cutting_it(log: Path) -> None:
    output = logs(80, "stats", "--path", str(log))
    assert LONG_MODEL[:20] in output
    assert LONG_MODEL[-10:] in output.replace("\n", " ")


def test_piped_output_has_no_trailing_spaces(
    log: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for command in (["list"], ["stats"], ["show", CI_ID[:8]], ["replay", CI_ID[:8]]):
        assert main(["logs", *command, "--path", str(log)]) == 0
        output = capsys.readouterr().out
        assert output
        assert_fits(output, 80)
