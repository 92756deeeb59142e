"""Rich renderings of exchange rows, stats and replay results (the one rich user, with
`render_show`). Consoles never interpret markup or emoji codes in logged text, and print no
colours when the output is not a terminal.

Every table fits 80 columns without losing a column or a value: headers are short (two lines
where one would be wide), only the model column gives way, and it folds onto a second line
rather than being cut; if a terminal is narrower still, other cells fold too. `trimmed()`
output carries no trailing spaces."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from rich import box
from rich.console import (
    Console,
    ConsoleOptions,
    Group,
    JustifyMethod,
    RenderableType,
    RenderResult,
)
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from proxy.inspect.query import (
    Record,
    cost_of,
    is_error,
    started_at,
    status_of,
    text,
    timing,
    usage_of,
)
from proxy.inspect.replay import ReplayResult
from proxy.inspect.stats import NO_KEY, NO_MODEL, PERCENTILES

_STATUS_WIDTH = len("cancelled")  # an outcome goes under its code, but stays whole
# header, width in follow mode (the model column takes what is left), justify
_COLUMNS: tuple[tuple[str, int, JustifyMethod], ...] = (
    ("time", 15, "left"),
    ("id", 8, "left"),
    ("model", 0, "left"),
    ("status", _STATUS_WIDTH, "left"),
    ("1st\nbyte", 5, "right"),
    ("total", 5, "right"),
    ("tokens", 9, "right"),
    ("runs", 4, "right"),
    ("cost", 8, "right"),
)
_MODEL_WIDTH = (8, 24)  # the model column's least and greatest width


def make_console(
    file: TextIO | None = None, *, stderr: bool = False, width: int | None = None
) -> Console:
    """A console for logged text: no markup, emoji codes or number highlighting in it; colours
    only on a terminal; the terminal's width (else $COLUMNS, else 80) unless `width` is given."""
    return Console(
        file=file, stderr=stderr, width=width, markup=False, emoji=False, highlight=False
    )


def local_time(timestamp: float, *, short: bool = False) -> str:
    """Local time: `Nov 24 07:01:31` in rows, `2025-11-24 07:01:31 CET` otherwise."""
    moment = datetime.fromtimestamp(timestamp).astimezone()
    return moment.strftime("%b %d %H:%M:%S" if short else "%Y-%m-%d %H:%M:%S %Z")


def duration(ms: float | None, *, short: bool = False) -> str:
    """`36 ms`, `1.2 s`, `123 s` (`36ms` .. when short); `-` for a moment never reached."""
    if ms is None:
        return "-"
    space = "" if short else " "
    if ms < 1000:
        return f"{ms:.0f}{space}ms"
    if ms < 100_000:
        return f"{ms / 1000:.1f}{space}s"
    return f"{ms / 1000:.0f}{space}s"


def tokens(record: Record) -> str:
    usage = usage_of(record)
    if usage.prompt is None and usage.completion is None:
        return "-"
    return f"{_n(usage.prompt)}/{_n(usage.completion)}"


_SYMBOLS = {"CNY": "¥", "USD": "$"}


def money(amount: Decimal, currency: str) -> str:
    """`$0.0042`, `¥1.37`: two significant digits below one unit, cents above."""
    symbol = _SYMBOLS.get(currency, currency + " ")
    if amount >= 1 or amount == 0:
        return f"{symbol}{amount:.2f}"
    shown = amount.quantize(Decimal(1).scaleb(amount.adjusted() - 1))
    return f"{symbol}{shown:f}"


def _cost(record: Record) -> str:
    cost = cost_of(record)
    return "-" if cost is None else money(*cost)


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


def status_label(record: Record, *, always_outcome: bool = False) -> str:
    """`200`, or `200 error`, `499 cancelled`, `200 local`: the outcome when it is not ok."""
    status = status_of(record)
    outcome = text(record.get("outcome"))
    label = "-" if status is None else str(status)
    shown = outcome and (always_outcome or outcome != "ok")
    return f"{label} {outcome}" if shown else label


def _status_style(record: Record) -> str:
    if record.get("outcome") == "cancelled":
        return "yellow"
    return "bold red" if is_error(record) else "green"


