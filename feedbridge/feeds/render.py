"""Entries to Atom, RSS 2.0 and JSON Feed 1.1 bytes with feedgen: the reference renderer,
pure and deterministic (no clock, no I/O). The server writes the same bytes faster from
fragments (`fragments.py`); both prepare entries the same way (`items.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.items import (
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


def render_atom(info: FeedInfo, entries: Sequence[Entry]) -> bytes:
    """An Atom 1.0 feed, newest first, valid for the W3C feed validator."""
    return _atom(info, *_prepare(info, entries))


def render_rss(info: FeedInfo, entries: Sequence[Entry]) -> bytes:
    """An RSS 2.0 feed, newest first."""
    return _rss(info, *_prepare(info, entries))


def render_json(info: FeedInfo, entries: Sequence[Entry]) -> bytes:
    """A JSON Feed 1.1 document, newest first, UTF-8."""
    return _json(info, _prepare(info, entries)[1])


def render_all(info: FeedInfo, entries: Sequence[Entry]) -> dict[str, bytes]:
    """Every format at once, sharing the preparation: keys are those of FEED_FORMATS."""
    updated, items = _prepare(info, entries)
    return {
        "atom": _atom(info, updated, items),
        "rss": _rss(info, updated, items),
        "json": _json(info, items),
    }


def _prepare(info: FeedInfo, entries: Iterable[Entry]) -> tuple[datetime, list[Item]]:
    """Dedupe by (source, key), newest first, settle times; returns (feed updated, items)."""
    feed_updated, rows = settle(info, entries)
    site = home(info)
    return feed_updated, [prepare_item(*row, site) for row in rows]


def _declare_types(parent: Any, tags: tuple[str, ...]) -> None:
    """Mark text constructs type="text": every title and summary is plain text."""
    for tag in tags:
        node = parent.find(tag)
        if node is not None and node.get("type", "text") == "text":
            node.set("type", "text")


class _FeedFixes:
    """feedgen feed extension: the Media RSS namespace, the type of the feed's title and
    subtitle."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}

    def extend_atom(self, node: Any) -> Any:
        _declare_types(node, ("title", "subtitle"))
        return node

    def extend_rss(self, node: Any) -> Any:
        return node


class _EntryFixes(_FeedFixes):
    """feedgen entry extension: text construct types, the rel of alternate links and the
    enclosures (feedgen writes only href on an entry's links), the thumbnail as
    media:thumbnail. `item` is set per entry."""

    item: Item | None = None

    def extend_atom(self, node: Any) -> Any:
        from feedgen.util import xml_elem

        _declare_types(node, ("title", "summary"))
        links = list(node.iterfind("link"))
        for link in links:
            link.set("rel", "alternate")
        # enclosures follow the alternate link, else the content, authors or updated
        before = [*node.iterfind("updated"), *node.iterfind("author"), *node.iterfind("content")]
        after = links[-1] if links else before[-1]
        for enclosure in self.item.enclosures if self.item is not None else ():
            attributes = {"href": enclosure.url, "rel": "enclosure", "type": enclosure.type}
            if enclosure.length is not None:
                attributes["length"] = str(enclosure.length)
            link = xml_elem("link", None, **attributes)
            after.addnext(link)
            after = link
        return self._thumbnail(node)

    def extend_rss(self, node: Any) -> Any:
        return self._thumbnail(node)

    def _thumbnail(self, node: Any) -> Any:
        if self.item is not None and self.item.image:
            from feedgen.util import xml_elem

            xml_elem(f"{{{MEDIA_NS}}}thumbnail", node, url=self.item.image)
        return node


def _generator(info: FeedInfo, updated: datetime) -> Any:
    from feedgen.feed import FeedGenerator  # the reference path only: the server uses fragments

    fg = FeedGenerator()
    fg.id(feed_id(info.name))
    fg.title(feed_title(info))
    fg.updated(updated)
    fg.generator(GENERATOR)
    return fg


def _atom(info: FeedInfo, updated: datetime, items: list[Item]) -> bytes:
    fg = _generator(info, updated)
    fg.register_extension("feedbridge", _FeedFixes, _EntryFixes, atom=True, rss=False)
    fg.author({"name": defused(feed_author(info))})
    if line(info.description, SUMMARY_MAX):
        fg.subtitle(line(info.description, SUMMARY_MAX))
    fg.link(href=feed_url(info, "atom"), rel="self", type="application/atom+xml")
    if url(info.link):
        fg.link(href=url(info.link), rel="alternate", type="text/html")
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.title(item.title)
        fe.updated(item.updated)
        if item.published:
            fe.published(item.published)
        if item.link:
            fe.link(href=item.link)
        if item.authors:
            fe.author([{"name": defused(name)} for name in item.authors])
        if item.body:
            fe.content(item.body, type="html")
        if item.summary:
            fe.summary(item.summary, type="text")
        if item.tags:
            fe.category([{"term": tag} for tag in item.tags])
        fe.feedbridge.item = item
    out: bytes = fg.atom_str(pretty=False)
    return out


def _rss(info: FeedInfo, updated: datetime, items: list[Item]) -> bytes:
    fg = _generator(info, updated)
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("feedbridge", _FeedFixes, _EntryFixes, atom=False, rss=True)
    fg.description(line(info.description, SUMMARY_MAX) or feed_title(info))
    fg.link(href=feed_url(info, "rss"), rel="self", type="application/rss+xml")
    fg.link(href=home(info) or feed_url(info, "rss"), rel="alternate")
    for item in items:
        fe = fg.add_entry(order="append")
        fe.guid(item.id, permalink=False)
        fe.title(item.title)
        if item.link:
            fe.link(href=item.link)
        if item.enclosures:  # RSS 2.0 carries one enclosure an item: the first
            first = item.enclosures[0]
            fe.enclosure(first.url, first.length or 0, first.type)
        if item.body:
            fe.description(item.body)
        if item.published or item.modified:
            fe.pubDate(item.published or item.modified)
        if item.authors:
            fe.dc.dc_creator(list(item.authors))
        if item.tags:
            fe.category([{"term": tag} for tag in item.tags])
        fe.feedbridge.item = item
    out: bytes = fg.rss_str(pretty=False)
    return out


def _json(info: FeedInfo, items: list[Item]) -> bytes:
    doc = json_feed_head(info)
    doc["items"] = [json_item_fields(item) for item in items]
    return json.dumps(doc, ensure_ascii=False, indent=None, sort_keys=False).encode("utf-8")
