"""The tree keeps the shape docs/architecture.md describes: small units, and pure packages that
only import pure packages (ruff's banned-API rule covers the standard library and frameworks;
this covers our own shell)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROXY = Path(__file__).resolve().parent.parent / "proxy"
PURE = ("core", "chat", "responses", "traffic", "inspect")
SHELL = ("server", "cli", "simulator")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return sorted(PROXY.rglob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PROXY)))
def test_no_function_over_60_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"split these: {long}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PROXY)))
def test_no_module_over_400_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_no_shell_package(package: str) -> None:
    for path in sorted((PROXY / package).rglob("*.py")):
        imported = _imports(ast.parse(path.read_text(encoding="utf-8")))
        shell = {name for name in imported for s in SHELL if name.startswith(f"proxy.{s}")}
        assert not shell, f"{path.relative_to(PROXY)} imports the shell: {sorted(shell)}"


def test_every_module_lives_in_a_package_that_says_what_it_is() -> None:
    top = {p.name for p in PROXY.iterdir() if not p.name.startswith("__pycache__")}
    packages = {p for p in top if (PROXY / p).is_dir()}
    # config: settings as data, read from a file and the environment (docs/architecture.md).
    assert packages == set(PURE) | set(SHELL) | {"config"}
    assert top - packages == {"__init__.py", "__main__.py"}
