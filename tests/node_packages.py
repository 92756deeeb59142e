"""The Node packages the client tests run (tests/node/package-lock.json): the openai-node SDK
and the Codex CLI, installed by `npm ci` only when `tests/node/node_modules` is missing or does
not match the lock file. Tests that need them skip only when `node` or `npm` is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import exclusive

NODE_DIR = Path(__file__).parent / "node"


def _installed_matches_lock() -> bool:
    """Every package the lock file names is installed, at the locked version; an optional one
    (the Codex CLI's binary for another platform) may be absent."""
    lock = json.loads((NODE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    for path, entry in lock["packages"].items():
        if not path.startswith("node_modules/"):
            continue
        manifest = NODE_DIR / path / "package.json"
        if not manifest.is_file():
            if entry.get("optional"):
                continue
            return False
        if json.loads(manifest.read_text(encoding="utf-8")).get("version") != entry["version"]:
            return False
    return True


def node_packages() -> str:
    """`node`'s path, once the locked packages are installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the Node client tests need `node` and `npm` on PATH")
    # Checked and installed under a lock: another xdist worker or pytest run may be doing the
    # same, and two `npm ci` into one node_modules break each other.
    with exclusive(NODE_DIR / "package-lock.json"):
        if not _installed_matches_lock():
            install = subprocess.run(
                [npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if install.returncode != 0:
                pytest.fail(f"npm ci failed:\n{install.stdout}\n{install.stderr}")
    return node