def rows_table(
    records: list[Record], *, header: bool = True, fixed_width: int | None = None
) -> RenderableType:
    """One row per exchange, each column as wide as its widest value, in the console's width.
    With `fixed_width` (the console's), every column has a fixed width instead, so rows printed
    one batch at a time (`tail -f`) line up; the model column takes what is left. A value
    wider than its column folds onto another line, never cut."""
    cells = [_row(record) for record in records]
    if fixed_width is None:
        return _FittedRows(cells, header)
    spare = fixed_width - sum(width for _, width, _ in _COLUMNS) - len(_COLUMNS) + 1
    least, most = _MODEL_WIDTH
    model = max(least, min(most, spare))
    # What the model leaves keeps `499 cancelled` on one line.
    given = {"model": model, "status": _STATUS_WIDTH + max(0, min(4, spare - model))}
    return _rows(cells, header, [given.get(n, w) for n, w, _ in _COLUMNS])


def _row(record: Record) -> list[Text]:
    runs = usage_of(record).runs
    return [
        Text(local_time(started_at(record), short=True), style="dim"),
        Text(text(record.get("id"))[:8], style="cyan"),
        Text(text(record.get("model")) or "-"),
        Text(status_label(record), style=_status_style(record)),
        Text(duration(timing(record, "first_byte"), short=True)),
        Text(duration(timing(record, "total"), short=True)),
        Text(tokens(record)),
        Text(str(runs) if runs else "-"),
        Text(_cost(record)),
    ]


def _rows(cells: list[list[Text]], header: bool, widths: list[int]) -> Table:
    table = _table(show_header=header, tight=True)
    for (name, _, justify), width in zip(_COLUMNS, widths, strict=True):
        table.add_column(name, justify=justify, overflow="fold", width=width)
    for row in cells:
        table.add_row(*row)
    return table


class _FittedRows:
    """The rows with each column as wide as its widest value; when that is wider than the
    console, the model column gives way (down to `_MODEL_WIDTH`'s least), then the status
    (its outcome goes under the code). Widths are worked out here rather than by rich, which
    would cut the values of the columns that do not wrap."""

    def __init__(self, cells: list[list[Text]], header: bool) -> None:
        self.cells = cells
        self.header = header

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [
            max(
                [
                    *(len(line) for line in name.split("\n")),
                    *(row[i].cell_len for row in self.cells),
                ]
            )
            for i, (name, _, _) in enumerate(_COLUMNS)
        ]
        names = [name for name, _, _ in _COLUMNS]
        widths[names.index("model")] = min(widths[names.index("model")], _MODEL_WIDTH[1])
        excess = sum(widths) + len(widths) - 1 - options.max_width
        for name, least in (("model", _MODEL_WIDTH[0]), ("status", _STATUS_WIDTH)):
            index = names.index(name)
            given = max(0, min(excess, widths[index] - least))
            widths[index] -= given
            excess -= given
        yield _rows(self.cells, self.header, widths)


def _table(*, show_header: bool = True, tight: bool = False) -> Table:
    """Columns apart by two spaces (`tight`: one, for rows that must fit 80 columns)."""
    return Table(
        box=box.SIMPLE_HEAD,
        show_header=show_header,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0) if tight else (0, 1),
        collapse_padding=True,
        header_style="bold",
    )


