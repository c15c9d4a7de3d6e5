"""Incremental rendering: each entry's Atom, RSS and JSON fragment written once, feeds joined.

The output is byte for byte what `render.py`'s feedgen path writes for the same entries
(tests/test_fragments.py checks it over random entry sets and changes); feedgen builds and
serializes an lxml tree of every entry on each render, which costs ten times more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.items import (
    FEED_FORMATS,
    GENERATOR,
    MEDIA_NS,
    SUMMARY_MAX,
    Item,
    defused,
    feed_author,
    feed_id,
    feed_title,
    feed_url,
    home,
    json_feed_head,
    json_item_fields,
    line,
    prepare_item,
    settle,
    url,
)

# What libxml2 (lxml, under feedgen) escapes besides & < >: CR in text; quotes and
# whitespace other than the space in attributes.
_TEXT = {"\r": "&#13;"}
_ATTR = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_ATTR_SPECIAL = re.compile('[&<>"\n\r\t]')  # attributes are short: URLs, tags


# Text is tested with `in` (memchr) rather than a regex scan, which reads a 1,000-character
# summary ten times slower.
def _text(value: str) -> str:
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return escape(value, _TEXT)
    return value


def _attr(value: str) -> str:
    return escape(value, _ATTR) if _ATTR_SPECIAL.search(value) else value


def _rfc822(moment: datetime) -> str:
    """`%a, %d %b %Y %H:%M:%S %z` in the C locale, as feedgen writes RSS dates."""
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment:%H:%M:%S %z}"
    )


def _typed(tag: str, value: str) -> str:
    """An Atom text construct of plain text: a title that reads `<b>` shows `<b>` (the W3C
    validator may guess HTML in it, a warning whose advice is to declare what it is: text)."""
    return f'<{tag} type="text">{_text(value)}</{tag}>'


# --- headers and footers ------------------------------------------------------------------


def atom_head(info: FeedInfo, updated: datetime) -> str:
    parts = [
        _XML_DECLARATION,
        f'<feed xmlns:media="{MEDIA_NS}" xmlns="http://www.w3.org/2005/Atom">',
        f"<id>{_text(feed_id(info.name))}</id>",
        _typed("title", feed_title(info)),
        f"<updated>{updated.isoformat()}</updated>",
        f"<author><name>{_text(defused(feed_author(info)))}</name></author>",
        f'<link href="{_attr(feed_url(info, "atom"))}" rel="self" type="application/atom+xml"/>',
    ]
    if url(info.link):
        parts.append(f'<link href="{_attr(url(info.link))}" rel="alternate" type="text/html"/>')
    parts.append(f"<generator>{_text(GENERATOR)}</generator>")
    subtitle = line(info.description, SUMMARY_MAX)
    if subtitle:
        parts.append(_typed("subtitle", subtitle))
    return "".join(parts)


def rss_head(info: FeedInfo, updated: datetime) -> str:
    description = line(info.description, SUMMARY_MAX) or feed_title(info)
    return "".join(
        (
            _XML_DECLARATION,
            '<rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:media="{MEDIA_NS}" '
            'xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0"><channel>',
            f"<title>{_text(feed_title(info))}</title>",
            f"<link>{_text(home(info) or feed_url(info, 'rss'))}</link>",
            f"<description>{_text(description)}</description>",
            f'<atom:link href="{_attr(feed_url(info, "rss"))}" rel="self" '
            'type="application/rss+xml"/>',
            "<docs>http://www.rssboard.org/rss-specification</docs>",
            f"<generator>{_text(GENERATOR)}</generator>",
            f"<lastBuildDate>{_rfc822(updated)}</lastBuildDate>",
        )
    )


def json_head(info: FeedInfo, updated: datetime) -> str:
    return json.dumps(json_feed_head(info), ensure_ascii=False)[:-1] + ', "items": ['


# --- one entry each -----------------------------------------------------------------------


def atom_entry(item: Item) -> str:
    parts = [
        f"<entry><id>{_text(item.id)}</id>",
        _typed("title", item.title),
        f"<updated>{item.updated.isoformat()}</updated>",
    ]
    if item.authors:
        parts.append(_atom_authors(item.authors))
    if item.body:
        parts.append(f'<content type="html">{_text(item.body)}</content>')
    if item.link:
        parts.append(f'<link href="{_attr(item.link)}" rel="alternate"/>')
    for enclosure in item.enclosures:
        length = f' length="{enclosure.length}"' if enclosure.length is not None else ""
        parts.append(
            f'<link href="{_attr(enclosure.url)}" rel="enclosure" '
            f'type="{_attr(enclosure.type)}"{length}/>'
        )
    if item.summary:
        parts.append(_typed("summary", item.summary))
    parts.extend(f'<category term="{_attr(tag)}"/>' for tag in item.tags)
    if item.published:
        parts.append(f"<published>{item.published.isoformat()}</published>")
    if item.image:
        parts.append(f'<media:thumbnail url="{_attr(item.image)}"/>')
    parts.append("</entry>")
    return "".join(parts)


def _atom_authors(names: tuple[str, ...]) -> str:
    """The <author> elements; names without & < > CR (most) are joined without a look each."""
    text = "".join(names)
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        names = tuple(_text(defused(name)) for name in names)
    return "<author><name>" + "</name></author><author><name>".join(names) + "</name></author>"


def rss_item(item: Item) -> str:
    parts = [f"<item><title>{_text(item.title)}</title>"]
    if item.link:
        parts.append(f"<link>{_text(item.link)}</link>")
    if item.body:
        parts.append(f"<description>{_text(item.body)}</description>")
    parts.append(f'<guid isPermaLink="false">{_text(item.id)}</guid>')
    parts.extend(f"<category>{_text(tag)}</category>" for tag in item.tags)
    if item.enclosures:  # RSS 2.0 carries one enclosure an item: the first
        first = item.enclosures[0]
        parts.append(
            f'<enclosure url="{_attr(first.url)}" length="{first.length or 0}" '
            f'type="{_attr(first.type)}"/>'
        )
    when = item.published or item.modified
    if when:
        parts.append(f"<pubDate>{_rfc822(when)}</pubDate>")
    if item.authors:
        names = "</dc:creator><dc:creator>".join(map(_text, item.authors))
        parts.append(f"<dc:creator>{names}</dc:creator>")
    if item.image:
        parts.append(f'<media:thumbnail url="{_attr(item.image)}"/>')
    parts.append("</item>")
    return "".join(parts)


def json_item(item: Item) -> str:
    return json.dumps(json_item_fields(item), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Writer:
    head: Callable[[FeedInfo, datetime], str]
    item: Callable[[Item], str]
    separator: bytes
    tail: bytes


WRITERS: dict[str, _Writer] = {
    "atom": _Writer(atom_head, atom_entry, b"", b"</feed>"),
    "rss": _Writer(rss_head, rss_item, b"", b"</channel></rss>"),
    "json": _Writer(json_head, json_item, b", ", b"]}"),
}
assert WRITERS.keys() == FEED_FORMATS.keys()


# --- the cache ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    entry: Entry
    when: datetime
    item: Item
    parts: dict[str, bytes] = field(default_factory=dict)


class FragmentCache:
    """One feed's entry fragments, kept between renders: an entry is written again only when
    it, or the `updated` the feed gives it, changed. Entries gone from the feed are dropped."""

    __slots__ = ("_rows", "_site")

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], _Row] = {}
        self._site = ""  # the link of entries without one: a change rewrites every entry

    def render(
        self, info: FeedInfo, entries: Sequence[Entry], fmt: str, limit: int | None = None
    ) -> bytes:
        """The whole feed in `fmt`: the header for these entries plus each entry's fragment;
        with `limit`, only the newest `limit` entries (the others' fragments are kept)."""
        writer = WRITERS[fmt]
        feed_updated, settled = settle(info, entries)
        if limit is not None:
            settled = settled[:limit]
        rows: dict[tuple[str, str], _Row] = {}
        parts = [writer.head(info, feed_updated).encode()]
        site = home(info)
        same_site = site == self._site
        old = self._rows if same_site else {}
        self._site = site
        for entry, upd, pub, when in settled:
            key = (entry.source, entry.key)
            row = old.get(key)
            if row is None or row.when != when or (row.entry is not entry and row.entry != entry):
                row = _Row(entry, when, prepare_item(entry, upd, pub, when, site))
            rows[key] = row
            part = row.parts.get(fmt)
            if part is None:
                part = row.parts[fmt] = writer.item(row.item).encode()
            parts.append(part)
        if limit is None or not same_site:
            self._rows = rows
        else:
            self._rows.update(rows)
        return parts[0] + writer.separator.join(parts[1:]) + writer.tail

    def __len__(self) -> int:
        return len(self._rows)
