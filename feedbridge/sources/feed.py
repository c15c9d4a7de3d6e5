"""The `feed` source: an existing RSS 0.9x/1.0/2.0 or Atom feed (feedparser), or a JSON Feed."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser

from feedbridge.config.models import FeedConfig
from feedbridge.core.errors import ParseError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.base import Source
from feedbridge.sources.collect import Collector, Extraction, parse_errors
from feedbridge.sources.decoding import describe_kind, load_json, sniff
from feedbridge.sources.markup import html_to_text, resolve_url, sanitize_html
from feedbridge.sources.text import MAX_TAGS, as_text, clean_text, shorten
from feedbridge.sources.values import parse_date

_TITLE_FROM_SUMMARY = 100
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_BARE_AMPERSAND = re.compile(rb"&(?!(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][\w.-]*);)")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|(\d+));")
_REPLACEMENT = b"&#xFFFD;"


def _no_character(found: re.Match[bytes]) -> bytes:
    """A character reference to no character (a surrogate, NUL, past U+10FFFF) as U+FFFD."""
    digits = (found[1] or found[2]).lstrip(b"0")
    if len(digits) > 8:  # past U+10FFFF either way (and int() refuses 4,300 digits)
        return _REPLACEMENT
    code = int(digits or b"0", 16 if found[1] else 10)
    return _REPLACEMENT if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else found[0]


def _repair_references(body: bytes) -> bytes:
    """Outside CDATA: `R&D` (the commonest feed breakage; feedparser would read it as `R&D;`)
    escaped, and references to no character (`&#xD800;`, which made feedparser raise and
    cost the whole feed) replaced by U+FFFD."""
    if b"\x00" in body[:4]:
        return body
    parts = _CDATA.split(body)
    refs = b"&#" in body
    parts[::2] = [
        _CHAR_REF.sub(_no_character, fixed) if refs and b"&#" in fixed else fixed
        for fixed in (_BARE_AMPERSAND.sub(b"&amp;", part) for part in parts[::2])
    ]
    return b"".join(parts)


def _struct_date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _date(entry: dict[str, Any], name: str) -> datetime | None:
    # dict.get: feedparser's own get() maps a missing `updated` to `published`, with a warning
    return parse_date(dict.get(entry, name)) or _struct_date(dict.get(entry, f"{name}_parsed"))


def _names(authors: Any) -> list[str]:
    if isinstance(authors, Mapping):
        authors = [authors]
    if not isinstance(authors, list):
        return []
    names = (
        as_text(author.get("name") or author.get("email")) if isinstance(author, Mapping) else ""
        for author in authors
    )
    return [name for name in names if name]


def _text_of(detail: Mapping[str, Any] | None) -> str:
    if not detail:
        return ""
    value = as_text(detail.get("value"))
    return html_to_text(value) if "html" in str(detail.get("type", "")) else clean_text(value)


def _html_of(detail: Mapping[str, Any] | None, base: str) -> str:
    if not detail or "html" not in str(detail.get("type", "")):
        return ""
    return sanitize_html(as_text(detail.get("value")), str(detail.get("base") or base))


class FeedSource(Source[FeedConfig]):
    """A feed the user already follows, read for filtering, merging and alerts."""

    kind: ClassVar[str] = "feed"

    def __init__(self, config: FeedConfig) -> None:
        super().__init__(config)
        self._feed_title = ""
        self._feed_link = ""
        self._feed_author = ""

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def title(self) -> str:
        """The configured title, else the feed's own, else the source name."""
        return self.config.title or self._feed_title or self.name

    @property
    def home_url(self) -> str:
        """The upstream feed's own site link (its `<link>`, `home_page_url`), else the feed URL."""
        return self._feed_link or self.url

    @property
    def site_name(self) -> str:
        """The upstream feed's own title: the name its site goes by."""
        return self._feed_title

    @property
    def author(self) -> str:
        return self._feed_author

    def identity(self) -> dict[str, str]:
        known = {"title": self._feed_title, "link": self._feed_link, "author": self._feed_author}
        return {key: value for key, value in known.items() if value}

    def restore_identity(self, saved: Mapping[str, Any]) -> None:
        self._feed_title = self._feed_title or str(saved.get("title") or "")
        self._feed_link = self._feed_link or str(saved.get("link") or "")
        self._feed_author = self._feed_author or str(saved.get("author") or "")

    def extract(self, page: Page) -> list[Entry]:
        return self.analyze(page).entries

    def examine(self, page: Page) -> Extraction:
        """Extract with details for `preview`: skipped items by reason."""
        with parse_errors(self.name, page.url):
            kind = sniff(page.body, page.content_type)
            return self._json_feed(page) if kind == "json" else self._xml_feed(page, kind)

    def learn(self, extraction: Extraction) -> None:
        self._feed_title = extraction.title or self._feed_title
        self._feed_link = extraction.link or self._feed_link
        self._feed_author = extraction.author  # a feed that stops naming an author names none

    def _xml_feed(self, page: Page, kind: str) -> Extraction:
        headers = {"content-location": page.url}
        content_type = page.headers.get("content-type", "")
        if page.encoding and "charset" not in content_type:
            content_type = f"{content_type or 'application/xml'}; charset={page.encoding}"
        if content_type:
            headers["content-type"] = content_type
        parsed = feedparser.parse(
            io.BytesIO(_repair_references(page.body)),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=True,
        )
        if not parsed.get("version") and not parsed.get("entries"):
            if kind == "xml":
                cause = parsed.get("bozo_exception") or "unknown root element"
                message = f"response is XML but not RSS or Atom ({cause})"
            else:
                message = f"response is {describe_kind(kind)}, expected a feed"
            raise ParseError(self.name, page.url, message)
        feed = parsed.get("feed", {})
        site = resolve_url(feed.get("link"), page.url) or ""
        out = Collector(self.name, page=site or page.url, untitled="no title or content")
        feed_authors = _names(feed.get("authors"))
        for entry in parsed.get("entries", []):
            self._add_xml_entry(entry, page.url, feed_authors, out)
        out.result.title = _text_of(feed.get("title_detail")) or clean_text(feed.get("title", ""))
        out.result.link = site
        out.result.author = ", ".join(feed_authors)
        return out.result

    def _add_xml_entry(
        self, entry: dict[str, Any], page_url: str, feed_authors: list[str], out: Collector
    ) -> None:
        base = page_url
        for detail in (entry.get("title_detail"), entry.get("summary_detail")):
            if detail and detail.get("base"):
                base = str(detail["base"])
                break
        key = as_text(entry.get("id")) or None
        link = resolve_url(entry.get("link"), base)
        if link is None and key is not None:
            link = resolve_url(key, base) if key.startswith(("http://", "https://")) else None
        contents = [c for c in entry.get("content", []) if isinstance(c, Mapping)]
        html_content = next((c for c in contents if "html" in str(c.get("type", ""))), None)
        content = html_content or (contents[0] if contents else None)
        summary_detail = entry.get("summary_detail")
        summary = _text_of(summary_detail) or _text_of(content)
        content_html = _html_of(content, base) or _html_of(summary_detail, base)
        title = _text_of(entry.get("title_detail")) or shorten(summary, _TITLE_FROM_SUMMARY)
        published, updated = _date(entry, "published"), _date(entry, "updated")
        enclosures = [
            {"url": url, "type": as_text(item.get("type")), "length": as_text(item.get("length"))}
            for item in entry.get("enclosures", [])
            if isinstance(item, Mapping) and (url := resolve_url(item.get("href"), base))
        ]
        tags = [as_text(tag.get("term")) for tag in entry.get("tags", []) if tag.get("term")]
        tags = tags[:MAX_TAGS]  # a feed may list thousands: the entry keeps the first
        extras: dict[str, Any] = {}
        if enclosures:
            extras["enclosures"] = enclosures
        if tags:
            extras["tags"] = tags
        out.add(
            key=key,
            title=title,
            link=link,
            summary=summary,
            content_html=content_html,
            published=published or updated or _date(entry, "created"),
            updated=updated,
            authors=_names(entry.get("authors")) or feed_authors,
            image=self._xml_image(entry, enclosures, base),
            extras=extras,
        )

    @staticmethod
    def _xml_image(
        entry: Mapping[str, Any], enclosures: list[dict[str, str]], base: str
    ) -> str | None:
        candidates: list[Any] = [item.get("url") for item in entry.get("media_thumbnail", [])]
        candidates += [
            item.get("url")
            for item in entry.get("media_content", [])
            if item.get("medium") == "image" or str(item.get("type", "")).startswith("image/")
        ]
        candidates += [item["url"] for item in enclosures if item["type"].startswith("image/")]
        image = entry.get("image")
        if isinstance(image, Mapping):
            candidates.append(image.get("href"))
        return next(
            (url for candidate in candidates if (url := resolve_url(as_text(candidate), base))),
            None,
        )

    def _json_feed(self, page: Page) -> Extraction:
        data = load_json(page, self.name)
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
            raise ParseError(self.name, page.url, "response is JSON but not a JSON Feed")
        items = data.get("items", [])
        if not isinstance(items, list):
            raise ParseError(self.name, page.url, "JSON Feed 'items' is not a list")
        site = resolve_url(as_text(data.get("home_page_url")), page.url) or ""
        out = Collector(self.name, page=site or page.url, untitled="no title or content")
        feed_authors = _names(data.get("authors") or data.get("author"))
        for item in items:
            if isinstance(item, dict):
                self._add_json_item(item, page.url, feed_authors, out)
            else:
                out.skip("not an object")
        out.result.title = clean_text(as_text(data.get("title")))
        out.result.link = site
        out.result.author = ", ".join(feed_authors)
        return out.result

    def _add_json_item(
        self, item: dict[str, Any], base: str, feed_authors: list[str], out: Collector
    ) -> None:
        content_html = sanitize_html(as_text(item.get("content_html")), base)
        summary = (
            clean_text(as_text(item.get("summary")))
            or html_to_text(content_html)
            or clean_text(as_text(item.get("content_text")))
        )
        link = resolve_url(as_text(item.get("url")), base) or resolve_url(
            as_text(item.get("external_url")), base
        )
        enclosures = [
            {
                "url": url,
                "type": as_text(attachment.get("mime_type")),
                "length": as_text(attachment.get("size_in_bytes")),
            }
            for attachment in item.get("attachments") or []
            if isinstance(attachment, dict)
            and (url := resolve_url(as_text(attachment.get("url")), base))
        ]
        tags = [as_text(tag) for tag in item.get("tags") or [] if as_text(tag)][:MAX_TAGS]
        extras: dict[str, Any] = {}
        if enclosures:
            extras["enclosures"] = enclosures
        if tags:
            extras["tags"] = tags
        image = resolve_url(as_text(item.get("image")), base) or resolve_url(
            as_text(item.get("banner_image")), base
        )
        updated = parse_date(item.get("date_modified"))
        out.add(
            key=as_text(item.get("id")) or None,
            title=clean_text(as_text(item.get("title"))) or shorten(summary, _TITLE_FROM_SUMMARY),
            link=link,
            summary=summary,
            content_html=content_html,
            published=parse_date(item.get("date_published")) or updated,
            updated=updated,
            authors=_names(item.get("authors") or item.get("author")) or feed_authors,
            image=image,
            extras=extras,
        )
