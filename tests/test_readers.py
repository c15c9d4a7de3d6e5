"""Real readers of our feeds: feedparser and the `reader` library (Atom, RSS, JSON Feed), and
newsboat (Atom, RSS). Every entry must arrive with title, link, date, author and content, and
a second refresh must add nothing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.render import render_all
from tests.test_notify import papers
from tests.tools import require_tool

TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return papers(12)


@pytest.fixture
def feeds(httpserver: HTTPServer, entries: list[Entry]) -> Iterator[dict[str, str]]:
    """The rendered HF feed in each format, served as feedbridge serves it."""
    base = httpserver.url_for("").rstrip("/")
    info = FeedInfo(
        name="hf-daily",
        title="Hugging Face Daily Papers",
        link="https://huggingface.co/papers",
        self_url=f"{base}/feeds/hf-daily.atom",
        base_url=base,
    )
    urls = {}
    for fmt, body in render_all(info, entries).items():
        path = f"/feeds/hf-daily.{fmt}"
        httpserver.expect_request(path).respond_with_data(body, content_type=TYPES[fmt])
        urls[fmt] = f"{base}{path}"
    yield urls


def by_link(entries: list[Entry]) -> dict[str, Entry]:
    return {e.link: e for e in entries}


@pytest.mark.parametrize("fmt", ["atom", "rss"])  # feedparser 6.0 has no JSON Feed parser
def test_feedparser_reads_every_entry_whole(
    feeds: dict[str, str], entries: list[Entry], fmt: str
) -> None:
    parsed = feedparser.parse(feeds[fmt])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(entries)
    expected = by_link(entries)
    for item in parsed.entries:
        entry = expected[item.link]
        assert item.title == entry.title
        assert item.get("published_parsed") or item.get("updated_parsed")
        names = [a.get("name") or a.get("email") for a in item.get("authors", [])]
        assert names and names[0] and entry.authors[0] in names[0], f"{fmt}: {names}"
        content = item.get("content", [{}])[0].get("value") or item.get("summary", "")
        assert entry.summary[:40] in content


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_the_reader_library_reads_every_entry_once(
    tmp_path: Path, feeds: dict[str, str], entries: list[Entry], fmt: str
) -> None:
    from reader import make_reader

    reader = make_reader(str(tmp_path / "reader.sqlite"))
    try:
        reader.add_feed(feeds[fmt])
        reader.update_feeds()
        got = list(reader.get_entries())
        (feed,) = reader.get_feeds()
        assert feed.last_exception is None, feed.last_exception
        assert len(got) == len(entries)
        expected = by_link(entries)
        for item in got:
            entry = expected[item.link or ""]
            assert item.title == entry.title
            assert item.published or item.updated
            assert item.authors_str and item.authors_str.split(", ")[0] in entry.authors
            text = " ".join(c.value for c in item.content) or item.summary or ""
            assert entry.summary[:40] in text
        reader.update_feeds()
        assert len(list(reader.get_entries())) == len(entries), "a refresh added entries"
    finally:
        reader.close()


def newsboat_reload(tmp_path: Path, binary: str, url: str) -> None:
    (tmp_path / "urls").write_text(url + "\n")
    (tmp_path / "config").write_text("")
    result = subprocess.run(
        [binary, "-u", str(tmp_path / "urls"), "-c", str(tmp_path / "cache.db"),
         "-C", str(tmp_path / "config"), "-x", "reload"],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_newsboat_reads_every_entry_once(
    tmp_path: Path, feeds: dict[str, str], entries: list[Entry], fmt: str
) -> None:
    binary = require_tool("newsboat", package="newsboat")
    newsboat_reload(tmp_path, binary, feeds[fmt])
    with sqlite3.connect(tmp_path / "cache.db") as db:
        rows = db.execute("SELECT title, url, author, pubDate, content FROM rss_item").fetchall()
    assert len(rows) == len(entries)
    expected = by_link(entries)
    for title, url, author, pub_date, content in rows:
        entry = expected[url]
        assert title == entry.title
        assert pub_date > 0
        assert author.split(", ")[0] in entry.authors  # Atom: newsboat keeps one author
        assert entry.summary[:40] in content
    newsboat_reload(tmp_path, binary, feeds[fmt])
    with sqlite3.connect(tmp_path / "cache.db") as db:
        (count,) = db.execute("SELECT count(*) FROM rss_item").fetchone()
    assert count == len(entries), "a second reload added entries"
