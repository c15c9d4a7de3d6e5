"""What feed readers receive from a running feedbridge (issue 18, items 1-6): a podcast-like
origin with an enclosure and a thumbnail, a title that reads as markup, an item without a
summary and one without a link, served by `feedbridge run` and read back by feedparser, the
`reader` library and newsboat; a guid reused by a prepended item, through `feedbridge once`.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.atomcheck import check_atom
from tests.conftest import run_cli, start_run
from tests.test_readers import newsboat_reload
from tests.test_run import free_port, wait_for
from tests.tools import require_tool

SITE = "https://pod.example/"
MP3 = "https://cdn.pod.example/episodes/42.mp3"
THUMB = "https://cdn.pod.example/art/42.jpg"
MARKUP_TITLE = "<b>tag</b> & AT&T"
ORIGIN = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title>Pod Show</title><link href="{SITE}"/><id>urn:x:pod</id>
<updated>2026-05-07T10:00:00Z</updated>
<entry><id>{SITE}42</id>
<title type="text">{MARKUP_TITLE.replace("&", "&amp;").replace("<", "&lt;")}</title>
<link href="{SITE}42"/><link rel="enclosure" href="{MP3}" type="audio/mpeg" length="48213000"/>
<media:thumbnail url="{THUMB}"/><summary>Episode 42: the one about tags.</summary>
<category term="Science &amp; &lt;Tech&gt;"/><category term="podcast"/><category term="podcast"/>
<updated>2026-05-07T10:00:00Z</updated></entry>
<entry><id>{SITE}41</id><title>Only a title</title><link href="{SITE}41"/>
<updated>2026-05-06T10:00:00Z</updated></entry>
<entry><id>tag:pod.example,2026:notice-7</id><title>A notice without a link</title>
<summary>Read it here.</summary>
<updated>2026-05-05T10:00:00Z</updated></entry>
</feed>"""
# The same show as RSS 2.0: a guid reused by a prepended item (item 6), the <enclosure>
ORIGIN_RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Pod Show</title><link>{SITE}</link><description>A show</description>
<item><title>Episode 42</title><link>{SITE}42</link><guid>{SITE}42</guid>
<enclosure url="{MP3}" length="48213000" type="audio/mpeg"/>
<pubDate>Thu, 07 May 2026 10:00:00 GMT</pubDate></item>
<item><title>Only a title</title><link>{SITE}41</link><guid>{SITE}41</guid>
<pubDate>Wed, 06 May 2026 10:00:00 GMT</pubDate></item>
</channel></rss>"""


@dataclass(frozen=True, slots=True)
class Served:
    """The three feed URLs of one running feedbridge."""

    atom: str
    rss: str
    json: str

    def url(self, fmt: str) -> str:
        return {"atom": self.atom, "rss": self.rss, "json": self.json}[fmt]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`feedbridge run` serving the origin's feed once its first poll is done."""
    tmp_path = tmp_path_factory.mktemp("received")
    origin = HTTPServer(host="127.0.0.1", port=0)
    origin.expect_request("/feed.xml").respond_with_data(
        ORIGIN, content_type="application/atom+xml"
    )
    origin.start()
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
[[sources]]
name = "pod"
kind = "feed"
url = "{origin.url_for("/feed.xml")}"
interval = "1h"
""")
    proc = start_run(config, tmp_path, output=False)
    base = f"http://127.0.0.1:{port}/feeds/pod"
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", timeout=60)
        for _ in range(300):
            if b"<entry>" in wait_for(f"{base}.atom", timeout=60).content:
                break
            time.sleep(0.2)  # the first poll is another process's
        yield Served(f"{base}.atom", f"{base}.rss", f"{base}.json")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        origin.stop()


def parsed(served: Served, fmt: str) -> feedparser.FeedParserDict:
    result = feedparser.parse(httpx.get(served.url(fmt)).content)
    assert not result.bozo, result.get("bozo_exception")
    return result


# --- feedparser -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_gets_the_enclosure_and_thumbnail(served: Served, fmt: str) -> None:
    entry = next(e for e in parsed(served, fmt).entries if e.link == f"{SITE}42")
    (enclosure,) = entry.enclosures
    assert (enclosure.href, enclosure.type, enclosure.length) == (MP3, "audio/mpeg", "48213000")
    assert entry.media_thumbnail[0]["url"] == THUMB


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_shows_the_title_the_origin_showed(served: Served, fmt: str) -> None:
    titles = [e.title for e in parsed(served, fmt).entries]
    assert titles[0] == MARKUP_TITLE  # not &lt;b&gt; nor &amp;, not stripped to "tag"
    if fmt == "atom":
        assert parsed(served, fmt).entries[0].title_detail.type == "text/plain"


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_sees_no_invented_author_and_no_title_as_content(
    served: Served, fmt: str
) -> None:
    feed = parsed(served, fmt)
    authors = [e.get("author", "") for e in feed.entries] + [feed.feed.get("author", "")]
    assert not any("feedbridge" in a for a in authors), authors
    if fmt == "atom":  # RFC 4287: entries without an author take the feed's: the show's own
        assert feed.feed.author == "Pod Show"
    title_only = next(e for e in feed.entries if e.title == "Only a title")
    assert "content" not in title_only and not title_only.get("summary")


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_links_an_item_without_a_link_to_the_page_it_came_from(
    served: Served, fmt: str
) -> None:
    notice = next(e for e in parsed(served, fmt).entries if e.title == "A notice without a link")
    assert notice.link == SITE


def test_the_atom_feed_is_valid_with_only_the_warnings_that_ask_for_no_action(
    served: Served,
) -> None:
    warnings: list[str] = []
    assert check_atom(httpx.get(served.atom).content, warnings=warnings) == []
    assert warnings == [
        "entry[1]: neither content nor summary",  # the source gave it none
        "title: type=text contains undeclared HTML",  # the title reads "<b>tag</b>"
    ]


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_the_origins_categories_reach_every_format_once_each(served: Served, fmt: str) -> None:
    """Upstream categories are kept (each once), as readers show and filter by them."""
    expected = ["Science & <Tech>", "podcast"]
    if fmt == "json":
        items = httpx.get(served.json).json()["items"]
        assert next(i for i in items if i["url"] == f"{SITE}42")["tags"] == expected
        return
    entry = next(e for e in parsed(served, fmt).entries if e.link == f"{SITE}42")
    assert [t.term for t in entry.tags] == expected


def test_the_json_feed_carries_attachments_and_no_invented_author(served: Served) -> None:
    doc = httpx.get(served.json).json()
    assert "authors" not in doc  # the origin names no author
    items = {item["title"]: item for item in doc["items"]}
    episode = items[MARKUP_TITLE]
    assert episode["attachments"] == [
        {"url": MP3, "mime_type": "audio/mpeg", "size_in_bytes": 48213000}
    ]
    assert episode["image"] == THUMB
    assert all("authors" not in item for item in doc["items"])
    assert items["Only a title"]["content_html"] == "" and "summary" not in items["Only a title"]
    assert items["A notice without a link"]["url"] == SITE


# --- the reader library -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_the_reader_library_shows_every_item_as_the_origin_did(
    tmp_path: Path, served: Served, fmt: str
) -> None:
    from reader import make_reader

    reader = make_reader(str(tmp_path / "reader.sqlite"))
    try:
        reader.add_feed(served.url(fmt))
        reader.update_feeds()
        (feed,) = reader.get_feeds()
        assert feed.last_exception is None, feed.last_exception
        entries = {e.title: e for e in reader.get_entries()}
        assert set(entries) == {MARKUP_TITLE, "Only a title", "A notice without a link"}
        episode = entries[MARKUP_TITLE]
        assert [(e.href, e.type) for e in episode.enclosures] == [(MP3, "audio/mpeg")]
        assert entries["A notice without a link"].link == SITE
        title_only = entries["Only a title"]
        assert not any(c.value for c in title_only.content) and not title_only.summary
        assert not any("feedbridge" in (e.authors_str or "") for e in entries.values())
    finally:
        reader.close()


# --- newsboat ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_newsboat_shows_title_enclosure_link_and_no_copied_content(
    tmp_path: Path, served: Served, fmt: str
) -> None:
    binary = require_tool("newsboat", package="newsboat")
    newsboat_reload(tmp_path, binary, served.url(fmt))
    with sqlite3.connect(tmp_path / "cache.db") as db:
        rows = db.execute(
            "SELECT title, url, author, content, enclosure_url, enclosure_type FROM rss_item"
        ).fetchall()
    items = {row[0]: row[1:] for row in rows}
    assert set(items) == {MARKUP_TITLE, "Only a title", "A notice without a link"}
    assert items[MARKUP_TITLE][3:] == (MP3, "audio/mpeg")
    assert items["A notice without a link"][0] == SITE
    assert items["Only a title"][2] == ""  # not "Only a title" a second time
    assert not any("feedbridge" in (row[1] or "") for row in items.values())


# --- a guid reused by a new item (item 6) -----------------------------------------------------


def test_a_prepended_item_reusing_a_guid_does_not_take_over_its_entry(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    first = ORIGIN_RSS
    reused = f"""<item><title>Impostor</title><link>{SITE}999</link><guid>{SITE}41</guid>