class _Trimmed:
    """`renderable` without the spaces rich pads lines and cells with at their ends."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in console.render_lines(self.renderable, options, pad=False):
            while line and not line[-1].control and not line[-1].text.rstrip(" "):
                line.pop()
            if line and not line[-1].control:
                last = line[-1]
                line[-1] = Segment(last.text.rstrip(" "), last.style)
            yield from line
            yield Segment.line()


def trimmed(renderable: RenderableType) -> RenderableType:
    return _Trimmed(renderable)


def _model_column(table: Table, header: str = "model") -> None:
    least, most = _MODEL_WIDTH
    table.add_column(header, overflow="fold", min_width=least, max_width=most)


def stats_view(stats: dict[str, Any], since: str | None = None) -> RenderableType:
    overall = stats["overall"]
    title = f"{overall['exchanges']} exchange(s)" + (f" since {since}" if since else "")
    parts: list[RenderableType] = [Text(title, style="bold")]
    if not overall["exchanges"]:
        return Group(*parts)
    groups: list[tuple[str, dict[str, Any]]] = [("all", overall), *stats["models"].items()]
    counts = _table()
    _model_column(counts)
    headers = ("exchanges", "errors", "error\nrate", "prompt\ntokens", "output\ntokens")
    for header in (*headers, "reasoning\ntokens", "runs"):
        counts.add_column(header, justify="right", no_wrap=True, overflow="fold")
    latency = _table()
    _model_column(latency, "latency")
    for moment in ("1st byte", "total"):
        for q in PERCENTILES:
            latency.add_column(f"{moment}\np{q}", justify="right", no_wrap=True, overflow="fold")
    errors = _table()
    _model_column(errors, "errors by code")
    _model_column(errors)
    errors.add_column("count", justify="right", no_wrap=True, overflow="fold")
    errors.add_column("rate", justify="right", no_wrap=True, overflow="fold")
    for label, group in groups:
        shown = Text(label, style="bold" if label == "all" else "dim" if label == NO_MODEL else "")
        tokens = group["tokens"]
        counts.add_row(
            shown,
            str(group["exchanges"]),
            str(group["errors"]),
            _rate(group["error_rate"]),
            str(tokens["prompt"]),
            str(tokens["completion"]),
            str(tokens["reasoning"]),
            str(group["interpreter_runs"]),
        )
        latency.add_row(
            shown,
            *(duration(group["first_byte_ms"][f"p{q}"]) for q in PERCENTILES),
            *(duration(group["total_ms"][f"p{q}"]) for q in PERCENTILES),
        )
        for code, entry in group["errors_by_code"].items():
            errors.add_row(
                Text(code, style="red"), label, str(entry["count"]), _rate(entry["rate"])
            )
    parts += [Text(""), counts, Text(""), latency]
    if errors.row_count:
        parts += [Text(""), errors]
    parts += _cost_tables(stats, groups)
    return Group(*parts)


def _cost_tables(
    stats: dict[str, Any], groups: list[tuple[str, dict[str, Any]]]
) -> list[RenderableType]:
    """What the exchanges cost per model, then per proxy key (when keys were recorded)."""
    parts: list[RenderableType] = []
    if any(group["cost"] for _, group in groups):
        costs = _table()
        _model_column(costs, "cost")
        costs.add_column("total", justify="right", no_wrap=True, overflow="fold")
        for label, group in groups:
            costs.add_row(label, _totals(group["cost"]))
        parts += [Text(""), costs]
    if "keys" in stats:
        keys = _table()
        _model_column(keys, "proxy key")
        for header in ("exchanges", "errors", "cost"):
            keys.add_column(header, justify="right", no_wrap=True, overflow="fold")
        for label, group in stats["keys"].items():
            shown = Text(label, style="dim" if label == NO_KEY else "")
            keys.add_row(
                shown, str(group["exchanges"]), str(group["errors"]), _totals(group["cost"])
            )
        parts += [Text(""), keys]
    return parts


def _totals(costs: dict[str, str]) -> str:
    """Each currency's total (exchanges in two regions' logs read together keep both)."""
    return ", ".join(money(Decimal(amount), currency) for currency, amount in costs.items()) or "-"


def _rate(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def replay_view(result: ReplayResult, exchange_id: str) -> RenderableType:
    what = {
        "chunks": f"{result.expected_count} chunk(s)",
        "response": "the folded response (chunks were not captured)",
        "error": "the error made from DashScope's answer",
    }[result.compared]
    lines: list[RenderableType] = []
    if result.matches:
        lines.append(Text.assemble(("matches", "bold green"), f": {exchange_id}, {what}"))
    else:
        head = f"differs: {exchange_id}, compared {what}"
        lines.append(Text(head, style="bold red"))
        if result.first_difference is not None:
            lines.append(
                Text(
                    f"first differing chunk: #{result.first_difference} "
                    f"(recorded {result.expected_count}, replayed {result.actual_count})"
                )
            )
        lines.extend(Text("  " + line) for line in result.differences)
        lines.append(Text("  (recorded -> replayed)", style="dim"))
    if result.error:
        recorded = "the recorded error" if result.matches else "the error"
        lines.append(Text(f"the replay ended with {recorded} {result.error}"))
    if result.unreplayed_error:
        lines.append(
            Text(
                f"the exchange ended with {result.unreplayed_error}: that came from the "
                "connection or the proxy, not from a frame, so it is not replayed",
                "dim",
            )
        )
    return Group(*lines)
