"""Virtual environments built from hash-locked requirements files, for Python tools that cannot
share the project's venv: the benchmark's LiteLLM arm, and the client libraries the tests run
(tests/client_venvs.py) whose pins conflict with the project's.

`lock` resolves what to install with pip itself (`pip install --dry-run --report`) in a scratch
venv, without installing it; the report names every distribution with the sha256 of the exact
file pip chose. `ensure` installs such a file with `--require-hashes --no-deps`, so nothing
unpinned or altered can slip in, and reuses the venv while the file is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Quiet and offline but for the registry itself: no check for a newer pip.
_PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def requirement_lines(report: dict[str, Any]) -> list[str]:
    """`name==version` with its file's sha256, for every distribution of a pip report."""
    lines = []
    for item in sorted(report["install"], key=lambda i: str(i["metadata"]["name"]).lower()):
        name = item["metadata"]["name"]
        version = item["metadata"]["version"]
        digest = item["download_info"]["archive_info"]["hashes"]["sha256"]
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    return lines


def lock(specs: Sequence[str], requirements: Path, header: str, work: Path) -> None:
    """Write `requirements`: `header` (comment lines), then `specs` fully resolved and hashed.
    `work` holds the scratch venv and pip's report."""
    work.mkdir(parents=True, exist_ok=True)
    env_dir = work / "venv"
    if not (env_dir / "bin" / "pip").exists():
        venv.create(env_dir, with_pip=True)
    report_path = work / "report.json"
    pip = [str(env_dir / "bin" / "pip"), "install", "--quiet", "--dry-run", "--ignore-installed"]
    subprocess.run([*pip, "--report", str(report_path), *specs], check=True)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    python = f"CPython {sys.version_info.major}.{sys.version_info.minor}"
    header = header.replace("{python}", python)
    requirements.write_text(header + "\n".join(requirement_lines(report)) + "\n", encoding="utf-8")


def ensure(env_dir: Path, requirements: Path, *, timeout: float) -> bool:
    """Build `env_dir` from `requirements` unless it was built from this very file; whether it
    was built now. Raises RuntimeError, with pip's last words, when pip fails or overruns
    `timeout` seconds (no registry, a file that no longer matches its hash, ...)."""
    env_dir = env_dir.resolve()
    python = env_dir / "bin" / "python"
    marker = env_dir / "requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and marker.exists() and marker.read_text().strip() == digest:
        return False
    venv.create(env_dir, with_pip=True, clear=True)
    install = ["install", "--quiet", "--require-hashes", "--no-deps", "-r", str(requirements)]
    try:
        done = subprocess.run(
            [str(python), "-m", "pip", *install],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **_PIP_ENV},
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"pip install took over {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise RuntimeError(f"pip install failed ({done.returncode}): {done.stderr[-2000:]}")
    marker.write_text(digest)
    return True
