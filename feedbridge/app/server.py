"""HTTP: pre-rendered feeds with conditional GET, an index page, OPML, /healthz, /metrics.

`create_app` wires the routes (`Routes`, one method per route) to the board and the
callables the runner passes; the pages themselves are in `pages.py`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from feedbridge.app.pages import SourceInfo, index_page, opml
from feedbridge.core.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from feedbridge.core.metrics import Metrics
from feedbridge.feeds.board import FeedBoard
from feedbridge.feeds.items import FEED_FORMATS
from feedbridge.store import SourceState

_EXTENSIONS = {ext: fmt for fmt, (ext, _) in FEED_FORMATS.items()}
HEARTBEAT_STALE = 120.0


@dataclass(frozen=True, slots=True)
class Routes:
    """Each route's handler, with what it serves from. `sources` is asked on each request:
    titles and site links are learnt from the upstream feeds as they are polled."""

    board: FeedBoard
    sources: Callable[[], Sequence[SourceInfo]]
    base_url: str
    token: str | None
    alive: Callable[[], bool]
    source_state: Callable[[str], SourceState | None]
    metrics: Metrics | None

    def authorized(self, request: Request) -> bool:
        """With a token configured: given as `?token=` or as a bearer token."""
        if not self.token:
            return True
        given = request.query_params.get("token", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def feed(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        name = request.path_params["name"]
        ext = request.path_params.get("ext")
        fmt = _EXTENSIONS.get(ext or "")
        live = self.board.get(name)
        if live is None and name in self.board.gone:
            message = f"feed {name!r} was removed from this feedbridge's configuration\n"
            return PlainTextResponse(message, status_code=410)
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
        media_type = FEED_FORMATS[fmt][1]
        if zipped:
            headers["Content-Encoding"] = "gzip"
            return Response(rendered.gzipped, media_type=media_type, headers=headers)
        return Response(rendered.body(), media_type=media_type, headers=headers)

    async def healthz(self, request: Request) -> Response:
        if self.alive():
            return PlainTextResponse("ok\n")
        return PlainTextResponse("unhealthy\n", status_code=503)

    async def opml(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        body = opml(self.base_url, self.sources(), self.token)
        return Response(body, media_type="text/x-opml; charset=utf-8")

    async def index(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        page = index_page(self.board, self.sources(), self.base_url, self.source_state, self.token)
        return HTMLResponse(page)

    async def metrics_text(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        if self.metrics is None:
            return PlainTextResponse("metrics are off\n", status_code=404)
        return Response(self.metrics.expose(), media_type=METRICS_CONTENT_TYPE)


def create_app(
    board: FeedBoard,
    sources: Sequence[SourceInfo] | Callable[[], Sequence[SourceInfo]],
    *,
    base_url: str,
    token: str | None = None,
    alive: Callable[[], bool] = lambda: True,
    source_state: Callable[[str], SourceState | None] = lambda name: None,
    metrics: Metrics | None = None,
    pages: ASGIApp | None = None,
) -> Starlette:
    """The ASGI app. `alive` says whether the worker loop and the store are healthy.

    `sources` may be a callable, asked on each request: titles and site links are learnt from
    the upstream feeds as they are polled. `pages` (`feedbridge.app.web`) serves the index and
    the web pages under the feeds' routes; without it the index is the plain list.
    """
    current = sources if callable(sources) else lambda: sources
    routes = Routes(board, current, base_url, token, alive, source_state, metrics)
    table: list[BaseRoute] = [
        Route("/metrics", routes.metrics_text, methods=["GET"]),
        Route("/feeds/{name}.{ext}", routes.feed, methods=["GET", "HEAD"]),
        Route("/feeds/{name}", routes.feed, methods=["GET", "HEAD"]),
        Route("/opml", routes.opml, methods=["GET", "HEAD"]),
        Route("/healthz", routes.healthz, methods=["GET", "HEAD"]),
    ]
    if pages is None:
        table.insert(1, Route("/", routes.index, methods=["GET", "HEAD"]))
    else:
        table.append(Mount("/", app=pages))
    return Starlette(routes=table)


def _denied() -> Response:
    return PlainTextResponse(
        "token required\n", status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


def _not_modified(request: Request, etag: str, last_modified: str) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/").replace('-gz"', '"') for t in match.split(",")}
        return etag in tags or "*" in tags
    return request.headers.get("if-modified-since") == last_modified
