"""Case index: the index page with 1,000 sources, each source's state read per source (as
before) or in one store call (`Store.source_states`), on the embedded store and PostgreSQL.

Each store holds 1,000 polled sources (a state each, as a poll writes it). The page is the
plain index (`feedbridge.app.server`), requested through httpx's ASGI transport, so a run is
the whole request: the states read in a worker thread, the page written. Baseline in the same
run: the same app whose state reader calls `source_state` once per source (what the index
did before). The two alternate (A B A B) so that noise hits both alike.

On PostgreSQL, also: the page while another session holds `LOCK TABLE sources`. The batched
read waits one lock timeout (1 s) and lists every feed "state unavailable"; the per-source
reader would wait a lock timeout per source (1,000 s), so it is not run: its row gives that
arithmetic, not a measurement.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import Row, Stat, interleave

SOURCES = 1000


def _per_source(store: Any) -> Callable[[Sequence[str]], dict[str, Any]]:
    """The index's state reader before `source_states`: one store call per source."""
    from feedbridge.core.errors import StoreError

    def read(names: Sequence[str]) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for name in names:
            try:
                state = store.source_state(name)
            except StoreError:
                shown[name] = None
                continue
            shown[name] = state if state.last_poll is not None else None
        return shown

    return read


def _fill(store: Any, count: int) -> list[Any]:
    from feedbridge.app.pages import SourceInfo
    from feedbridge.store import PollOutcome, SourceState

    names = [f"src{i:04d}" for i in range(count)]
    store.register_sources(names, time.time())
    for i, name in enumerate(names):
        state = SourceState(
            last_poll=1.7e9 + i, last_success=1.7e9 + i, last_count=30, status="ok",
            validators={"etag": f'"{i:08x}"', "last_modified": "Fri, 08 May 2026 10:00:00 GMT"},
            upstream={"title": f"Source {i}", "link": f"https://example.org/{i}"},
        )  # fmt: skip
        store.apply_poll(name, PollOutcome(state))
    return [SourceInfo(n, f"Source {i}", "html", f"https://example.org/{i}")
            for i, n in enumerate(names)]  # fmt: skip


class _Client:
    """GET on an ASGI app from synchronous code (one event loop for every request)."""

    def __init__(self, app: Any, runner: asyncio.Runner) -> None:
        import httpx

        self.runner = runner
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://bench", timeout=60)  # fmt: skip

    def get(self, path: str) -> Any:
        return self.runner.run(self.client.get(path))


def _app(store: Any, infos: list[Any], reader: Callable[[Sequence[str]], Any] | None) -> Any:
    from feedbridge.app.pages import shown_states
    from feedbridge.app.server import create_app
    from feedbridge.feeds.board import FeedBoard

    if reader is None:
        reader = lambda names: shown_states(store, names)  # noqa: E731
    return create_app(FeedBoard(), infos, base_url="http://bench", source_states=reader)


def _pages(store: Any, infos: list[Any], runs: int) -> tuple[list[float], list[float]]:
    """(batched, per-source) wall times of GET / in ms."""
    with asyncio.Runner() as runner:
        batched = _Client(_app(store, infos, None), runner)
        each = _Client(_app(store, infos, _per_source(store)), runner)

        def timed(c: _Client) -> Callable[[], float]:
            def go() -> float:
                started = time.perf_counter()
                page = c.get("/")
                took = (time.perf_counter() - started) * 1000
                assert page.status_code == 200, page.text[:300]
                assert page.text.count(">ok<") == len(infos), page.text[:300]
                return took

            return go

        return tuple(interleave(runs, timed(batched), timed(each)))  # type: ignore[return-value]


def _locked(store: Any, url: str, infos: list[Any]) -> float:
    """GET / in seconds while another session holds the sources table's lock."""
    import psycopg

    with asyncio.Runner() as runner, psycopg.connect(url) as locker:
        c = _Client(_app(store, infos, None), runner)
        locker.execute("LOCK TABLE sources")
        started = time.perf_counter()
        page = c.get("/")
        took = time.perf_counter() - started
        locker.rollback()
    assert page.text.count("state unavailable") == len(infos), page.text[:300]
    return took


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    from feedbridge.store import EmbeddedStore
    from feedbridge.store.postgres import PostgresStore
    from tests.pg import pg_server

    runs = 3 if quick else 11
    rows: list[Row] = []
    raw: dict[str, Any] = {"sources": SOURCES}
    with tempfile.TemporaryDirectory(prefix="fb-bench-index-") as tmp:
        with EmbeddedStore(Path(tmp) / "store") as store:
            infos = _fill(store, SOURCES)
            after, before = _pages(store, infos, runs)
        raw["embedded"] = {"batched_ms": after, "per_source_ms": before}
        rows.append(Row(
            "index", f"index page, {SOURCES:,} sources, embedded: states in one call", "ms",
            Stat(after), baseline="a source_state call per source", base_stat=Stat(before),
        ))  # fmt: skip
    with pg_server() as pg:
        url = pg.database()
        with PostgresStore(url) as store:
            infos = _fill(store, SOURCES)
            after, before = _pages(store, infos, runs)
            locked = [_locked(store, url, infos) for _ in range(1 if quick else 3)]
        raw["postgresql"] = {"batched_ms": after, "per_source_ms": before, "locked_s": locked}
    rows.append(Row(
        "index", f"index page, {SOURCES:,} sources, PostgreSQL: states in one query", "ms",
        Stat(after), baseline="a query per source", base_stat=Stat(before),
    ))  # fmt: skip
    rows.append(Row(
        "index", f"index page, {SOURCES:,} sources, PostgreSQL, sources table locked", "s",
        Stat(locked), note=f"every feed listed, 'state unavailable'; a query per source would "
        f"wait the 1 s lock timeout {SOURCES:,} times ({SOURCES:,} s, not run)",
    ))  # fmt: skip
    return rows, raw
