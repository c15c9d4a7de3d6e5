"""Entries to Atom, RSS 2.0 and JSON Feed 1.1 bytes: pure and deterministic (no clock, no I/O)."""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.entities import name2codepoint
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from feedbridge.core.models import Entry, FeedInfo

FEED_FORMATS: dict[str, tuple[str, str]] = {  # a served feed's formats: extension, media type
    "atom": ("atom", "application/atom+xml; charset=utf-8"),
    "rss": ("rss", "application/rss+xml; charset=utf-8"),
    "json": ("json", "application/feed+json; charset=utf-8"),
}

GENERATOR = "feedbridge"
FEED_AUTHOR = "feedbridge"
# The W3C validator calls dates before 1990 implausible, so the fallback is not the Unix epoch.
FALLBACK_TIME = datetime(2000, 1, 1, tzinfo=UTC)
TITLE_MAX = 300
SUMMARY_MAX = 4000
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"

# Illegal in XML 1.0 (C0 controls, surrogates, U+FFFE/F), plus DEL, C1 controls and U+FFFD,
# which are legal but make the W3C validator warn "BadCharacters".
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffd\ufffe\uffff]")
_ASCII_ILLEGAL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_END_TAG = re.compile(r"</\w")
_ENTITY = re.compile(r"&(#?\w+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMESPACE = uuid.NAMESPACE_URL.bytes
# What quote() below leaves as it is: a URL made of these only is returned unchanged.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.\-~/:?#\[\]@!$&'()*+,;=%]+")


@dataclass(frozen=True, slots=True)
class _Item:
    """One entry as every format writes it: cleaned, times settled, `body` the HTML content."""

    id: str
    key: str
    title: str
    link: str
    summary: str
    body: str
    published: datetime | None
    modified: datetime | None
    updated: datetime
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    image: str
    score: float | None


def entry_id(entry: Entry) -> str:
    """The entry's permanent Atom id / RSS guid / JSON Feed id, derived from (source, key)."""
    return _urn(f"feedbridge:{entry.source}:{entry.key}")


def feed_id(name: str) -> str:
    """The feed's permanent id, derived from its name."""
    return _urn(f"feedbridge:{name}")


def _urn(name: str) -> str:
    """uuid5 in the URL namespace; unlike uuid.uuid5 it survives lone surrogates in `name`.
    Written out from the digest directly: building a uuid.UUID costs twice the hashing."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + name.encode("utf-8", "surrogatepass")).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def feed_url(info: FeedInfo, fmt: str) -> str:
    """Absolute URL of the feed in `fmt`: `info.self_url` with `.atom` swapped for its extension."""
    ext = FEED_FORMATS[fmt][0]
    if info.self_url:
        parts = urlsplit(_url(info.self_url))
        if parts.path.endswith(".atom"):
            return urlunsplit(parts._replace(path=f"{parts.path[:-5]}.{ext}"))
        if fmt == "atom":
            return urlunsplit(parts)
    return f"{info.base_url.rstrip('/')}/feeds/{quote(info.name)}.{ext}"


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


def _clean(text: str | None) -> str:
    if not text:
        return ""
    if text.isascii():  # deleting from bytes is several times faster than a regex scan
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_ILLEGAL)
        return (text if len(kept) == len(raw) else kept.decode("ascii")).strip()
    if text.isprintable() and "\ufffd" not in text:  # printable: no control, surrogate,
        return text.strip()  # U+FFFE/F; a C scan, twice as fast as the regex
    return _ILLEGAL.sub("", text).strip()


def _is_clean_line(text: str) -> bool:
    """Printable ASCII (no control character), no space doubled or at either end."""
    if not text.isascii() or not text.isprintable() or "  " in text:
        return False
    return text[0] != " " and text[-1] != " "


def _line(text: str | None, limit: int) -> str:
    if text and _is_clean_line(text):  # names and tags mostly are: nothing to clean
        return _truncate(text, limit)
    return _truncate(" ".join(_clean(text).split()), limit)


def _names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Author names as `_line` leaves them, empty ones dropped; clean ones checked at once."""
    joined = "|".join(names)
    if (
        joined.isascii()
        and joined.isprintable()
        and "  " not in joined
        and " |" not in joined
        and "| " not in joined
        and joined[:1] != " "
        and joined[-1:] != " "
        and "" not in names
        and (len(joined) <= TITLE_MAX or max(map(len, names)) <= TITLE_MAX)
    ):
        return names
    return tuple(a for a in (_line(n, TITLE_MAX) for n in names) if a)


def _title(text: str | None) -> str:
    return _line(text, TITLE_MAX)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 4 // 5:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def _url(text: str | None) -> str:
    """Percent-encode what may not appear in an IRI reference (spaces, quotes, brackets...)."""
    if text and _URL_SAFE.fullmatch(text):  # most URLs: nothing to strip or encode
        return text
    return quote(_clean(text), safe="/:?#[]@!$&'()*+,;=%~")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _tags(extras: Mapping[str, Any]) -> tuple[str, ...]:
    raw = extras.get("keywords")
    if not isinstance(raw, list | tuple):
        return ()
    return tuple(dict.fromkeys(t for t in (_line(k, 200) for k in raw if isinstance(k, str)) if t))


def _prepare(info: FeedInfo, entries: Iterable[Entry]) -> tuple[datetime, list[_Item]]:
    """Dedupe by (source, key), newest first, settle times; returns (feed updated, items)."""
    feed_updated, rows = settle(info, entries)
    return feed_updated, [prepare_item(*row) for row in rows]


Settled = tuple[Entry, datetime | None, datetime | None, datetime]


def settle(info: FeedInfo, entries: Iterable[Entry]) -> tuple[datetime, list[Settled]]:
    """Dedupe, order newest first and fix each entry's `updated`: (feed updated, rows).

    Each row is (entry, updated, published, the `updated` written); everything an
    item's output depends on besides the entry itself, so fragments can be cached.
    """
    rows: dict[tuple[str, str], tuple[Entry, datetime | None, datetime | None]] = {}
    for e in entries:
        if (e.source, e.key) not in rows:
            upd, pub = _utc(e.updated), _utc(e.published)
            # The source's own times, unaltered; `updated` never precedes `published`.
            rows[(e.source, e.key)] = (e, max(upd, pub) if upd and pub else upd or pub, pub)
    # Ties keep the order given (a page's own order): sorted() is stable, also in reverse.
    ordered = sorted(rows.values(), key=lambda r: r[1] or _EPOCH, reverse=True)
    newest = ordered[0][1] if ordered else None
    feed_updated = _utc(info.updated) or newest or FALLBACK_TIME
    settled = [(e, upd, pub, upd or feed_updated) for e, upd, pub in ordered]
    return feed_updated, settled


def prepare_item(e: Entry, upd: datetime | None, pub: datetime | None, when: datetime) -> _Item:
    """One settled entry as every format writes it: cleaned, cut, its id derived."""
    score = e.score if e.score is None or math.isfinite(e.score) else None
    title = next((t for t in map(_title, (e.title, e.link, e.key)) if t), "untitled")
    summary = _clean(e.summary)
    return _Item(
        id=entry_id(e),
        key=_ILLEGAL.sub("", e.key),
        title=title,
        link=_url(e.link),
        summary=_truncate(summary, SUMMARY_MAX),
        body=_clean(e.content_html) or html.escape(summary or title, quote=False),
        published=pub,
        modified=upd,
        updated=when,
        authors=_names(tuple(e.authors)),
        tags=_tags(e.extras),
        image=_url(e.image),
        score=score,
    )


def _feed_title(info: FeedInfo) -> str:
    return _line(info.title, TITLE_MAX) or info.name


def _home(info: FeedInfo) -> str:
    return _url(info.link) or _url(info.base_url)


def _looks_like_html(text: str) -> bool:
    """What the W3C validator reports as undeclared HTML in a type="text" construct (or more)."""
    if "<" in text and _END_TAG.search(text):
        return True
    return "&" in text and any(
        ref in name2codepoint or ref == "apos" or not ref.isalpha() for ref in _ENTITY.findall(text)
    )


def _defused(name: str) -> str:
    """An author name that cannot pass for markup: Atom gives person names no type attribute."""
    return name.replace("&", "& ").replace("</", "< /") if _looks_like_html(name) else name


def _declare_types(parent: Any, tags: tuple[str, ...]) -> None:
    """Mark text constructs type="text", or type="html" (escaped) where they look like markup."""
    for tag in tags:
        node = parent.find(tag)
        if node is None or node.get("type", "text") != "text":
            continue
        if node.text and _looks_like_html(node.text):
            node.set("type", "html")
            node.text = html.escape(node.text, quote=False)
        else:
            node.set("type", "text")


class _AtomFeedFixes:
    """feedgen feed extension: declares the type of the feed's title and subtitle."""

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, node: Any) -> Any:
        _declare_types(node, ("title", "subtitle"))
        return node

    def extend_rss(self, node: Any) -> Any:
        return node


