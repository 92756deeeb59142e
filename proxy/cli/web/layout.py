"""The frame every page shares: the document head, the top bar, and small formatters."""

from __future__ import annotations

from typing import Any

from proxy.cli.web.html import Html, el, join
from proxy.inspect.query import Record, is_error, text

_NAV = (("/", "Exchanges"), ("/plots", "Plots"))


def page(title: str, active: str, source: str, *body: Html) -> Html:
    """A whole document: `active` is the nav path to mark, `source` the log file shown."""
    nav = join(
        el("a", label, href=path, class_="active" if path == active else None)
        for path, label in _NAV
    )
    head = el(
        "head",
        el("meta", charset="utf-8"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", f"{title} · dashscope-proxy logs"),
        el("link", rel="stylesheet", href="/static/web.css"),
    )
    bar = el(
        "header",
        el("span", "dashscope-proxy · traffic log", class_="brand"),
        el("nav", nav),
        el("span", source, class_="source"),
    )
    document = el(
        "html",
        head,
        el("body", bar, el("main", *body), el("script", src="/static/web.js")),
        lang="en",
    )
    return Html("<!doctype html>\n" + document)


def status_class(record: Record) -> str:
    if record.get("outcome") == "cancelled":
        return "status-warn"
    return "status-bad" if is_error(record) else "status-ok"


def cost_text(value: Any) -> str:
    """A record's `cost`: `{"amount", "currency", ...}` (the amount an exact decimal as a
    string, or a number) as `0.0131 CNY`; empty when the record has none or an odd one."""
    if not isinstance(value, dict):
        return ""
    amount = value.get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        amount = f"{amount:.6f}".rstrip("0").rstrip(".") if amount else "0"
    if not isinstance(amount, str) or not amount:
        return ""
    return f"{amount} {text(value.get('currency'))}".strip()


def key_text(record: Record) -> str:
    """The proxy key that made the call: `name (fingerprint)`, or the fingerprint alone."""
    key = record.get("key")
    if not isinstance(key, dict):
        return ""
    name, fingerprint = text(key.get("name")), text(key.get("fingerprint"))
    return f"{name} ({fingerprint})" if name and fingerprint else name or fingerprint
