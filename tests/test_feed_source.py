"""The `feed` source as a subscriber sees it: real RSS/Atom forms in, entries and feeds out."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest

from feedbridge.models import FeedInfo
from feedbridge.render import render_all
from feedbridge.sources.feed import FeedSource
from tests.atomcheck import check_atom
from tests.test_sources_common import config, page

FEED_URL = "https://blog.example/feed.xml"
INFO = FeedInfo(
    name="blog",
    title="blog",
    link="https://blog.example/",
    self_url="http://localhost:8080/feeds/blog.atom",
    base_url="http://localhost:8080",
)


def rss(items: str, channel: str = "<title>Blog</title><link>https://blog.example/</link>") -> bytes:
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

