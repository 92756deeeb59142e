"""The Starlette app of `logs web`: read-only pages (GET only) over one traffic log."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from proxy.cli.web.assets import CSS, JS
from proxy.cli.web.exchange import exchange_page
from proxy.cli.web.guard import Guard
from proxy.cli.web.html import Html, el
from proxy.cli.web.layout import page
from proxy.cli.web.listing import LIMITS, OPTIONAL, filter_form, list_page, rows_html
from proxy.cli.web.plots import plots_page
from proxy.cli.web.source import BadFilter, LogSource, Query, models, parse_query
from proxy.inspect.query import Filter, newest_first, resolve, select


def create_web_app(path: str, *, token: str | None, clock: Callable[[], float]) -> Starlette:
    """The pages over the log at `path`; with a token, only for requests that carry it."""
    pages = _Pages(path, clock)
    routes = [
        Route("/", pages.listing),
        Route("/rows", pages.rows),
        Route("/exchange/{exchange_id:path}", pages.exchange),
        Route("/plots", pages.plots),
        Route("/static/web.css", lambda request: Response(CSS, media_type="text/css")),
        Route("/static/web.js", lambda request: Response(JS, media_type="text/javascript")),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token)])


class _Pages:
    """The handlers: plain functions, so Starlette runs their file reads on its thread pool."""

    def __init__(self, path: str, clock: Callable[[], float]) -> None:
        self._path = path
        self._clock = clock
        self._source = LogSource(path)

    def _query(self, request: Request) -> tuple[Query, str]:
        """The filters, and what is wrong with them (then none apply)."""
        try:
            return parse_query(request.query_params, self._clock), ""
        except BadFilter as exc:
            return Query(dict(request.query_params), Filter()), str(exc)

    def listing(self, request: Request) -> Response:
        read = self._source.read()
        chosen, notice = self._query(request)
        limit = _limit(request)
        matching = select(read.records, chosen.where) if not notice else []
        body = list_page(
            self._path,
            chosen,
            models(read.records),
            matching[: int(limit)],
            len(matching),
            len(read.records),
            limit=limit,
            notice=notice or _corrupt_note(len(read.corrupt)),
        )
        return _html(body, 400 if notice else 200)

    def rows(self, request: Request) -> Response:
        chosen, notice = self._query(request)
        if notice:
            return _html(Html(""), 400)
        matching = select(self._source.read().records, chosen.where)
        shown = matching[: int(_limit(request))]
        asked = request.query_params.get("columns", "").split(",")
        return _html(rows_html(shown, [name for name in OPTIONAL if name in asked]))

    def exchange(self, request: Request) -> Response:
        wanted = request.path_params["exchange_id"]
        found = resolve(self._source.read().records, wanted)
        if len(found) == 1:
            return _html(exchange_page(self._path, found[0]))
        message = (
            f"no exchange with an id starting {wanted!r}"
            if not found
            else f"{wanted!r} matches {len(found)} exchanges; give more of the id"
        )
        body = page("Not found", "", self._path, el("h1", message), rows_table_of(found))
        return _html(body, 404)

    def plots(self, request: Request) -> Response:
        read = self._source.read()
        chosen, notice = self._query(request)
        names = models(read.records)
        form = filter_form(chosen, names, "/plots")
        if notice:
            form = Html(form + el("p", notice, class_="notice"))
        matching = (
            [] if notice else newest_first(r for r in read.records if chosen.where.matches(r))
        )
        return _html(plots_page(self._path, form, matching, names), 400 if notice else 200)


def _limit(request: Request) -> str:
    limit = request.query_params.get("limit", LIMITS[0])
    return limit if limit in LIMITS else LIMITS[0]


def rows_table_of(records: list[dict[str, object]]) -> Html:
    if not records:
        return Html("")
    return el("table", el("tbody", rows_html(records, [])), class_="rows")


def _corrupt_note(count: int) -> str:
    return f"{count} corrupt line(s) skipped" if count else ""


def _html(body: Html, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)
