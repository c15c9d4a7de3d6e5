"""HTTP: pre-rendered feeds with conditional GET, an index page, OPML, /healthz."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from xml.sax.saxutils import quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from feedbridge.core.health import status_of
from feedbridge.core.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from feedbridge.core.metrics import Metrics
from feedbridge.core.wording import plural
from feedbridge.feeds.board import FeedBoard
from feedbridge.feeds.render import FORMATS
from feedbridge.store import SourceState

_EXTENSIONS = {ext: fmt for fmt, (ext, _) in FORMATS.items()}
HEARTBEAT_STALE = 120.0


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the index page and OPML show of a source."""

    name: str
    title: str
    kind: str
    url: str


def opml(base_url: str, sources: Sequence[SourceInfo], token: str | None = None) -> bytes:
    """An OPML 2.0 subscription list of every Atom feed."""
    suffix = f"?token={token}" if token else ""
    outlines = "\n".join(
        f'    <outline type="rss" text={quoteattr(s.title)} title={quoteattr(s.title)} '
        f"xmlUrl={quoteattr(f'{base_url}/feeds/{s.name}.atom{suffix}')} "
        f"htmlUrl={quoteattr(s.url)}/>"
        for s in sources
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        "  <head><title>feedbridge feeds</title></head>\n  <body>\n"
        f"{outlines}\n  </body>\n</opml>\n"
    ).encode()


def create_app(
    board: FeedBoard,
    sources: Sequence[SourceInfo] | Callable[[], Sequence[SourceInfo]],
    *,
    base_url: str,
    token: str | None = None,
    alive: Callable[[], bool] = lambda: True,
    source_state: Callable[[str], SourceState | None] = lambda name: None,
    metrics: Metrics | None = None,
) -> Starlette:
    """The ASGI app. `alive` says whether the worker loop and the store are healthy.

    `sources` may be a callable, asked on each request: titles and site links are learnt from
    the upstream feeds as they are polled.
    """
    current = sources if callable(sources) else lambda: sources

    def authorized(request: Request) -> bool:
        if not token:
            return True
        given = request.query_params.get("token", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def denied() -> Response:
        return PlainTextResponse(
            "token required\n", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def feed(request: Request) -> Response:
        if not authorized(request):
            return denied()
        name = request.path_params["name"]
        ext = request.path_params.get("ext")
        fmt = _EXTENSIONS.get(ext or "")
        live = board.get(name)
        if live is None:
            return PlainTextResponse(f"no feed named {name!r}\n", status_code=404)
        if fmt is None:
            tries = ", ".join(f"/feeds/{name}.{e}" for e in _EXTENSIONS)
            what = f"no format {ext!r}" if ext else "no format given"
            return PlainTextResponse(f"{what} for feed {name!r}; try {tries}\n", status_code=404)
        rendered = live.rendered(fmt)
        etag = rendered.etag
        zipped = "gzip" in request.headers.get("accept-encoding", "")
        headers = {
            "ETag": f'{etag[:-1]}-gz"' if zipped else etag,
            "Last-Modified": live.last_modified,
            "Cache-Control": "public, max-age=300",
            "Vary": "Accept-Encoding",
        }
        if _not_modified(request, etag, live.last_modified):
            return Response(status_code=304, headers=headers)
        if zipped:
            headers["Content-Encoding"] = "gzip"
            return Response(rendered.gzipped, media_type=FORMATS[fmt][1], headers=headers)
        return Response(rendered.body(), media_type=FORMATS[fmt][1], headers=headers)

    async def healthz(request: Request) -> Response:
        if alive():
            return PlainTextResponse("ok\n")
        return PlainTextResponse("unhealthy\n", status_code=503)

    async def opml_route(request: Request) -> Response:
        if not authorized(request):
            return denied()
        body = opml(base_url, current(), token)
        return Response(body, media_type="text/x-opml; charset=utf-8")

    async def index(request: Request) -> Response:
        if not authorized(request):
            return denied()
        return HTMLResponse(index_page(board, current(), base_url, source_state, token))

    async def metrics_route(request: Request) -> Response:
        if not authorized(request):
            return denied()
        if metrics is None:
            return PlainTextResponse("metrics are off\n", status_code=404)
        return Response(metrics.expose(), media_type=METRICS_CONTENT_TYPE)

    routes = [
        Route("/metrics", metrics_route, methods=["GET"]),
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/feeds/{name}.{ext}", feed, methods=["GET", "HEAD"]),
        Route("/feeds/{name}", feed, methods=["GET", "HEAD"]),
        Route("/opml", opml_route, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
    ]
    return Starlette(routes=routes)


def _not_modified(request: Request, etag: str, last_modified: str) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/").replace('-gz"', '"') for t in match.split(",")}
        return etag in tags or "*" in tags
    return request.headers.get("if-modified-since") == last_modified


def _when(value: object) -> str:
    if not isinstance(value, int | float):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value))


def index_page(
    board: FeedBoard,
    sources: Sequence[SourceInfo],
    base_url: str,
    source_state: Callable[[str], SourceState | None],
    token: str | None,
) -> str:
    """A plain HTML page: every source, its health and subscribe links, with autodiscovery."""
    suffix = f"?token={escape(token)}" if token else ""
    base_url = escape(base_url)
    links = []
    rows = []
    for s in sources:
        feed_base = f"{base_url}/feeds/{escape(s.name)}"
        links.append(
            f'<link rel="alternate" type="application/atom+xml" title="{escape(s.title)}" '
            f'href="{feed_base}.atom{suffix}">'
        )
        rendered = board.get(s.name)
        state = source_state(s.name)
        newest = rendered.newest if rendered else None
        newest_html = (
            "—"
            if newest is None
            else f'<a href="{escape(newest.link)}">{escape(newest.title)}</a>'
            if newest.link
            else escape(newest.title)
        )
        status, shown, detail = status_of(state)
        rows.append(
            "<tr>"
            f"<td><strong>{escape(s.title)}</strong><br><small>{escape(s.name)} · "
            f'{escape(s.kind)} · <a href="{escape(s.url)}">source</a></small></td>'
            f'<td class="status {escape(status)}">{escape(shown)}'
            + (f"<br><small>{escape(detail)}</small>" if detail else "")
            + "</td>"
            f"<td>{_when(state.last_poll if state else None)}<br>"
            f"<small>last success {_when(state.last_success if state else None)}</small></td>"
            f"<td>{rendered.entry_count if rendered else 0}</td>"
            f"<td>{newest_html}</td>"
            f'<td><a href="{feed_base}.atom{suffix}">Atom</a> · '
            f'<a href="{feed_base}.rss{suffix}">RSS</a> · '
            f'<a href="{feed_base}.json{suffix}">JSON</a></td>'
            "</tr>"
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>feedbridge</title>\n" + "\n".join(links) + "\n<style>"
        "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
        "color:#222}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
        "padding:.5rem;border-bottom:1px solid #ddd;vertical-align:top}"
        ".status.ok{color:#17702d}.status.failing,.status.empty{color:#b00020}"
        ".status.warning{color:#a35200}"
        "small{color:#666}</style></head><body>\n<h1>feedbridge</h1>\n"
        f'<p>{plural(len(sources), "feed")} · <a href="{base_url}/opml{suffix}">OPML</a></p>\n'
        "<table><thead><tr><th>Source</th><th>Status</th><th>Last poll</th><th>Entries</th>"
        "<th>Newest</th><th>Subscribe</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></body></html>\n"
    )
