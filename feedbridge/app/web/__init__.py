"""The web pages: the index, each source's page, adding, editing, pausing and deleting sources,
the targets, signing in. Server-rendered (Jinja2, no build step); one small script makes the
editor's preview live.

`pages_app` builds them as one Starlette app, mounted under the feed server's own routes; each
route goes through `Guard`, which applies the access rules (`access.py`) before the handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from feedbridge.app.pages import SourceInfo, shown_states
from feedbridge.app.reload import Reloader
from feedbridge.app.runtime import Runtime
from feedbridge.app.web.access import SESSION_COOKIE, SESSION_DAYS, Access, local_path
from feedbridge.app.web.render import page
from feedbridge.app.web.snapshots import Snapshots
from feedbridge.app.web.sources import SourcePages
from feedbridge.app.web.targets import TargetPages
from feedbridge.core.health import status_of
from feedbridge.core.models import Page
from feedbridge.sources import Source
from feedbridge.store import SourceState

Handler = Callable[[Request], Awaitable[Response]]
MAX_FIELDS = 60
MAX_FORM = 256 * 1024  # bytes of one POSTed form


class Guard:
    """Wraps each handler in the access rules: who may see, who may change, and that a POST
    is this site's own form (its token, its origin); the parsed form is `request.state.form`."""

    def __init__(self, access: Access) -> None:
        self.access = access

    def __call__(self, handler: Handler, *, edit: bool = False) -> Handler:
        access = self.access

        async def endpoint(request: Request) -> Response:
            if not access.may_view(request):
                return RedirectResponse(f"/login?next={request.url.path}", 303)
            request.state.common = self.common(request)
            if edit and not access.may_edit(request):
                return _refused(request, access.why_read_only if not access.editable
                                else "Sign in to change anything here.")  # fmt: skip
            if request.method == "POST":
                form = await read_form(request)
                if form is None:
                    return _refused(request, "Refused: not a form of these pages.", 413)
                why = access.cross_site(request, str(form.get("csrf") or ""))
                if why is not None:
                    return _refused(request, f"Refused: {why}.")
                request.state.form = form
            return await handler(request)

        return endpoint

    def common(self, request: Request) -> dict[str, object]:
        """What every page shows: whether this visitor may edit, and the form token."""
        access = self.access
        return {
            "may_edit": access.may_edit(request), "editable": access.editable,
            "token_set": bool(access.token), "signed_in": access.signed_in(request),
            "why_read_only": access.why_read_only, "csrf": access.csrf_token(request),
            "path": request.url.path,
        }  # fmt: skip


def _refused(request: Request, message: str, status: int = 403) -> Response:
    return page(request, "message.html", {"title": "Not allowed", "message": message,
                                          "problems": []}, status)  # fmt: skip