<pubDate>Fri, 08 May 2026 10:00:00 GMT</pubDate></item>"""
    second = ORIGIN_RSS.replace("<item>", reused + "<item>", 1)
    bodies = iter([first, second])

    def answer(request: Request) -> Response:
        return Response(next(bodies), content_type="application/rss+xml")

    httpserver.expect_request("/feed.xml").respond_with_handler(answer)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[output]
dir = "public"
[[sources]]
name = "pod"
kind = "feed"
url = "{httpserver.url_for("/feed.xml")}"
""")
    assert run_cli("--config", str(config), "once", cwd=tmp_path).returncode == 0
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 1 duplicate" in result.stdout
    feed = feedparser.parse((tmp_path / "public" / "pod.atom").read_bytes())
    entries = {e.link: e.title for e in feed.entries}
    assert entries[f"{SITE}41"] == "Only a title"  # kept its title and link
    assert "Impostor" not in entries.values() and f"{SITE}999" not in entries
    items = json.loads((tmp_path / "public" / "pod.json").read_bytes())["items"]
    assert [item["title"] for item in items] == ["Episode 42", "Only a title"]
    assert items[0]["attachments"][0]["url"] == MP3  # an RSS <enclosure> passes through too


# --- ?limit= (item 21) --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_limit_serves_the_newest_entries_and_readers_read_them(served: Served, fmt: str) -> None:
    whole = httpx.get(served.url(fmt))
    one = httpx.get(served.url(fmt), params={"limit": "1"})
    assert one.status_code == 200 and one.headers["etag"] != whole.headers["etag"]
    if fmt == "json":
        assert [item["title"] for item in one.json()["items"]] == [MARKUP_TITLE]
    else:
        feed = feedparser.parse(one.content)
        assert not feed.bozo and [e.title for e in feed.entries] == [MARKUP_TITLE]
    more = httpx.get(served.url(fmt), params={"limit": "500"})  # more than the feed has
    assert more.content == whole.content and more.headers["etag"] == whole.headers["etag"]


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", "", "99999999"])
def test_a_limit_that_is_not_a_count_is_a_400_that_says_so(served: Served, bad: str) -> None:
    response = httpx.get(served.atom, params={"limit": bad})
    assert response.status_code == 400
    assert response.text.startswith("limit must be a whole number of entries from 1")


def test_the_feeds_folder_leads_to_the_index(served: Served) -> None:
    index = served.atom.rsplit("/feeds/", 1)[0] + "/"
    for path in ("/feeds/", "/feeds"):
        response = httpx.get(index.rstrip("/") + path, follow_redirects=True)
        assert response.status_code == 200 and str(response.url) == index
        assert "pod" in response.text
