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
    """A record's `cost`, whatever its shape: a number, or an object with an amount (`total`,
    `amount` or `value`) and a `currency`; other objects as their scalar fields. Empty when
    the record has none."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return _amount(value)
    if not isinstance(value, dict):
        return text(value)
    amount = next(
        (value[k] for k in ("total", "amount", "value") if isinstance(value.get(k), int | float)),
        None,
    )
    currency = text(value.get("currency"))
    if amount is not None:
        return f"{_amount(amount)} {currency}".strip()
    scalars = (f"{k} {v}" for k, v in value.items() if isinstance(v, str | int | float))
    return ", ".join(scalars)


def _amount(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"
