"""The repository stands alone (docs/architecture.md, "The repository stands alone").

A clone has nothing beside it: no design folder next door, no absolute paths of the machine it
was written on. Every tracked file of the project is scanned for references that point outside
the repository, and every module path and relative link named in the README and in `docs/`
must lead somewhere that exists.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("README.md", "config.example.toml", "docs", "proxy", "tests", "bench", "deploy")
# This file names the patterns it looks for.
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

# The names are assembled from pieces so that this file, which must name what it looks for,
# holds no reference outside the repository itself.
_FOLDER = "sha" + "red"
_DESIGN = "DESI" + "GN"
_ROOT = "/" + "wo" + "rk"  # the machine's root of checkouts, assembled like the names above
OUTSIDE = {
    "the shared design folder": re.compile(r"\.\./" + _FOLDER + r"\b"),
    "the shared reference folder": re.compile(_FOLDER + "/" + "reference"),
    "the design document": re.compile(_DESIGN + r"\.md"),
    "a shared reference file by name": re.compile(
        r"\b(?:openai-contract|dashscope-native|gateway-lessons|agent-clients)\.md"
    ),
    "a section of the shared reference": re.compile(r"\breference §"),
    "a product decision by number": re.compile(r"\bdecisions? \d"),
    "an absolute /work path": re.compile(r"(?<![\w.])/work(?:/|\b)"),
}
MODULE_PATH = re.compile(r"\bproxy/[\w/]*?\w+\.py\b")
PACKAGE_PATH = re.compile(r"\bproxy/(?:\w+/)+")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@cache
def tracked_texts() -> dict[str, str]:
    """Every tracked text file under the scanned paths, by path relative to the root."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", *SCANNED],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no list of tracked files to scan")
    texts: dict[str, str] = {}
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if not name or name == SELF or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary (the benchmark plot)
        texts[name] = data.decode("utf-8", errors="replace")
    return texts


def documents() -> list[str]:
    return ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/*.md"))]


def test_the_scan_sees_the_project() -> None:
    texts = tracked_texts()
    assert "README.md" in texts
    assert "proxy/core/native_stream.py" in texts
    assert "tests/golden_tools.py" in texts
    assert SELF not in texts


@pytest.mark.parametrize("what", sorted(OUTSIDE))
def test_no_tracked_file_refers_outside_the_repository(what: str) -> None:
    pattern = OUTSIDE[what]
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, text in tracked_texts().items()
        for number, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, f"references to {what}; point to docs/ instead:\n" + "\n".join(found)


def test_the_outside_patterns_catch_what_they_are_for() -> None:
    caught = {
        "the shared design folder": f"The design is in `../{_FOLDER}/{_DESIGN}.md`.",
        "the shared reference folder": f"(see {_FOLDER}/reference/dashscope-native.md)",
        "the design document": f"Harmless echoes ({_DESIGN}.md)",
        "a shared reference file by name": "a second model call (openai-contract.md §7.3)",
        "a section of the shared reference": "follow the recorded captures (reference §7)",
        "a product decision by number": "without client authentication (decision 7)",
        "an absolute /work path": f'SEED_PAGE = Path("{_ROOT}/{_FOLDER}/seed/page.txt")',
    }
    for what, line in caught.items():
        assert OUTSIDE[what].search(line), what
    harmless_lines = ("bench/.work/ is scratch", f"{_ROOT}space", f"network{_ROOT}/x", "decisions")
    for harmless in harmless_lines:
        assert not any(pattern.search(harmless) for pattern in OUTSIDE.values()), harmless


@pytest.mark.parametrize("document", documents())
def test_module_paths_named_in_the_docs_exist(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    named = set(MODULE_PATH.findall(text)) | set(PACKAGE_PATH.findall(text))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"{document} names paths that do not exist: {missing}"


@pytest.mark.parametrize("document", documents())
def test_relative_links_in_the_docs_lead_somewhere(document: str) -> None:
    source = ROOT / document
    targets = LINK.findall(source.read_text(encoding="utf-8"))
    broken = [target for target in targets if leads_nowhere(source, target)]
    assert not broken, f"{document} has links that lead nowhere: {broken}"


def leads_nowhere(source: Path, target: str) -> bool:
    if re.match(r"[a-z]+:", target):
        return False  # http(s), mailto: not this test's business
    path, _, anchor = target.partition("#")
    linked = (source.parent / path).resolve() if path else source
    if not linked.exists():
        return True
    return bool(anchor) and linked.suffix == ".md" and anchor not in anchors(linked)


def anchors(markdown: Path) -> set[str]:
    """The anchors GitHub makes for a Markdown file's headings."""
    return {slug(title) for title in HEADING.findall(markdown.read_text(encoding="utf-8"))}


def slug(title: str) -> str:
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_slugs_follow_github() -> None:
    assert slug("Responses API (`POST /v1/responses`)") == "responses-api-post-v1responses"
    assert slug("7. Keys") == "7-keys"
    assert slug("Why a Responses request goes through the chat translator") == (
        "why-a-responses-request-goes-through-the-chat-translator"
    )
