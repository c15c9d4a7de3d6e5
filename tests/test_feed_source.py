"""The `feed` source as a subscriber sees it: real RSS/Atom forms in, entries and feeds out."""

from __future__ import annotations

import json
import re
import signal
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import httpx
import pytest
from pytest_httpserver import HTTPServer

from feedbridge.core.models import FeedInfo
from feedbridge.feeds.render import render_all
from feedbridge.sources.feed import FeedSource
from tests.atomcheck import check_atom
from tests.conftest import run_cli, start_run
from tests.test_run import free_port, wait_for
from tests.test_sources_common import config, page

ATOM = "{http://www.w3.org/2005/Atom}"
FEED_URL = "https://blog.example/feed.xml"
INFO = FeedInfo(
    name="blog",
    title="blog",
    link="https://blog.example/",
    self_url="http://localhost:8080/feeds/blog.atom",
    base_url="http://localhost:8080",
)


CHANNEL = "<title>Blog</title><link>https://blog.example/</link>"


def rss(items: str, channel: str = CHANNEL) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"{channel}{items}</channel></rss>"
    ).encode()


def feed_source(**values: object) -> FeedSource:
    return FeedSource(config("feed", url=FEED_URL, **values))


# --- RSS dates (issue 11, item 3) -------------------------------------------------------------

WHEN = datetime(2026, 5, 7, 12, 30, 45, tzinfo=UTC)
RSS_DATES = {
    "RFC 822": ("Thu, 07 May 2026 12:30:45 GMT", WHEN),
    "no weekday": ("07 May 2026 12:30:45 GMT", WHEN),
    "one-digit day": ("Thu, 7 May 2026 12:30:45 +0000", WHEN),
    "no seconds": ("Thu, 07 May 2026 12:30 GMT", WHEN.replace(second=0)),
    "two-digit year": ("Thu, 07 May 26 12:30:45 GMT", WHEN),
    "two-digit year, last century": ("Fri, 07 May 99 12:30:45 GMT", WHEN.replace(year=1999)),
    "UT": ("Thu, 07 May 2026 12:30:45 UT", WHEN),
    "Z": ("Thu, 07 May 2026 12:30:45 Z", WHEN),
    "z": ("Thu, 07 May 2026 12:30:45 z", WHEN),
    "EST": ("Thu, 07 May 2026 07:30:45 EST", WHEN),
    "est": ("Thu, 07 May 2026 07:30:45 est", WHEN),
    "Pdt": ("Thu, 07 May 2026 05:30:45 Pdt", WHEN),
    "cdt": ("Thu, 07 May 2026 07:30:45 cdt", WHEN),
    "-0234": ("Thu, 07 May 2026 09:56:45 -0234", WHEN),
    "+05:30": ("Thu, 07 May 2026 18:00:45 +05:30", WHEN),
    "GMT+2": ("Thu, 07 May 2026 14:30:45 GMT+2", WHEN),
    "UTC-0500": ("Thu, 07 May 2026 07:30:45 UTC-0500", WHEN),
    "CET": ("Thu, 07 May 2026 13:30:45 CET", WHEN),
    "all lowercase": ("thu, 07 may 2026 12:30:45 gmt", WHEN),
    "no space after comma": ("Thu,07 May 2026 12:30:45 GMT", WHEN),
    "whitespace and line breaks": ("\n   Thu,  07\tMay 2026\r\n  12:30:45   GMT  \n", WHEN),
    "before 1970": ("Mon, 01 Jan 1968 00:00:00 GMT", datetime(1968, 1, 1, tzinfo=UTC)),
    "after 2038": ("Fri, 01 Jan 2100 00:00:00 +0100", datetime(2099, 12, 31, 23, tzinfo=UTC)),
    "no zone (read as UTC)": ("Thu, 07 May 2026 12:30:45", WHEN),
    "ISO 8601": ("2026-05-07T14:30:45+02:00", WHEN),
}


def test_every_rss_date_form_reaches_the_feed_as_the_same_instant() -> None:
    forms = list(RSS_DATES.values())
    items = "".join(
        f"<item><title>post {i}</title><link>https://blog.example/{i}</link>"
        f"<pubDate>{raw}</pubDate></item>"
        for i, (raw, _) in enumerate(forms)
    )
    entries = feed_source().extract(page(rss(items), "application/rss+xml", FEED_URL))
    got = {e.title: e.published for e in entries}
    wrong = {
        name: (raw, got.get(f"post {i}"))
        for i, (name, (raw, expected)) in enumerate(RSS_DATES.items())
        if got.get(f"post {i}") != expected
    }
    assert wrong == {}
    # a reader of our Atom sees the same instants, in the entry's `published`
    atom = render_all(INFO, entries)["atom"]
    read = {e.title: e.published_parsed for e in feedparser.parse(atom).entries}
    for i, (_, expected) in enumerate(forms):
        assert read[f"post {i}"][:6] == expected.timetuple()[:6]


