"""HTML built from escaped pieces: any `str` given to `el` is text and gets escaped; only
`Html` (what `el` and `join` return) goes in as markup. Record content is written by whoever
called the proxy, so nothing from a record may reach the page unescaped."""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import quote, urlencode

# Elements with no closing tag.
_VOID = frozenset({"br", "circle", "input", "line", "link", "meta", "path", "rect"})


class Html(str):
    """Markup that is already safe to send."""

    __slots__ = ()


def esc(value: object) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def join(parts: Iterable[Html | str], separator: str = "") -> Html:
    return Html(esc(separator).join(esc(part) for part in parts))


def el(tag: str, *children: Html | str | None, **attrs: object) -> Html:
    """`<tag attrs>children</tag>`. Attribute names are Python names: `class_` is `class`,
    `data_id` is `data-id`; an attribute that is None or False is left out, True is bare."""
    names = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        names.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    if tag in _VOID:  # closed with "/>": inside <svg> the HTML parser wants it so
        return Html(f"<{tag}{''.join(names)} />")
    start = f"<{tag}{''.join(names)}>"
    inner = "".join(esc(child) for child in children if child is not None)
    return Html(f"{start}{inner}</{tag}>")


def exchange_url(exchange_id: str) -> str:
    return "/exchange/" + quote(exchange_id, safe="")


def query_url(path: str, params: dict[str, str]) -> str:
    kept = {key: value for key, value in params.items() if value}
    return path + ("?" + urlencode(kept) if kept else "")
