"""CI runs what the README tells a newcomer to run: `.ci/run` holds the README's test command
verbatim, and stops when any step of it fails (pytest's exit 5, no tests collected, included)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The commands of the README's first shell block, the two a newcomer runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert found is not None, "the README starts with a ```sh block"
    return found.group(1).splitlines()


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    test_command = readme_commands()[1]
    assert test_command.endswith(".venv/bin/pytest"), test_command
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "set -euo pipefail" in lines
    # `|| exit $?`: set -e alone would go on after a failed venv or pip step of the && list.
    assert f"{test_command} || exit $?" in lines