def test_an_item_with_thousands_of_categories_keeps_the_first_thirty_once_each() -> None:
    """Categories reach readers (Atom, RSS, JSON Feed): a hostile feed's 5,000 of them cost
    neither the store nor every render more than 30."""
    terms = "".join(f"<category>tag {n % 2500}</category>" for n in range(5000))
    items = f"<item><title>Tagged</title><link>https://blog.example/t</link>{terms}</item>"
    (entry,) = feed_source().extract(page(rss(items), "application/rss+xml", FEED_URL))
    assert len(entry.extras["tags"]) == 30
    read = feedparser.parse(render_all(INFO, [entry])["atom"]).entries[0]
    assert [t.term for t in read.tags] == [f"tag {n}" for n in range(30)]


# --- items without a link (issue 11, item 1; issue 18, item 5: linked to the page) ------------

LINKLESS_RSS = rss(
    '<item><title>Release 2.1</title><guid isPermaLink="false">rel-2.1@blog</guid>'
    "<description>Faster &lt;b&gt;sync&lt;/b&gt;.</description>"
    "<pubDate>Thu, 07 May 2026 10:00:00 GMT</pubDate></item>"
    "<item><title>Only a title</title></item>"
    "<item><description>Only a description, no title or link.</description></item>"
    "<item><title>Linked</title><link>https://blog.example/linked</link></item>"
    '<item><guid isPermaLink="false">empty-1</guid></item>'
)
LINKLESS_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Notes</title><id>urn:x:notes</id>
<updated>2026-05-07T10:00:00Z</updated><link href="https://notes.example/"/>
<entry><id>tag:notes.example,2026:1</id><title>One</title><updated>2026-05-07T10:00:00Z</updated>
<content type="html">&lt;p&gt;first&lt;/p&gt;</content></entry>
<entry><id>tag:notes.example,2026:2</id><title>Two</title><updated>2026-05-06T10:00:00Z</updated>
<link rel="related" href="https://elsewhere.example/2"/><content>second</content></entry>
<entry><id>tag:notes.example,2026:3</id><title>Three</title><updated>2026-05-05T10:00:00Z</updated>
<summary>third</summary></entry>
<entry><id>https://notes.example/4</id><title>Four</title><updated>2026-05-04T10:00:00Z</updated>
<link rel="alternate" href="https://notes.example/4"/></entry>
</feed>"""


def test_rss_items_without_a_link_become_entries_keyed_by_guid_else_content() -> None:
    result = feed_source().analyze(page(LINKLESS_RSS, "application/rss+xml", FEED_URL))
    rows = [(e.title, e.key, e.link) for e in result.entries]
    site = "https://blog.example/"  # the channel's <link>: the page the items came from
    assert rows[0] == ("Release 2.1", "rel-2.1@blog", site)
    assert rows[1][0] == "Only a title" and rows[1][1].startswith("sha256:")
    assert rows[1][2] == site
    assert rows[2][0] == "Only a description, no title or link."
    assert rows[3] == ("Linked", "https://blog.example/linked", "https://blog.example/linked")
    assert result.skipped == {"no title or content": 1}
    again = feed_source().extract(page(LINKLESS_RSS, "application/rss+xml", FEED_URL))
    assert [e.key for e in again] == [e.key for e in result.entries]  # stable across polls


def test_atom_entries_without_an_alternate_link_all_become_entries() -> None:
    entries = feed_source().extract(page(LINKLESS_ATOM, "application/atom+xml", FEED_URL))
    assert [(e.title, e.key) for e in entries] == [
        ("One", "tag:notes.example,2026:1"),
        ("Two", "tag:notes.example,2026:2"),
        ("Three", "tag:notes.example,2026:3"),
        ("Four", "https://notes.example/4"),
    ]
    site = "https://notes.example/"  # the feed's own link
    assert [e.link for e in entries] == [site, site, site, "https://notes.example/4"]


@pytest.mark.parametrize("body", [LINKLESS_RSS, LINKLESS_ATOM], ids=["rss", "atom"])
def test_linkless_entries_render_to_a_valid_feed_a_reader_shows(body: bytes) -> None:
    entries = feed_source().extract(page(body, "application/xml", FEED_URL))
    out = render_all(INFO, entries)
    assert check_atom(out["atom"], same_updated_ok=True) == []  # undated items: the feed's time
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(out[fmt])
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert [e.title for e in parsed.entries] == [e.title for e in entries]
    first = ElementTree.fromstring(out["atom"]).find(ATOM + "entry")
    assert first is not None
    link = first.find(ATOM + "link")  # the page it came from, never a urn:uuid in a reader
    assert link is not None and link.get("href") == entries[0].link
    assert link.get("href", "").startswith("https://")
    for fmt in ("atom", "rss"):
        for item in feedparser.parse(out[fmt]).entries:
            assert item.link.startswith("https://"), (fmt, item.link)
    items = json.loads(out["json"])["items"]
    assert [item["url"] for item in items] == [e.link for e in entries]


# --- the upstream identity (issue 11, item 4) and skipped items in the poll log (item 1) -------

UPSTREAM_RSS = rss(
    '<item><title>Release 2.1</title><guid isPermaLink="false">rel-2.1@blog</guid>'
    "<description>Faster sync.</description><pubDate>Thu, 07 May 2026 10:00:00 GMT</pubDate>"
    '</item><item><guid isPermaLink="false">empty</guid></item>',
    channel="<title>Ada's Notes</title><link>https://ada.example/</link>",
)


def test_a_feed_keeps_the_upstream_title_and_site_link_everywhere(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        UPSTREAM_RSS, content_type="application/rss+xml"
    )
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
base_url = "http://127.0.0.1:{port}"
[output]
dir = "public"
[[sources]]
name = "ada"
kind = "feed"
url = "{httpserver.url_for("/feed.xml")}"
interval = "1h"
[[sources]]
name = "mine"
kind = "feed"
url = "{httpserver.url_for("/feed.xml")}"
title = "My title"
interval = "1h"
""")
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "source=ada entries=1 new=1" in result.stderr
    assert 'skipped="1 no title or content"' in result.stderr
    assert "ada: 1 entry, 1 new, 0 queued, skipped 1 no title or content, " in result.stdout

    public = tmp_path / "public"
    jsonfeed = json.loads((public / "ada.json").read_text())
    assert (jsonfeed["title"], jsonfeed["home_page_url"]) == ("Ada's Notes", "https://ada.example/")
    assert json.loads((public / "mine.json").read_text())["title"] == "My title"
    rss_channel = feedparser.parse((public / "ada.rss").read_bytes()).feed
    assert (rss_channel.title, rss_channel.link) == ("Ada's Notes", "https://ada.example/")
    atom = feedparser.parse((public / "ada.atom").read_bytes())
    assert (atom.feed.title, atom.feed.link) == ("Ada's Notes", "https://ada.example/")
    assert [e.title for e in atom.entries] == ["Release 2.1"]

    exported = run_cli("--config", str(config), "export-opml", cwd=tmp_path)
    outlines = ElementTree.fromstring(exported.stdout).findall(".//outline")
    assert [(o.get("title"), o.get("htmlUrl")) for o in outlines] == [
        ("Ada's Notes", "https://ada.example/"),
        ("My title", "https://ada.example/"),
    ]

    # after a restart, before any poll: the index page still knows the upstream identity
    proc = start_run(config, tmp_path, output=False)
    try:
        index = wait_for(f"http://127.0.0.1:{port}/").text
        opml = httpx.get(f"http://127.0.0.1:{port}/opml").text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert re.search(r"<strong><a [^>]*>Ada&#(x27|39);s Notes</a></strong>", index), index
    assert '<a href="https://ada.example/" rel="noopener noreferrer">source</a>' in index
    assert 'htmlUrl="https://ada.example/"' in opml


def test_preview_of_a_feed_lists_linkless_items_and_says_what_it_skipped(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        UPSTREAM_RSS, content_type="application/rss+xml"
    )
    url = httpserver.url_for("/feed.xml")
    result = run_cli("preview", "--kind", "feed", "--url", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "feed title: Ada's Notes · site: https://ada.example/"
    first = next(line for line in lines if line.startswith("  1  Release 2.1"))
    assert "2026-05-07 10:00" in first
    assert first.endswith("https://ada.example/ (no link of its own; key rel-2.1@blog)")
    assert "1 entry from 2 items" in lines
    assert "1 entry without a link of its own: linked to the page it came from" in lines
    assert "skipped: 1 no title or content" in lines
