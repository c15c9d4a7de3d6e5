"""HTTP: pre-rendered feeds with conditional GET, an index page, OPML, /healthz, /metrics.

`create_app` wires the routes (`Routes`, one method per route) to the board and the
callables the runner passes; the pages themselves are in `pages.py`. A feed on the board is
served whatever the store does; one that must be read from a store that cannot answer now is
a 503 with Retry-After, and /healthz says why the node is unhealthy.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedbridge.app.pages import INDEX_CSP, SourceInfo, content_security_policy, index_page, opml
from feedbridge.core.errors import StoreError
from feedbridge.core.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from feedbridge.core.metrics import Metrics
from feedbridge.feeds.board import FeedBoard
from feedbridge.feeds.items import FEED_FORMATS
from feedbridge.store import SourceState

_EXTENSIONS = {ext: fmt for fmt, (ext, _) in FEED_FORMATS.items()}
HEARTBEAT_STALE = 120.0
RETRY_AFTER = 5  # seconds, for a feed the store cannot give now: it is back within seconds


async def _healthy() -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Routes:
    """Each route's handler, with what it serves from. `sources` is asked on each request:
    titles and site links are learnt from the upstream feeds as they are polled."""

    board: FeedBoard
    sources: Callable[[], Sequence[SourceInfo]]
    base_url: str
    token: str | None
    health: Callable[[], Awaitable[str | None]]  # None when healthy, else why not
    # every named source's state in one store call (None for one never polled); the whole
    # None when the store cannot give them now
    source_states: Callable[[Sequence[str]], Mapping[str, SourceState | None] | None]
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
        try:
            live = await self.board.load(name)
        except StoreError:
            return PlainTextResponse(
                f"feed {name!r} cannot be read from the store now; try again in {RETRY_AFTER}s\n",
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        if live is None and name in self.board.gone:
            message = f"feed {name!r} was removed from this feedbridge's configuration\n"
            return PlainTextResponse(message, status_code=410)
        if live is None:
            return PlainTextResponse(f"no feed named {name!r}\n", status_code=404)
        if fmt is None:
            tries = ", ".join(f"/feeds/{name}.{e}" for e in _EXTENSIONS)
            what = f"no format {ext!r}" if ext else "no format given"
            return PlainTextResponse(f"{what} for feed {name!r}; try {tries}\n", status_code=404)
        limit = request.query_params.get("limit")
        if limit is not None and not (limit.isdigit() and 0 < len(limit) <= 7 and int(limit)):
            return PlainTextResponse(
                f"limit must be a whole number of entries from 1, got {limit[:40]!r}\n",
                status_code=400,
            )
        count = int(limit) if limit is not None else None
        rendered = await live.rendered_off_loop(fmt, self.board.offload, count)
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

    async def feeds(self, request: Request) -> Response:
        """`/feeds/` has no page of its own: the index lists every feed."""
        where = "../" if request.url.path.endswith("/") else "./"
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(where + query, status_code=301)

    async def healthz(self, request: Request) -> Response:
        why = await self.health()
        if why is None:
            return PlainTextResponse("ok\n")
        return PlainTextResponse(f"unhealthy: {why}\n", status_code=503)

    async def opml(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        body = opml(self.base_url, self.sources(), self.token)
        return Response(body, media_type="text/x-opml; charset=utf-8")

    async def index(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        sources = self.sources()
        # every source's state in one store call, in a worker thread (the store may be slow)
        states = await run_in_threadpool(self.source_states, [s.name for s in sources])
        page = index_page(self.board, sources, self.base_url, states, self.token)
        return HTMLResponse(page, headers={"Content-Security-Policy": INDEX_CSP})

    async def metrics_text(self, request: Request) -> Response:
        if not self.authorized(request):
            return _denied()
        if self.metrics is None:
            return PlainTextResponse("metrics are off\n", status_code=404)
        body = await run_in_threadpool(self.metrics.expose)  # it reads queue depths
        return Response(body, media_type=METRICS_CONTENT_TYPE)


def create_app(
    board: FeedBoard,
    sources: Sequence[SourceInfo] | Callable[[], Sequence[SourceInfo]],
    *,
    base_url: str,
    token: str | None = None,
    health: Callable[[], Awaitable[str | None]] = _healthy,
    source_states: Callable[
        [Sequence[str]], Mapping[str, SourceState | None] | None
    ] = lambda names: {},
    metrics: Metrics | None = None,
    pages: ASGIApp | None = None,
) -> Starlette:
    """The ASGI app. `health` says why the worker loop or the store is unhealthy (None while
    healthy), within a second.

    `sources` may be a callable, asked on each request: titles and site links are learnt from
    the upstream feeds as they are polled. `pages` (`feedbridge.app.web`) serves the index and
    the web pages under the feeds' routes; without it the index is the plain list.
    """
    current = sources if callable(sources) else lambda: sources
    routes = Routes(board, current, base_url, token, health, source_states, metrics)
    table: list[BaseRoute] = [
        Route("/metrics", routes.metrics_text, methods=["GET"]),
        Route("/feeds", routes.feeds, methods=["GET", "HEAD"]),
        Route("/feeds/", routes.feeds, methods=["GET", "HEAD"]),
        Route("/feeds/{name}.{ext}", routes.feed, methods=["GET", "HEAD"]),
        Route("/feeds/{name}", routes.feed, methods=["GET", "HEAD"]),
        Route("/opml", routes.opml, methods=["GET", "HEAD"]),
        Route("/healthz", routes.healthz, methods=["GET", "HEAD"]),
    ]
    if pages is None:
        table.insert(1, Route("/", routes.index, methods=["GET", "HEAD"]))
    else:
        table.append(Mount("/", app=pages))
    return Starlette(routes=table, middleware=[Middleware(SecurityHeaders)])


_EVERY_RESPONSE = [
    (b"x-content-type-options", b"nosniff"),  # a feed or an error is never run as a page
    (b"referrer-policy", b"no-referrer"),  # links carry ?token= and lead to other sites
]
_HTML_DEFAULT = [
    (b"content-security-policy", content_security_policy().encode()),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP 2
]


class SecurityHeaders:
    """Adds the headers every response carries, and to an HTML page that set no CSP of its
    own the strictest one (nothing inline, nothing loaded, never framed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name for name, _ in headers}
                added = _EVERY_RESPONSE
                if any(n == b"content-type" and v.startswith(b"text/html") for n, v in headers):
                    added = [*added, *_HTML_DEFAULT]
                headers += [(name, value) for name, value in added if name not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


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
