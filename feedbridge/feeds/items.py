"""A feed's entries as every format writes them: the prepared item (cleaned, cut, times settled,
its id derived), the feed's ids, URLs and title, and the formats served. Pure and
deterministic; shared by the feedgen renderer (`render.py`) and the fragments (`fragments.py`).
"""

from __future__ import annotations

import hashlib
import html
import math
import mimetypes
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.entities import name2codepoint
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from feedbridge.core.models import Entry, FeedInfo
from feedbridge.sources.text import MAX_TAGS

FEED_FORMATS: dict[str, tuple[str, str]] = {  # a served feed's formats: extension, media type
    "atom": ("atom", "application/atom+xml; charset=utf-8"),
    "rss": ("rss", "application/rss+xml; charset=utf-8"),
    "json": ("json", "application/feed+json; charset=utf-8"),
}

GENERATOR = "feedbridge"
# The W3C validator calls dates before 1990 implausible, so the fallback is not the Unix epoch.
FALLBACK_TIME = datetime(2000, 1, 1, tzinfo=UTC)
TITLE_MAX = 300
SUMMARY_MAX = 4000
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
MEDIA_NS = "http://search.yahoo.com/mrss/"  # Media RSS: an entry's thumbnail in Atom and RSS
MAX_ENCLOSURES = 8  # per entry: a podcast episode has one; a hostile feed may list thousands
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]{0,62}/[A-Za-z0-9][\w.+-]{0,62}")
_LENGTH = re.compile(r"\d{1,15}")

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
class Enclosure:
    """A media file attached to an entry (a podcast's audio): its URL, media type and size in
    bytes (None when the source does not say)."""

    url: str
    type: str
    length: int | None


@dataclass(frozen=True, slots=True)
class Item:
    """One entry as every format writes it: cleaned, times settled, `body` the HTML content
    (empty when the source gave neither content nor summary)."""

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
    enclosures: tuple[Enclosure, ...] = ()


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
        parts = urlsplit(url(info.self_url))
        if parts.path.endswith(".atom"):
            return urlunsplit(parts._replace(path=f"{parts.path[:-5]}.{ext}"))
        if fmt == "atom":
            return urlunsplit(parts)
    return f"{info.base_url.rstrip('/')}/feeds/{quote(info.name)}.{ext}"


def clean(text: str | None) -> str:
    """The text without what XML forbids or the W3C validator warns about, stripped."""
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


def line(text: str | None, limit: int) -> str:
    """One clean line: whitespace collapsed, cut at `limit` (an ellipsis marks the cut)."""
    if text and _is_clean_line(text):  # names and tags mostly are: nothing to clean
        return _truncate(text, limit)
    return _truncate(" ".join(clean(text).split()), limit)


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
    return tuple(a for a in (line(n, TITLE_MAX) for n in names) if a)


def _title(text: str | None) -> str:
    return line(text, TITLE_MAX)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 4 // 5:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def url(text: str | None) -> str:
    """Percent-encode what may not appear in an IRI reference (spaces, quotes, brackets...)."""
    if text and _URL_SAFE.fullmatch(text):  # most URLs: nothing to strip or encode
        return text
    return quote(clean(text), safe="/:?#[]@!$&'()*+,;=%~")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _enclosures(extras: Mapping[str, Any]) -> tuple[Enclosure, ...]:
    """The entry's enclosures as a feed can carry them: absolute http(s) URLs, a media type
    (guessed from the file name when the source gave none), the length when it is a number."""
    raw = extras.get("enclosures")
    if not raw or not isinstance(raw, list | tuple):
        return ()
    found: dict[str, Enclosure] = {}
    for item in raw:
        if len(found) >= MAX_ENCLOSURES:
            break
        if not isinstance(item, Mapping):
            continue
        link = url(str(item.get("url") or ""))
        if not link.startswith(("http://", "https://")) or link in found:
            continue
        kind = line(str(item.get("type") or ""), 127).lower()
        if not _MEDIA_TYPE.fullmatch(kind):
            kind = mimetypes.guess_type(urlsplit(link).path)[0] or "application/octet-stream"
        length = str(item.get("length") or "").strip()
        size = int(length) if _LENGTH.fullmatch(length) and int(length) > 0 else None
        found[link] = Enclosure(link, kind, size)
    return tuple(found.values())