class _AtomEntryFixes(_AtomFeedFixes):
    """feedgen entry extension: text construct types, and the rel feedgen drops from entry links."""

    def extend_atom(self, node: Any) -> Any:
        _declare_types(node, ("title", "summary"))
        for link in node.iterfind("link"):
            link.set("rel", "alternate")
        return node


def _generator(info: FeedInfo, updated: datetime) -> Any:
    from feedgen.feed import FeedGenerator  # the reference path only: the server uses fragments

    fg = FeedGenerator()
    fg.id(feed_id(info.name))
    fg.title(_feed_title(info))
    fg.updated(updated)
    fg.generator(GENERATOR)
    return fg


def _atom(info: FeedInfo, updated: datetime, items: list[_Item]) -> bytes:
    fg = _generator(info, updated)
    fg.register_extension("feedbridge", _AtomFeedFixes, _AtomEntryFixes, atom=True, rss=False)
    fg.author({"name": FEED_AUTHOR})
    if _line(info.description, SUMMARY_MAX):
        fg.subtitle(_line(info.description, SUMMARY_MAX))
    fg.link(href=feed_url(info, "atom"), rel="self", type="application/atom+xml")
    if _url(info.link):
        fg.link(href=_url(info.link), rel="alternate", type="text/html")
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
            fe.author([{"name": _defused(name)} for name in item.authors])
        fe.content(item.body, type="html")
        if item.summary:
            fe.summary(item.summary, type="text")
        if item.tags:
            fe.category([{"term": tag} for tag in item.tags])
    out: bytes = fg.atom_str(pretty=False)
    return out


