"""The source pages: a source's state and last polls; add one (paste a URL, pick what detection
found, adjust it with a live preview, save); edit, pause and delete the page-made ones.

Every change goes through the reloader, which validates the whole config before anything is
stored; the preview re-reads the page fetched once (`Snapshots`) with the values just typed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from feedbridge.app.detection import METHODS
from feedbridge.app.reload import Reloader
from feedbridge.app.runtime import Runtime
from feedbridge.app.web.forms import (
    FIELDS,
    HUB_FIELDS,
    HUB_KINDS,
    ITEM_FIELDS,
    OPTIONS,
    by_fields,
    check_table,
    form_from_table,
    table_from_form,
)
from feedbridge.app.web.render import fragment, page
from feedbridge.app.web.snapshots import Refused, Snapshot, Snapshots, Unresolved, check_url
from feedbridge.config import read_toml, sources_toml
from feedbridge.core.errors import FeedbridgeError
from feedbridge.core.health import status_of
from feedbridge.detect import source_name
from feedbridge.detect.hub import run_hub
from feedbridge.detect.suggest import suggestion
from feedbridge.sources.collect import Extraction, describe_skipped
from feedbridge.store import PageSource

PREVIEW_SECONDS = 10.0  # an extraction that takes longer is given up (the page is hostile)
SHOWN_ENTRIES = 50
_SECRET_TABLES = ("headers", "cookies")


@dataclass
class SourcePages:
    """The handlers of the source pages (the routes are in `feedbridge.app.web`)."""

    rt: Runtime
    reloader: Reloader
    snapshots: Snapshots
    config_name: str  # "config.toml": where the file's sources come from, as pages say it
    previews: asyncio.Semaphore

    # --- reading --------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        name = request.path_params["name"]
        served = self.rt.publisher.sources.get(name)
        if served is None:
            return _missing(request, name)
        config = self.reloader.config
        state = await asyncio.to_thread(self.rt.store.source_state, name)
        live = self.rt.board.get(name)
        status, shown, detail = status_of(state if state.last_poll is not None else None)
        stored = await self._stored(name) if config.made_on_page(name) else None
        return page(request, "source.html", {
            "source": served, "config": served.config, "state": state, "status": status,
            "shown": shown, "detail": detail, "live": live, "page_made": stored is not None,
            "stored": stored, "origin": self._origin(name),
            "reads": served.mask(served.url),  # a ${ENV} or *_file value in it as ***
            "toml": as_written(self.reloader.path, name, stored),
            "saved": request.query_params.get("saved"),
        })  # fmt: skip

    def _origin(self, name: str) -> str:
        return "made on this page" if self.reloader.config.made_on_page(name) else (
            f"from {self.config_name}")  # fmt: skip

    async def _stored(self, name: str) -> PageSource | None:
        stored = await asyncio.to_thread(self.rt.store.page_sources)
        return next((p for p in stored if p.name == name), None)

    # --- adding: paste a URL, pick a candidate ---------------------------------------------

    async def new(self, request: Request) -> Response:
        return page(request, "new.html", {"url": request.query_params.get("url", ""),
                                          "error": None, "detection": None})  # fmt: skip

    async def detect(self, request: Request) -> Response:
        form: FormData = request.state.form
        url = str(form.get("url") or "").strip()
        context: dict[str, Any] = {"url": url, "error": None, "detection": None}
        if not url:
            context["error"] = "paste the address of a page"
            return page(request, "new.html", context, 400)
        try:
            snapshot = await self.snapshots.take(url)
            context["detection"] = await self.snapshots.detect(snapshot)
        except FeedbridgeError as exc:
            context["error"] = str(exc)
            return page(request, "new.html", context, 400)
        context.update(snapshot=snapshot.id, name=self._free_name(source_name(url)),
                       methods=METHODS)  # fmt: skip
        return page(request, "new.html", context)

    def _free_name(self, wanted: str) -> str:
        taken = {s.name for s in self.reloader.config.sources}
        name, n = wanted, 2
        while name in taken:
            name = f"{wanted[:60]}-{n}"
            n += 1
        return name

    async def start(self, request: Request) -> Response:
        """The editor for a new source: a candidate's table (or an empty html source)."""
        snapshot = self.snapshots.get(request.query_params.get("snapshot", ""))
        if snapshot is None or snapshot.detection is None:
            url = request.query_params.get("url", "")
            again = f"/sources/new?url={quote(url, safe='')}" if url else "/sources/new"
            return RedirectResponse(again, 303)
        table: dict[str, Any] = {"kind": "html", "url": snapshot.url}
        with contextlib.suppress(KeyError, ValueError, IndexError):
            chosen = snapshot.detection.candidates[int(request.query_params["candidate"])]
            table = dict(chosen.source)
        name = request.query_params.get("name") or self._free_name(source_name(snapshot.url))
        values = form_from_table({"name": name, **table})
        return await self._editor(request, values, snapshot, None)

    # --- the editor ------------------------------------------------------------------------

    async def edit(self, request: Request) -> Response:
        name = request.path_params["name"]
        stored = await self._stored(name)
        if stored is None:
            return _missing(request, name, editable=True)
        values = form_from_table(stored.table)
        snapshot = None
        with contextlib.suppress(FeedbridgeError):  # the preview says why
            if values.get("kind") not in HUB_KINDS:  # those ask the Hub's API in the preview
                snapshot = await self.snapshots.take(values.get("url", ""))
        return await self._editor(request, values, snapshot, stored)

    async def _editor(
        self, request: Request, values: Mapping[str, str], snapshot: Snapshot | None,
        stored: PageSource | None, errors: Mapping[str, str] | None = None,
        problems: list[str] | None = None, status: int = 200,
    ) -> Response:  # fmt: skip
        shown = await self._preview(values, snapshot)
        return page(request, "edit.html", {
            "values": values, "stored": stored, "item_fields": ITEM_FIELDS, "options": OPTIONS,
            "hub_fields": HUB_FIELDS,
            "errors": {**shown.get("errors", {}), **(errors or {})}, "problems": problems or [],
            "preview": shown, "snapshot": shown.get("snapshot", snapshot.id if snapshot else ""),
            "action": f"/sources/{stored.name}/edit" if stored else "/sources/new/edit",
            "not_saved": status >= 400,
        }, status)  # fmt: skip

    async def preview(self, request: Request) -> Response:
        """The live preview of the values just typed, as a piece of the editor page."""
        form: FormData = request.state.form
        snapshot = self.snapshots.get(str(form.get("snapshot") or ""))
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return fragment("preview.html", {"preview": await self._preview(values, snapshot)})

    async def _preview(
        self, values: Mapping[str, str], snapshot: Snapshot | None
    ) -> dict[str, Any]:
        """What the values yield from the snapshot's page (fetched now if there is none, or
        if the URL changed): entries, matches per field, what was skipped and why."""
        table = table_from_form(values, values.get("name") or "preview")
        table["name"] = table["name"] or "preview"
        source, errors, problems = check_table(table)
        if source is None:
            return {"errors": errors, "problems": problems, "result": None}
        try:
            if source.kind in HUB_KINDS:  # the Hub's API, asked through the snapshot
                snapshot = snapshot or self.snapshots.blank(source.site_url)
                async with self.previews:
                    result = await asyncio.wait_for(
                        run_hub(source, self.snapshots.fetcher(snapshot)), PREVIEW_SECONDS
                    )
                return _shown(result, None, snapshot.id, table)
            if snapshot is None:
                snapshot = await self.snapshots.take(source.url)
            fetched = await self.snapshots.page(snapshot, source.url)
            async with self.previews:
                result = await asyncio.wait_for(
                    asyncio.to_thread(source.analyze, fetched), PREVIEW_SECONDS
                )
        except TimeoutError:
            return {"problems": [f"reading the page took over {PREVIEW_SECONDS:g}s"]}
        except FeedbridgeError as exc:
            return {"problems": [str(exc)], "result": None}
        hint = None
        if result.items == 0 and result.page is not None:
            hint = await asyncio.to_thread(suggestion, result.page, source.config)
        return _shown(result, hint, snapshot.id, table)

    # --- saving, pausing, deleting ----------------------------------------------------------

    async def save(self, request: Request) -> Response:
        """Save (or, `action=preview`, only show) the editor's values; a config the values make
        invalid is not stored, and the editor shows why."""
        form: FormData = request.state.form
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        name = request.path_params.get("name")
        stored = await self._stored(name) if name else None
        if name and stored is None:
            return _missing(request, name, editable=True)
        if stored is not None:
            values["name"] = stored.name  # a feed's address does not change
        snapshot = self.snapshots.get(values.get("snapshot", ""))
        if values.get("action") == "preview":
            return await self._editor(request, values, snapshot, stored)
        table = table_from_form(values)
        _, errors, problems = check_table(table)
        if not errors and not problems and (refused := await self._refused(table)):
            errors = refused
        if not errors and not problems:
            revision = _revision(values.get("revision"), stored.revision) if stored else None
            problems = await self.reloader.save_page_source(table, revision)
            errors, problems = by_fields(problems, table["kind"])
        if errors or problems:
            return await self._editor(request, values, snapshot, stored, errors, problems, 400)
        return RedirectResponse(f"/sources/{table['name']}?saved=1", 303)

    async def _refused(self, table: Mapping[str, Any]) -> dict[str, str]:
        """Why the source's URL (or a Hub kind's `base_url`) may not be fetched from here (a
        private or metadata address), else None. Its polls are held to the same rule at each
        socket; a host that does not resolve now is not refused for that. As errors by field."""
        for key in ("url", "base_url"):
            url = table.get(key)
            if not isinstance(url, str):
                continue
            try:
                await check_url(url, self.snapshots.private)
            except Unresolved:
                continue
            except Refused as exc:
                return {key: str(exc)}
        return {}

    async def pause(self, request: Request) -> Response:
        name = request.path_params["name"]
        stored = await self._stored(name)
        if stored is None:
            return _missing(request, name, editable=True)
        table = dict(stored.table)
        if table.get("enabled") is False:
            table.pop("enabled")
        else:
            table["enabled"] = False
        problems = await self.reloader.save_page_source(table, stored.revision)
        if problems:
            return _problems(request, f"source {name} was not changed", problems)
        return RedirectResponse(f"/sources/{name}", 303)

    async def delete(self, request: Request) -> Response:
        name = request.path_params["name"]
        stored = await self._stored(name)
        if stored is None:
            return _missing(request, name, editable=True)
        if request.method == "GET":
            return page(request, "delete.html", {"stored": stored})
        revision = _revision(request.state.form.get("revision"), stored.revision)
        problems = await self.reloader.delete_page_source(name, revision)
        if problems:
            return _problems(request, f"source {name} was not deleted", problems)
        return RedirectResponse("/?deleted=" + name, 303)


