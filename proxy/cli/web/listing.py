"""The exchange list: the `logs list` filters as a form, one row per exchange, newest first,
and the rows alone for the live tail."""

from __future__ import annotations

from proxy.cli.web.html import Html, el, exchange_url, join, query_url
from proxy.cli.web.layout import cost_text, key_text, page, status_class
from proxy.cli.web.source import FILTER_NAMES, Query
from proxy.inspect.query import Record, started_at, text, timing, usage_of
from proxy.inspect.render import duration, local_time, status_label, tokens

LIMITS = ("50", "200", "1000")
# The form's order; a filter `logs list` gains later (every `Filter` field is one) follows.
_FIRST = ("model", "status", "errors", "since", "grep")
FORM_ORDER = [
    *(n for n in _FIRST if n in FILTER_NAMES),
    *(n for n in FILTER_NAMES if n not in _FIRST),
]
_LABELS = {"grep": "text", "key": "proxy key"}
_HINTS = {
    "status": "e.g. 429",
    "since": "10m, 2h, 1d, ISO time",
    "grep": "in messages, code, answers",
    "key": "name or fingerprint",
}


def filter_form(query: Query, model_names: list[str], action: str, *, limit: str = "") -> Html:
    fields: list[Html] = []
    for name in FORM_ORDER:
        value = query.given.get(name, "")
        if name == "errors":
            box = el("input", type="checkbox", name="errors", value="1", checked=bool(value))
            fields.append(el("label", box, "errors only", class_="check"))
        elif name == "model":
            options = [el("option", "any model", value="")]
            options += [el("option", m, value=m, selected=m == value) for m in model_names]
            if value and value not in model_names:
                options.append(el("option", value, value=value, selected=True))
            fields.append(el("label", "model", el("select", *options, name="model")))
        else:
            field = el("input", type="text", name=name, value=value, placeholder=_HINTS.get(name))
            fields.append(el("label", _LABELS.get(name, name), field))
    if action == "/":
        choices = [el("option", n, value=n, selected=n == (limit or "50")) for n in LIMITS]
        fields.append(el("label", "show", el("select", *choices, name="limit")))
    fields.append(el("button", "Filter", type="submit"))
    fields.append(el("a", "clear", href=action))
    return el("form", *fields, class_="filters card", method="get", action=action)


# Columns shown only when a listed record has them: name, what it shows, its class.
OPTIONAL = {"key": (key_text, "key"), "cost": (lambda r: cost_text(r.get("cost")), "num cost")}


def optional_columns(records: list[Record]) -> list[str]:
    return [name for name, (shown, _) in OPTIONAL.items() if any(shown(r) for r in records)]


def rows_html(records: list[Record], columns: list[str]) -> Html:
    return join(_row(record, columns) for record in records)


def _row(record: Record, columns: list[str]) -> Html:
    exchange_id = text(record.get("id"))
    runs = usage_of(record).runs
    cells = [
        el("td", local_time(started_at(record), short=True), class_="time"),
        el("td", el("a", exchange_id[:8], href=exchange_url(exchange_id)), class_="id"),
        el("td", text(record.get("model")) or "-", class_="model"),
        el("td", status_label(record), class_=status_class(record)),
        el("td", duration(timing(record, "first_byte")), class_="num"),
        el("td", duration(timing(record, "total")), class_="num"),
        el("td", tokens(record), class_="num"),
        el("td", str(runs) if runs else "", class_="num"),
    ]
    for name in columns:
        shown, kind = OPTIONAL[name]
        cells.append(el("td", shown(record), class_=kind))
    return el("tr", *cells, data_id=exchange_id)


def list_page(
    source: str,
    query: Query,
    model_names: list[str],
    shown: list[Record],
    matching: int,
    total: int,
    *,
    limit: str,
    notice: str = "",
) -> Html:
    columns = optional_columns(shown)
    headers = ["time", "id", "model", "status", "1st byte", "total", "tokens", "runs"]
    headers += columns
    numeric = {"1st byte", "total", "tokens", "runs", "cost"}
    head = el("tr", *(el("th", h, class_="num" if h in numeric else None) for h in headers))
    rows_src = query_url("/rows", {**query.given, "limit": limit, "columns": ",".join(columns)})
    summary = el(
        "div",
        el(
            "span",
            el("b", str(len(shown)), id="count"),
            f" shown of {matching} matching",
            f" ({total} in the log)",
        ),
        el("label", el("input", type="checkbox", id="live"), " live tail (every 2 s)"),
        el("span", notice, class_="notice") if notice else None,
        class_="summary",
    )
    table = el(
        "table",
        el("thead", head),
        el("tbody", rows_html(shown, columns), id="rows", data_src=rows_src),
        class_="rows",
    )
    return page(
        "Exchanges", "/", source, filter_form(query, model_names, "/", limit=limit), summary, table
    )