def _rss(info: FeedInfo, updated: datetime, items: list[_Item]) -> bytes:
    fg = _generator(info, updated)
    fg.load_extension("dc", atom=False, rss=True)
    fg.description(_line(info.description, SUMMARY_MAX) or _feed_title(info))
    fg.link(href=feed_url(info, "rss"), rel="self", type="application/rss+xml")
    fg.link(href=_home(info) or feed_url(info, "rss"), rel="alternate")
    for item in items:
        fe = fg.add_entry(order="append")
        fe.guid(item.id, permalink=False)
        fe.title(item.title)
        if item.link:
            fe.link(href=item.link)
        fe.description(item.body)
        if item.published or item.modified:
            fe.pubDate(item.published or item.modified)
        if item.authors:
            fe.dc.dc_creator(list(item.authors))
        if item.tags:
            fe.category([{"term": tag} for tag in item.tags])
    out: bytes = fg.rss_str(pretty=False)
    return out


def json_feed_head(info: FeedInfo) -> dict[str, Any]:
    """A JSON Feed's top-level members before `items` (shared with fragments.py)."""
    doc: dict[str, Any] = {"version": JSONFEED_VERSION, "title": _feed_title(info)}
    if home := _home(info):
        doc["home_page_url"] = home
    doc["feed_url"] = feed_url(info, "json")
    if description := _line(info.description, SUMMARY_MAX):
        doc["description"] = description
    doc["authors"] = [{"name": FEED_AUTHOR}]
    return doc


def _json(info: FeedInfo, items: list[_Item]) -> bytes:
    doc = json_feed_head(info)
    doc["items"] = [_json_item(item) for item in items]
    return json.dumps(doc, ensure_ascii=False, indent=None, sort_keys=False).encode("utf-8")


def _json_item(item: _Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id}
    if item.link:
        out["url"] = item.link
    out["title"] = item.title
    out["content_html"] = item.body
    if item.summary:
        out["summary"] = item.summary
    if item.published:
        out["date_published"] = item.published.isoformat()
    out["date_modified"] = item.updated.isoformat()
    if item.authors:
        out["authors"] = [{"name": name} for name in item.authors]
    if item.image:
        out["image"] = item.image
    if item.tags:
        out["tags"] = list(item.tags)
    out["_feedbridge"] = {"score": item.score, "key": item.key}
    return out
