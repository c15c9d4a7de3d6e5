"""No change, no work: an identical body is not parsed, unchanged entries render nothing,
and a restart renders nothing until a feed is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.app.runtime import Runtime, runtime
from feedbridge.config import load_config
from feedbridge.feeds.render import render_atom
from feedbridge.sources.html import HtmlSource
from tests.chaos import to_toml

PAGE = """<html><head><title>Blog</title></head><body>
<article><h2><a href="/p/1">One</a></h2><span class="votes">{votes}</span></article>
<article><h2><a href="/p/2">Two</a></h2></article>
</body></html>"""


@asynccontextmanager
async def blog(tmp_path: Path, url: str, **source: Any) -> AsyncIterator[Runtime]:
    document = {
        "storage": {"path": str(tmp_path / "data")},
        "server": {"enabled": False},
        "sources": [
            {"name": "blog", "kind": "html", "url": url, "item": "article", "title": "h2"} | source
        ],
    }
    path = tmp_path / "config.toml"
    path.write_text(to_toml(document))
    async with runtime(load_config(path)) as rt:
        yield rt


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the sources whose pages were parsed, one per extract."""
    calls: list[str] = []
    original = HtmlSource.analyze

    def analyze(self: HtmlSource, page: Any) -> Any:
        calls.append(self.name)
        return original(self, page)

    monkeypatch.setattr(HtmlSource, "analyze", analyze)
    return calls


def serve(httpserver: HTTPServer, pages: list[str]) -> str:
    """The page at /blog: each request gets the next of `pages` (the last one repeats)."""
    served = iter(pages)
    last: list[str] = []

    def handler(request: Request) -> Response:
        last[:] = [next(served, last[0] if last else "")]
        return Response(last[0], content_type="text/html; charset=utf-8")  # no validators

    httpserver.expect_request("/blog").respond_with_handler(handler)
    return httpserver.url_for("/blog")


async def test_an_identical_body_is_not_parsed_and_writes_only_the_poll_time(
    tmp_path: Path, httpserver: HTTPServer, counted: list[str]
) -> None:
    url = serve(httpserver, [PAGE.format(votes=1), PAGE.format(votes=1), PAGE.format(votes=2)])
    async with blog(tmp_path, url, score=".votes") as rt:
        first = await rt.worker.poll(rt.worker.sources[0])
        saved = rt.store.feed_entries("blog")
        second = await rt.worker.poll(rt.worker.sources[0])
        assert counted == ["blog"] and first.changed and not second.changed
        assert rt.store.feed_entries("blog") == saved
        assert (rt.store.source_state("blog").last_poll or 0) > 0
        third = await rt.worker.poll(rt.worker.sources[0])  # the score changed: parsed again
        assert counted == ["blog", "blog"] and third.changed
        assert rt.store.feed_entries("blog")[0].score == 2


async def test_unchanged_entries_render_nothing(
    tmp_path: Path, httpserver: HTTPServer, counted: list[str]
) -> None:
    # The same entries in a different body (a comment changed): parsed, but the feed stays.
    url = serve(httpserver, [PAGE.format(votes=1), PAGE.format(votes=1) + "<!-- x -->"])
    async with blog(tmp_path, url) as rt:
        await rt.worker.poll(rt.worker.sources[0])
        feed = rt.board.get("blog")
        assert feed is not None
        atom = feed.rendered("atom")
        report = await rt.worker.poll(rt.worker.sources[0])
        assert counted == ["blog", "blog"] and not report.changed
        assert rt.board.get("blog") is feed and feed.rendered("atom") is atom


async def test_a_poll_reads_no_stored_feed_that_the_board_holds(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each poll compares with the previous feed: the one this process published (at the
    version it wrote) is not read and parsed from the store again; after a restart it is."""
    from feedbridge.store.embedded import tables

    pages = [PAGE.format(votes=v) for v in (1, 2, 3)]
    url = serve(httpserver, [*pages, pages[-1] + "<!-- x -->"])
    reads: list[str] = []
    original = tables.feed

    def feed(con: Any, source: str) -> Any:
        reads.append(source)
        return original(con, source)

    monkeypatch.setattr(tables, "feed", feed)
    async with blog(tmp_path, url, score=".votes") as rt:
        reports = [await rt.worker.poll(rt.worker.sources[0]) for _ in range(3)]
        assert [r.changed for r in reports] == [True, True, True]
        assert reads == ["blog"], "read once: nothing stored before the first poll"
        assert [e.score for e in rt.store.feed_entries("blog")] == [3, None]
    reads.clear()
    async with blog(tmp_path, url, score=".votes") as rt:  # a restart: the board is empty
        report = await rt.worker.poll(rt.worker.sources[0])
        assert reads == ["blog"] and not report.changed, "read from the store, and unchanged"


async def test_a_changed_config_reads_an_unchanged_page_again(
    tmp_path: Path, httpserver: HTTPServer, counted: list[str]
) -> None:
    url = serve(httpserver, [PAGE.format(votes=1)])
    async with blog(tmp_path, url) as rt:
        await rt.worker.poll(rt.worker.sources[0])
    async with blog(tmp_path, url, title="h2 a", feed_title="Renamed") as rt:
        report = await rt.worker.poll(rt.worker.sources[0])
    assert counted == ["blog", "blog"] and report.ok


async def test_a_restart_renders_nothing_until_a_feed_is_requested(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve(httpserver, [PAGE.format(votes=1)])
    async with blog(tmp_path, url) as rt:
        await rt.worker.poll(rt.worker.sources[0])
        before = rt.board.get("blog")
        assert before is not None
        etag = before.rendered("atom").etag
    rendered: list[str] = []
    from feedbridge.feeds import fragments

    original = fragments.FragmentCache.render

    def render(self: Any, info: Any, entries: Any, fmt: str, limit: int | None = None) -> bytes:
        rendered.append(fmt)
        return original(self, info, entries, fmt, limit)

    monkeypatch.setattr(fragments.FragmentCache, "render", render)
    async with blog(tmp_path, url) as rt:
        assert rt.board.feeds == {} and rendered == []  # start-up read and rendered nothing
        feed = rt.board.get("blog")
        assert feed is not None and rendered == []
        assert feed.rendered("atom").etag == etag  # the same bytes as before the restart
        assert rendered == ["atom"]
        assert feed.body("atom") == render_atom(feed.info, rt.store.feed_entries("blog"))
        assert rt.board.get("nope") is None
