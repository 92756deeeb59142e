"""Plots as inline SVG drawn on the server: time to first byte and total time over time (one
dot per exchange, a link to it) and by model (p50 and p95 bars), and one exchange's timings.
Colours come from classes in the stylesheet (series-0..7, one per model)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proxy.cli.web.html import Html, el, exchange_url, join
from proxy.cli.web.layout import page
from proxy.inspect.query import Record, is_error, started_at, text, timing
from proxy.inspect.render import duration
from proxy.inspect.stats import NO_MODEL, compute_stats

WIDTH = 760
MAX_DOTS = 2000  # beyond that a plot is a blur, and a page of megabytes
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 24, 12, 28
_COLOURS = 8


def colour(model: str, model_names: Sequence[str]) -> str:
    index = model_names.index(model) if model in model_names else len(model_names)
    return f"series-{index % _COLOURS}"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


@dataclass(frozen=True, slots=True)
class _Frame:
    """The drawing area and its scales."""

    height: int
    x0: float
    x1: float
    y_top: float

    def x(self, value: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return _LEFT + (value - self.x0) / span * (WIDTH - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        return self.height - _BOTTOM - value / self.y_top * (self.height - _TOP - _BOTTOM)


def _svg(height: int, label: str, *content: Html) -> Html:
    return el(
        "svg",
        el("title", label),
        *content,
        viewBox=f"0 0 {WIDTH} {height}",
        width=WIDTH,
        height=height,
        class_="plot",
        role="img",
        xmlns="http://www.w3.org/2000/svg",
    )


def _line(x1: float, y1: float, x2: float, y2: float, kind: str) -> Html:
    return el("line", x1=f"{x1:.1f}", y1=f"{y1:.1f}", x2=f"{x2:.1f}", y2=f"{y2:.1f}", class_=kind)


_TIME_STEPS = (1, 5, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def time_ticks(start: float, end: float) -> list[tuple[float, str]]:
    """Round moments (every 5 minutes, every hour...) between start and end, at most six,
    labelled in local time."""
    span = end - start
    step = next((s for s in _TIME_STEPS if span / s <= 6), 86400 * math.ceil(span / 86400 / 6))
    form = "%H:%M:%S" if step < 60 else "%H:%M" if span < 86400 else "%b %d %H:%M"
    offset = datetime.fromtimestamp(start).astimezone().utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0  # round in local time
    first = math.ceil((start + shift) / step) * step - shift
    moments = [first + i * step for i in range(int((end - first) // step) + 1)]
    return [(t, datetime.fromtimestamp(t).strftime(form)) for t in moments]


def over_time(records: Sequence[Record], metric: str, model_names: Sequence[str]) -> Html:
    """One dot per exchange with that timing: when it started, how long it took."""
    points = [(r, v) for r in records if (v := timing(r, metric)) is not None]
    height = 240
    if not points:
        return el("p", "no exchange with this timing", class_="muted")
    times = [started_at(r) for r, _ in points]
    ticks = nice_ticks(max(v for _, v in points))
    pad = (max(times) - min(times)) * 0.02 or 60.0  # no dot on the frame; one moment centred
    frame = _Frame(height, min(times) - pad, max(times) + pad, ticks[-1] or 1.0)
    axes = [_line(_LEFT, frame.y(t), WIDTH - _RIGHT, frame.y(t), "grid") for t in ticks]
    axes += [
        el("text", duration(t), x=_LEFT - 6, y=f"{frame.y(t) + 4:.1f}", text_anchor="end")
        for t in ticks
    ]
    for moment, label in time_ticks(frame.x0, frame.x1):
        axes.append(
            el("text", label, x=f"{frame.x(moment):.1f}", y=height - 8, text_anchor="middle")
        )
    axes.append(_line(_LEFT, frame.y(0), WIDTH - _RIGHT, frame.y(0), "axis"))
    dots = [_dot(frame, record, value, model_names) for record, value in points]
    return _svg(height, f"{metric} over time", *axes, *dots)


def _dot(frame: _Frame, record: Record, value: float, model_names: Sequence[str]) -> Html:
    model = text(record.get("model")) or NO_MODEL
    kind = colour(model, model_names) + (" error" if is_error(record) else "")
    exchange_id = text(record.get("id"))
    tip = f"{exchange_id[:8]} · {model} · {duration(value)}"
    circle = el(
        "circle",
        cx=f"{frame.x(started_at(record)):.1f}",
        cy=f"{frame.y(value):.1f}",
        r=4,
        class_=kind,
    )
    return el("a", el("title", tip), circle, href=exchange_url(exchange_id))


def by_model(stats: dict[str, Any], key: str, model_names: Sequence[str]) -> Html:
    """Per model of `compute_stats`, p50 (solid) and p95 (light) of `first_byte_ms` or
    `total_ms`."""
    groups = [(m, g[key]) for m, g in stats["models"].items() if g[key]["count"]]
    if not groups:
        return el("p", "no exchange with this timing", class_="muted")
    row, label_width, note_width = 26, 170, 200
    height = _TOP * 2 + row * len(groups)
    top = nice_ticks(max(g["p95"] for _, g in groups))[-1] or 1.0
    span = WIDTH - label_width - note_width
    parts: list[Html] = []
    for index, (model, group) in enumerate(groups):
        y = _TOP + index * row
        kind = colour(model, model_names)
        parts += [
            el("text", _short(model), x=label_width - 8, y=y + 16, text_anchor="end"),
            el("rect", x=label_width, y=y + 4, width=f"{span:.1f}", height=16, class_="bar-bg"),
        ]
        for q in ("p95", "p50"):
            width = group[q] / top * span
            parts.append(
                el(
                    "rect",
                    x=label_width,
                    y=y + 4,
                    width=f"{width:.1f}",
                    height=16,
                    class_=f"{kind} {q}",
                )
            )
        note = f"p50 {duration(group['p50'])} · p95 {duration(group['p95'])} · n={group['count']}"
        parts.append(el("text", note, x=label_width + span + 8, y=y + 16))
    return _svg(height, f"{key} by model", *parts)


def _short(model: str) -> str:
    return model if len(model) <= 24 else model[:23] + "…"


def legend(model_names: Sequence[str]) -> Html:
    items = (el("span", el("i", class_=colour(m, model_names)), m) for m in model_names)
    return el("div", join(items), class_="legend")


def timing_bar(record: Record) -> Html:
    """One exchange's moments on one line: the wait for the first byte, then the answer
    streaming until the total; a mark at the upstream's first frame and the first byte."""
    total = timing(record, "total")
    if not total:
        return Html("")
    height = 60
    frame = _Frame(height, 0.0, total, 1.0)
    end = frame.x(total)
    first = timing(record, "first_byte")
    after = "streaming" if first is not None else "bar-bg"  # nothing reached the client
    parts = [el("rect", x=_LEFT, y=22, width=f"{end - _LEFT:.1f}", height=12, class_=after)]
    if first is not None:  # the wait before the client saw anything
        width = f"{frame.x(first) - _LEFT:.1f}"
        parts.append(el("rect", x=_LEFT, y=22, width=width, height=12, class_="waiting"))
    moments = [("upstream first frame", "upstream_first_frame"), ("first byte", "first_byte")]
    for label, name in moments:
        value = timing(record, name)
        if value is not None:
            x = frame.x(value)
            mark = _line(x, 18, x, 38, "mark")
            parts.append(el("g", el("title", f"{label}: {duration(value)}"), mark))
            if name == "first_byte":
                anchor = "start" if x < WIDTH * 0.7 else "end"
                parts.append(
                    el(
                        "text",
                        f"first byte {duration(value)}",
                        x=f"{x:.1f}",
                        y=12,
                        text_anchor=anchor,
                    )
                )
    parts += [
        _line(end, 18, end, 38, "mark"),
        el("text", "0", x=_LEFT, y=52, text_anchor="middle"),
        el("text", f"total {duration(total)}", x=f"{end:.1f}", y=52, text_anchor="end"),
    ]
    return _svg(height, "timings", *parts)


def plots_page(source: str, form: Html, records: Sequence[Record], model_names: list[str]) -> Html:
    """`records` newest first: the newest `MAX_DOTS` are dots; the bars count them all."""
    shown = sorted({text(r.get("model")) or NO_MODEL for r in records})
    names = [m for m in model_names if m in shown] + [m for m in shown if m not in model_names]
    dots = records[:MAX_DOTS]
    count = f"{len(records)} exchange(s)"
    if len(dots) < len(records):
        count += f", the newest {len(dots)} as dots"
    stats = compute_stats(records)
    body = [
        form,
        el(
            "p",
            f"{count}; a dot is one exchange (a ring: an error), click it to open the exchange",
            class_="summary",
        ),
        legend(names),
        el("h2", "Time to first byte, over time"),
        over_time(dots, "first_byte", names),
        el("h2", "Total time, over time"),
        over_time(dots, "total", names),
        el("h2", "Time to first byte by model (p50 solid, p95 light)"),
        by_model(stats, "first_byte_ms", names),
        el("h2", "Total time by model (p50 solid, p95 light)"),
        by_model(stats, "total_ms", names),
    ]
    return page("Plots", "/plots", source, *body)
