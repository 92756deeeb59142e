"""Python code as highlighted HTML, by Pygments (which `rich`, a dependency already, brings and
uses for `logs show`): token spans with class names only, styled by the stylesheet, and every
piece of the code escaped by the formatter."""

from __future__ import annotations

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from proxy.cli.web.html import Html, el

_LEXER = PythonLexer()
_FORMATTER = HtmlFormatter(nowrap=True)


def python_block(code: str) -> Html:
    """A `<pre>` with the code highlighted; `# (no code)` when the run had none."""
    source = code if code.strip() else "# (no code)"
    return el("pre", Html(str(highlight(source, _LEXER, _FORMATTER))), class_="hl")