def _revision(given: object, stored: int) -> int:
    """The revision a form started from (the stored one if it names none)."""
    return int(given) if isinstance(given, str) and given.isdigit() else stored


def as_written(path: Path | None, name: str, stored: PageSource | None) -> str:
    """A source's table as written: the page's, or the file's (`${ENV}` kept as written);
    the values of `headers` and `cookies` never."""
    table: Mapping[str, Any] | None = stored.table if stored else None
    if table is None and path is not None:
        try:
            tables = read_toml(path).get("sources", [])
        except FeedbridgeError:
            tables = []
        table = next((t for t in tables if isinstance(t, dict) and t.get("name") == name), {})
    shown = {k: {n: "***" for n in v} if k in _SECRET_TABLES and isinstance(v, dict) else v
             for k, v in (table or {}).items()}  # fmt: skip
    return sources_toml([shown]) if shown else ""


def _shown(
    result: Extraction, hint: str | None, snapshot: str, table: Mapping[str, Any]
) -> dict[str, Any]:
    """The preview as the template shows it."""
    matched = [
        {"name": FIELDS[k].label if k in FIELDS else k, "count": n, "of": result.items}
        for k, n in result.matched.items()
    ]
    # in the feed's order: newest first (undated ones keep their place among themselves)
    served = sorted(result.entries, key=lambda e: e.sort_time, reverse=True)
    return {
        "result": result, "entries": served[:SHOWN_ENTRIES], "matched": matched,
        "skipped": describe_skipped(result.skipped), "hint": hint, "snapshot": snapshot,
        "errors": {}, "problems": [], "kind": table.get("kind"),
        "browser": table.get("fetch") == "browser",
    }  # fmt: skip


def _missing(request: Request, name: str, editable: bool = False) -> Response:
    what = "no source made on this page" if editable else "no source"
    return page(request, "message.html", {
        "title": "Not found", "message": f"There is {what} named {name!r}.", "problems": [],
    }, 404)  # fmt: skip


def _problems(request: Request, title: str, problems: list[str]) -> Response:
    return page(request, "message.html", {"title": title.capitalize(), "message":
                "The configuration would not be valid; nothing changed:",
                "problems": problems}, 400)  # fmt: skip