def _tags(extras: Mapping[str, Any]) -> tuple[str, ...]:
    """The entry's categories: a paper's keywords, a Hub repo's tags (`transformers`,
    `license:mit`, ...); each once, at most MAX_TAGS."""
    raw = [k for key in ("keywords", "tags") if isinstance(v := extras.get(key), list | tuple)
           for k in v[:MAX_TAGS]]  # fmt: skip  (a stored entry may hold more)
    found = (t for t in (line(k, 200) for k in raw if isinstance(k, str)) if t)
    return tuple(dict.fromkeys(found))[:MAX_TAGS]


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


def prepare_item(
    e: Entry, upd: datetime | None, pub: datetime | None, when: datetime, site: str = ""
) -> Item:
    """One settled entry as every format writes it: cleaned, cut, its id derived. An entry
    without a link links to `site`, the page it came from (entries stored before every source
    gave one); one without content or summary has no body, rather than its title twice."""
    score = e.score if e.score is None or math.isfinite(e.score) else None
    title = next((t for t in map(_title, (e.title, e.link, e.key)) if t), "untitled")
    summary = clean(e.summary)
    return Item(
        id=entry_id(e),
        key=_ILLEGAL.sub("", e.key),
        title=title,
        link=url(e.link) or site,
        summary=_truncate(summary, SUMMARY_MAX),
        body=clean(e.content_html) or html.escape(summary, quote=False),
        published=pub,
        modified=upd,
        updated=when,
        authors=_names(tuple(e.authors)),
        tags=_tags(e.extras),
        image=url(e.image),
        score=score,
        enclosures=_enclosures(e.extras),
    )


def feed_title(info: FeedInfo) -> str:
    """The feed's title: the upstream one, cleaned, else the source's name."""
    return line(info.title, TITLE_MAX) or info.name


def home(info: FeedInfo) -> str:
    """The feed's site: the upstream link, else feedbridge's own base URL."""
    return url(info.link) or url(info.base_url)


def feed_author(info: FeedInfo) -> str:
    """The Atom feed's author, which entries without one inherit (RFC 4287 4.2.1): the
    upstream's own, else the name the upstream site goes by, else its host; never invented."""
    named = line(info.author, TITLE_MAX) or line(info.site_name, TITLE_MAX)
    return named or urlsplit(home(info)).hostname or feed_title(info)


def looks_like_html(text: str) -> bool:
    """What the W3C validator reports as undeclared HTML in a type="text" construct (or more)."""
    if "<" in text and _END_TAG.search(text):
        return True
    return "&" in text and any(
        ref in name2codepoint or ref == "apos" or not ref.isalpha() for ref in _ENTITY.findall(text)
    )


def defused(name: str) -> str:
    """An author name that cannot pass for markup: Atom gives person names no type attribute."""
    return name.replace("&", "& ").replace("</", "< /") if looks_like_html(name) else name


def json_feed_head(info: FeedInfo) -> dict[str, Any]:
    """A JSON Feed's top-level members before `items` (shared with fragments.py)."""
    doc: dict[str, Any] = {"version": JSONFEED_VERSION, "title": feed_title(info)}
    if site := home(info):
        doc["home_page_url"] = site
    doc["feed_url"] = feed_url(info, "json")
    if description := line(info.description, SUMMARY_MAX):
        doc["description"] = description
    if author := line(info.author, TITLE_MAX):  # items inherit it: only the upstream's own
        doc["authors"] = [{"name": author}]
    return doc


def json_item_fields(item: Item) -> dict[str, Any]:
    """One item as a JSON Feed item object, members in the order both renderers write."""
    out: dict[str, Any] = {"id": item.id}
    if item.link:
        out["url"] = item.link
    out["title"] = item.title
    out["content_html"] = item.body  # JSON Feed needs content_html or content_text, maybe empty
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
    if item.enclosures:
        out["attachments"] = [_attachment(enclosure) for enclosure in item.enclosures]
    out["_feedbridge"] = {"score": item.score, "key": item.key}
    return out


def _attachment(enclosure: Enclosure) -> dict[str, Any]:
    """A JSON Feed attachment: url, mime_type and, when known, size_in_bytes."""
    out: dict[str, Any] = {"url": enclosure.url, "mime_type": enclosure.type}
    if enclosure.length is not None:
        out["size_in_bytes"] = enclosure.length
    return out
