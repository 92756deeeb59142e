"""The client venvs' lock files and setup (tests/client_venvs.py): each file pins what the
module says it holds, with a hash for every distribution, and a venv that cannot be built is
a skip on a developer's machine but a failure under CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import client_venvs

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+) \\\n    --hash=sha256:[0-9a-f]{64}$", re.MULTILINE)


@pytest.mark.parametrize("name", sorted(client_venvs.CLIENTS))
def test_each_lock_file_pins_its_client_and_hashes_every_distribution(name: str) -> None:
    text = client_venvs.requirements(name).read_text(encoding="utf-8")
    body = [line for line in text.splitlines() if not line.startswith("#")]
    pins = {n.lower(): v for n, v in _PIN.findall(text)}
    # Every line is part of a pin with its hash: nothing unhashed can be installed.
    assert len(body) == 2 * len(pins)
    for spec in client_venvs.CLIENTS[name]:
        wanted, version = spec.split("==")
        assert pins.get(wanted.lower()) == version, "regenerate: python -m tests.client_venvs"


def _failing(*_: object, **__: object) -> bool:
    raise RuntimeError("pip install failed (1): no registry")


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_an_install_that_fails_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(client_venvs, "ensure", _failing)
    monkeypatch.setattr(client_venvs, "WORK", tmp_path)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="could not install the instructor venv"):
        client_venvs.client_python("instructor")