async def read_form(request: Request) -> FormData | None:
    """The POSTed form (URL-encoded: these pages send nothing else), read up to MAX_FORM bytes
    and MAX_FIELDS fields; None for anything else or more (whoever sends it: sign-in too)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                           max_num_fields=MAX_FIELDS)  # fmt: skip
    except ValueError:
        return None
    return FormData([(key, value) for key, value in fields])


class Pages:
    """The pages that are no source's nor target's: the index, signing in and out."""

    def __init__(self, rt: Runtime, access: Access, problems: Callable[[], list[str]]) -> None:
        self.rt = rt
        self.access = access
        self.problems = problems  # why the last reload failed, if it did

    async def index(self, request: Request) -> Response:
        """Every source served (paused ones too), its health and subscribe links."""
        rt = self.rt
        config = rt.config
        sources = list(rt.publisher.sources.values())
        # every source's state in one store call, off the event loop; None: the store could
        # not give them now (the feeds are listed all the same, "state unavailable")
        states = await asyncio.to_thread(shown_states, rt.store, [s.name for s in sources])
        rows = [
            _row(rt, s, None if states is None else states.get(s.name), states is None)
            for s in sources
        ]
        token = self.access.token
        return page(request, "index.html", {
            "rows": rows, "base_url": config.server.base_url,
            "suffix": f"?token={token}" if token else "",
            "deleted": request.query_params.get("deleted"), "problems": self.problems(),
            "states_unavailable": states is None,
        })  # fmt: skip

    async def login(self, request: Request) -> Response:
        """The sign-in form, and signing in with the server's token (a few guesses at most)."""
        request.state.common = Guard(self.access).common(request)
        if request.method == "GET":
            target = local_path(request.query_params.get("next"))
            return page(request, "login.html", {"next": target, "error": None})
        form = await read_form(request)
        if form is None:
            return _refused(request, "Refused: not a form of these pages.", 413)
        target = local_path(str(form.get("next") or ""))
        if (why := self.access.cross_site(request, str(form.get("csrf") or ""))) is not None:
            return _refused(request, f"Refused: {why}.")
        client = request.client.host if request.client else "?"
        if self.access.throttled(client):
            return page(request, "login.html", {"next": target, "error":
                        "Too many failed attempts: wait a few minutes."}, 429)  # fmt: skip
        if not self.access.sign_in(request, str(form.get("token") or "")):
            self.access.failed(client)
            await asyncio.sleep(0.5)  # a guess costs time
            return page(request, "login.html", {"next": target, "error":
                        "That is not this server's token."}, 401)  # fmt: skip
        return RedirectResponse(target, 303)

    async def logout(self, request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", 303)


def _row(
    rt: Runtime, source: Source, state: SourceState | None, unavailable: bool
) -> dict[str, Any]:
    """One source's row of the index (`state` None: never polled, or `unavailable`: the
    store could not say). On the event loop, as every reader of the board: a feed loaded in
    a thread could land on the board after the worker's sync had dropped it for a newer
    version, and be served stale until the next poll."""
    status, shown, detail = status_of(state)
    if unavailable:  # not "pending", which would say it was never polled
        status, shown, detail = "unavailable", "state unavailable", None
    return {
        "info": SourceInfo(source.name, source.title, source.kind, source.site_url),
        "live": rt.board.get(source.name), "status": status, "shown": shown, "detail": detail,
        "last_poll": state.last_poll if state else None,
        "last_success": state.last_success if state else None,
        "paused": not source.config.enabled, "page_made": rt.config.made_on_page(source.name),
    }  # fmt: skip


def pages_app(rt: Runtime, reloader: Reloader) -> Starlette:
    """The web pages of a running feedbridge, as one ASGI app."""
    server = rt.config.server
    token = server.token.get_secret_value() if server.token else None
    access = Access.for_server(token, server.host, server.base_url)
    guard = Guard(access)

    typed = rt.http.fetcher("web", typed=not server.private_urls)

    async def fetch(url: str) -> Page:
        # held to public addresses at each socket (unless private_urls), whatever DNS says
        # by then: `check_url` looked earlier, to say why in the page's words
        return await typed.get(url, conditional=False)

    snapshots = Snapshots(fetch, server.private_urls)
    name = reloader.path.name if reloader.path is not None else "the built-in defaults"
    sources = SourcePages(rt, reloader, snapshots, name, asyncio.Semaphore(2))
    targets = TargetPages(rt, reloader)
    pages = Pages(rt, access, lambda: reloader.problems)
    static = StaticFiles(directory=Path(__file__).parent / "static")
    routes: list[BaseRoute] = [
        Route("/", guard(pages.index), methods=["GET", "HEAD"]),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", guard(pages.logout, edit=False), methods=["POST"]),
        Route("/sources/new", guard(sources.new, edit=True), methods=["GET"]),
        Route("/sources/new", guard(sources.detect, edit=True), methods=["POST"]),
        Route("/sources/new/edit", guard(sources.start, edit=True), methods=["GET"]),
        Route("/sources/new/edit", guard(sources.save, edit=True), methods=["POST"]),
        Route("/sources/preview", guard(sources.preview, edit=True), methods=["POST"]),
        Route("/sources/{name}", guard(sources.show), methods=["GET", "HEAD"]),
        Route("/sources/{name}/edit", guard(sources.edit, edit=True), methods=["GET"]),
        Route("/sources/{name}/edit", guard(sources.save, edit=True), methods=["POST"]),
        Route("/sources/{name}/pause", guard(sources.pause, edit=True), methods=["POST"]),
        Route("/sources/{name}/delete", guard(sources.delete, edit=True), methods=["GET", "POST"]),
        Route("/targets", guard(targets.list), methods=["GET", "HEAD"]),
        Route("/targets/{name}/test", guard(targets.test, edit=True), methods=["POST"]),
        Mount("/static", app=static, name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware, secret_key=access.secret.hex(), session_cookie=SESSION_COOKIE,
            max_age=SESSION_DAYS * 86400, same_site="strict",
            https_only=server.base_url.startswith("https://"),
        ),
    ]  # fmt: skip
    if access.local_only and not token:  # no sign-in: only this machine's names (rebinding)
        hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=hosts))
    return Starlette(routes=routes, middleware=middleware)
