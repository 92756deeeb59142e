"""The README's streaming snippet, run as written against the proxy in front of the simulator:
only the URL differs. It must print thinking, code and answer as separate, labelled sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import fenced_python

README = Path(__file__).resolve().parent.parent / "README.md"
README_URL = "http://127.0.0.1:8000/v1"
SEED_ANSWER = "77269364466549865653073473388030061522211723"


def snippet(name: str) -> str:
    return fenced_python(README, name, README_URL)


def sections(printed: str) -> list[tuple[str, str]]:
    """(heading, text) in the order printed."""
    parts = re.split(r"^== (.+) ==\n", printed, flags=re.MULTILINE)
    assert parts[0] == "", "text before the first heading"
    return [(name, text.strip()) for name, text in zip(parts[1::2], parts[2::2], strict=True)]


def test_the_streaming_snippet_prints_labelled_sections(
    passthrough_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = snippet("readme-stream").replace(README_URL, f"{passthrough_url}/v1")
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    printed = sections(capsys.readouterr().out)
    assert [name for name, _ in printed] == [
        "thinking",
        "code run 1",
        "thinking",
        "answer",
        "usage",
    ]
    assert printed[0][1].startswith("The user is asking me to calculate 123")
    assert printed[1][1] == '{"code": "123**21"}'
    assert SEED_ANSWER in printed[2][1]  # thinking about the run's result
    assert printed[3][1] == f"123 to the power of 21 is:\n\n{SEED_ANSWER}"
    assert re.fullmatch(r"\d+ tokens", printed[4][1])
