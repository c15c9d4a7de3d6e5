"""Helpers shared by the html, feed and json sources: bytes, text, URLs, HTML, dates, scores."""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

from feedbridge.errors import FeedbridgeError, ParseError
from feedbridge.models import Entry, Page

SUMMARY_LIMIT = 1000
TITLE_LIMIT = 300

# --- text -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "option",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head"})
_MARKUP = re.compile(
    r"<!--|</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);"
)


_CLEAN = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff")) | {
    code: " "
    for code in (
        *range(0x00, 0x09),
        *range(0x0E, 0x20),
        0x7F,
        *range(0xD800, 0xE000),
        0xFFFE,
        0xFFFF,
    )
}


_SPECIAL = re.compile(
    "["
    + "".join(re.escape(chr(c)) for c in (0xAD, 0x200B, 0x2060, 0xFEFF))
    + "\x00-\x08\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]"
)


# ASCII text is checked as bytes: deleting from bytes is several times faster than a regex scan.
_ASCII_SPECIAL = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_ASCII_CONTROL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_ASCII_UNSPACED = bytes([*range(0x00, 0x20), 0x7F])  # controls and every whitespace but " "


def _has_special(text: str) -> bool:
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw.translate(None, _ASCII_SPECIAL)) != len(raw)
    return _SPECIAL.search(text) is not None


def drop_controls(text: str) -> str:
    """`text` without characters XML 1.0 forbids (C0 controls but tab and newlines, U+FFFE/F)."""
    if text.isascii():
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROL)
        return text if len(kept) == len(raw) else kept.decode("ascii")
    return _CONTROL.sub("", text)


def _printable(text: str) -> bool:
    """Whether ASCII `text` has no control character and no whitespace but the space: a scan
    in C either way, through bytes for long text (str.isprintable is slower there)."""
    if len(text) <= 128:
        return text.isprintable()
    raw = text.encode("ascii")
    return len(raw.translate(None, _ASCII_UNSPACED)) == len(raw)


def clean_text(text: str) -> str:
    """Collapse whitespace, drop control and invisible characters: text as a person reads it."""
    if text.isascii():
        if _printable(text):
            # printable, single-spaced text (most of it) is returned as is: splitting and
            # joining a paragraph's words costs ten times these scans
            if "  " not in text and text[:1] != " " and text[-1:] != " ":
                return text
        elif _has_special(text):
            text = text.translate(_CLEAN)
    elif _SPECIAL.search(text) is not None:  # rare; a scan is far cheaper than translating
        text = text.translate(_CLEAN)
    return " ".join(text.split())


def _same(text: str) -> str:
    return text


def shorten(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Cut plain text to at most `limit` characters at a word boundary, ending in an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def node_text(node: LexborNode) -> str:
    """Visible text of a node: blocks are separated by a space, inline markup is not."""
    child = node.first_child
    if child is None:
        return ""
    if (
        child.is_text_node
        and child.next is None
        and node.is_element_node
        and node.tag not in _HIDDEN_TAGS
    ):
        return clean_text(child.text_content or "")  # the common case: one text child
    if (
        node.is_element_node
        and node.tag not in _HIDDEN_TAGS
        and all(child.is_text_node for child in node.iter(include_text=True))
    ):  # most fields hold text only: no walk needed
        return clean_text(node.text(deep=True))
    parts: list[str] = []
    stack: list[LexborNode | None] = [node]
    while stack:
        current = stack.pop()
        if current is None:
            parts.append(" ")
        elif current.is_text_node:
            parts.append(current.text_content or "")
        elif current.is_element_node and current.tag not in _HIDDEN_TAGS:
            if current.tag in _BLOCK_TAGS:
                parts.append(" ")
                stack.append(None)
            stack.extend(reversed(list(current.iter(include_text=True))))
    return clean_text("".join(parts))


def node_texts(nodes: list[LexborNode]) -> list[str]:
    """`node_text` of each element; text-only ones (names, tags: most) are read first and
    checked as one string, which costs a fifth of cleaning each."""
    raw = []
    for node in nodes:
        child = node.first_child
        if child is None or child.next is not None or not child.is_text_node:
            return [node_text(node) for node in nodes]
        if node.tag in _HIDDEN_TAGS:
            return [node_text(node) for node in nodes]
        raw.append(child.text_content or "")
    joined = "|".join(raw)
    if (
        joined.isascii()
        and _printable(joined)
        and "  " not in joined
        and " |" not in joined
        and "| " not in joined
        and joined[:1] != " "
        and joined[-1:] != " "
    ):
        return raw  # each one is what clean_text would return
    return [clean_text(text) for text in raw]


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (entities decoded, tags dropped, blocks spaced)."""
    if not looks_like_html(html):
        return clean_text(html)
    tree = LexborHTMLParser(html)
    body = tree.body or tree.root
    return node_text(body) if body is not None else ""


def looks_like_html(text: str) -> bool:
    """Whether a string carries markup or entities rather than plain text."""
    return bool(_MARKUP.search(text))


def as_text(value: Any) -> str:
    """A JSON-ish value as text: scalars as written, lists joined, objects and null empty."""
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return " ".join(filter(None, (as_text(item) for item in value)))
    return str(value)


# --- decoding -------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET_ALIASES = {
    **dict.fromkeys(
        ("ascii", "us-ascii", "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1"),
        "cp1252",
    ),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j"),
        "cp932",
    ),
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "chinese"), "gb18030"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "korean"), "cp949"),
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
}
_UNSAFE_CODECS = frozenset(
    {"utf-7", "unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode"}
)
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label (WHATWG aliases applied), None if it names none."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
        b"x".decode(name, "replace")
    except (LookupError, UnicodeError):
        return None
    return None if info.name in _UNSAFE_CODECS else name


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares in its first 1024 bytes (`<meta>` or XML declaration)."""
    head = body[:1024]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if match is None:
        return None
    label = match.group(1).decode("ascii", "replace")
    return "utf-8" if label.lower().startswith("utf-16") else label


def parse_html(body: bytes, declared: str | None = None) -> LexborHTMLParser:
    """A parsed page; UTF-8 declared as such goes to lexbor as bytes (no decode, no re-encode)."""
    if not body.startswith(tuple(bom for bom, _ in _BOMS)):
        codec = codec_for(declared) or codec_for(declared_charset(body))
        if codec is not None and codecs.lookup(codec).name == "utf-8":
            return LexborHTMLParser(body)
    return LexborHTMLParser(decode(body, declared))


def decode(body: bytes, declared: str | None = None) -> str:
    """Bytes to text: BOM, declared charset, `<meta>`, UTF-8, else windows-1252 (as browsers)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace")
    for label in (declared, declared_charset(body)):
        if (chosen := codec_for(label)) is not None:
            try:
                return body.decode(chosen, "replace")
            except UnicodeError:
                continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")


_BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
_KIND_NAMES = {
    "empty": "an empty body",
    "binary": "binary data",
    "json": "JSON",
    "xml": "XML",
    "html": "HTML",
    "text": "plain text",
}


def sniff(body: bytes, content_type: str = "") -> str:
    """What a body looks like: "empty", "binary", "json", "xml", "html" or "text"."""
    head = decode(body[:2048]).lstrip("\ufeff \t\r\n").lower()
    if not head:
        return "empty"
    if "\x00" in head or content_type.startswith(_BINARY_TYPES):
        return "binary"
    if head[0] in "{[":
        return "json"
    if head.startswith(("<?xml", "<rss", "<feed", "<rdf:rdf")):
        return "html" if "<html" in head else "xml"
    if head.startswith("<"):
        return "xml" if "xml" in content_type and "html" not in content_type else "html"
    for kind in ("json", "xml", "html"):
        if kind in content_type:
            return kind
    return "text"


def describe_kind(kind: str) -> str:
    """A sniffed kind as words for an error message ("HTML", "an empty body")."""
    return _KIND_NAMES.get(kind, kind)


def load_json(page: Page, source: str) -> Any:
    """The body as JSON; a ParseError says what the body is instead, or where the JSON breaks."""
    kind = sniff(page.body, page.content_type)
    if kind in ("empty", "binary", "html", "xml"):
        raise ParseError(source, page.url, f"response is {describe_kind(kind)}, expected JSON")
    try:
        return json.loads(decode(page.body, page.encoding))
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} col {exc.colno}: {exc.msg}"
        raise ParseError(source, page.url, message) from exc
    except RecursionError as exc:
        raise ParseError(source, page.url, "JSON is nested too deeply") from exc
    except ValueError as exc:
        raise ParseError(source, page.url, f"invalid JSON: {exc}") from exc


# --- URLs and HTML --------------------------------------------------------------------------

_URL_STRIP = re.compile(r"[\t\n\r]")


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.\-]+(?::\d{1,5})?(?:/[A-Za-z0-9\-._~/?=&+,;:@!$'()*%]*)?"
)
_PLAIN_ROOTED = re.compile(r"/(?!/)[A-Za-z0-9\-._~/?=&+,;:@!$'()*%]*")


@lru_cache(maxsize=64)
def _origin(base: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, else None."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def resolve_url(href: str | None, base: str) -> str | None:
    """Absolute http(s) URL of `href` against `base` (relative, protocol-relative), else None."""
    if not href:
        return None
    href = _URL_STRIP.sub("", href).strip(" \x00\x0b\x0c")
    if href in ("", "#"):
        return None
    if _PLAIN_ABSOLUTE.fullmatch(href) and "/." not in href:
        return href  # already what the slow path would make of it
    if _PLAIN_ROOTED.fullmatch(href) and "/." not in href:
        origin = _origin(base)  # "/path?q" on an http(s) base: nothing to join or quote
        if origin:
            return origin + href
    try:
        parts = urlsplit(urljoin(base, href))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    safe = "/?#[]@!$&'()*+,;=:%~"
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe),
            quote(parts.fragment, safe=safe),
        )
    )


def sanitize_html(html: str, base_url: str) -> str:
    """Safe HTML for readers: no scripts, styles, handlers or javascript: links; URLs absolute."""
    if not html.strip():
        return ""
    return drop_controls(_cleaner(base_url).clean(html)).strip()


# Elements nh3 keeps as they are, dropping every attribute but lang and title; an element of
# these with one text child is written here directly (nh3 would parse and serialize it again).
_PLAIN_TAGS = frozenset(
    {"p", "div", "span", "li", "h1", "h2", "h3", "h4", "h5", "h6", "b", "i", "em", "strong"}
    | {"small", "dd", "dt", "article", "aside", "header", "footer", "figcaption", "code"}
)


def sanitize_node(node: LexborNode, base_url: str) -> str:
    """`sanitize_html` of a node's HTML, byte for byte; a text-only element skips nh3."""
    child = node.first_child
    if child is not None and child.next is None and child.is_text_node:
        plain = _plain_html(node, node.tag, child.text_content or "")
        if plain is not None:
            return plain
    return sanitize_html(node.html or "", base_url)


def text_and_html(node: LexborNode, base_url: str) -> tuple[str, str]:
    """(`node_text`, `sanitize_node`) of one node: a text-only element's text is read once."""
    child = node.first_child
    if child is not None and child.next is None and child.is_text_node and node.is_element_node:
        tag = node.tag
        if tag not in _HIDDEN_TAGS:
            raw = child.text_content or ""
            plain = _plain_html(node, tag, raw)
            html = plain if plain is not None else sanitize_html(node.html or "", base_url)
            return clean_text(raw), html
    return node_text(node), sanitize_node(node, base_url)


def _plain_html(node: LexborNode, tag: str | None, text: str) -> str | None:
    """What nh3 makes of an element holding only `text`, when that is sure; else None."""
    if tag not in _PLAIN_TAGS or "title" in (attrs := node.attrs) or "lang" in attrs:
        return None
    if "\r" in text or "\x00" in text:  # html5ever rewrites those: nh3 decides
        return None
    if "&" in text or "<" in text or ">" in text or "\xa0" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = text.replace("\xa0", "&nbsp;")
    return drop_controls(f"<{tag}>{text}</{tag}>").strip()


@lru_cache(maxsize=64)
def _cleaner(base_url: str) -> nh3.Cleaner:
    """One nh3 Cleaner per page URL: building ammonia's rules costs 3x the cleaning itself."""
    relative: Any = ("rewrite_with_base", base_url) if is_http_url(base_url) else "deny"
    return nh3.Cleaner(url_relative=relative, link_rel="noopener noreferrer")


# --- collecting entries ---------------------------------------------------------------------


@dataclass(slots=True)
class Extraction:
    """What one extract found: entries, skipped items by reason, per-field match counts."""

    entries: list[Entry] = field(default_factory=list)
    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    matched: dict[str, int] = field(default_factory=dict)
    title: str = ""
    link: str = ""
    # wrong though not an error (a selector that matched nothing on a page with content):
    # the worker shows it in the source's status and `once` exits 1
    warning: str | None = None
    scripted: bool = False  # the page has <script> elements: its items may come from them


def content_key(title: str, text: str) -> str:
    """The last-resort key of an item with neither id nor link: a hash of what it says."""
    digest = hashlib.sha256(f"{clean_text(title)}\n{clean_text(text)}".encode("utf-8", "replace"))
    return f"sha256:{digest.hexdigest()[:32]}"


def describe_skipped(skipped: Mapping[str, int]) -> str:
    """Skipped items as words, most common first: "2 no link, 1 duplicate"."""
    ranked = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{count} {reason}" for reason, count in ranked if count)


class Collector:
    """Builds entries in page order, skipping (and counting) items without link, title or key.

    With `linkless=True` (feeds) an item needs only a title or content: it is keyed by its
    id, else its link, else a hash of its title and content.
    """

    def __init__(
        self,
        source: str,
        *,
        limit: int | None = None,
        link_pattern: re.Pattern[str] | None = None,
        linkless: bool = False,
    ) -> None:
        self.source = source
        self.limit = limit
        self.link_pattern = link_pattern
        self.linkless = linkless
        self.result = Extraction()
        self._keys: set[str] = set()

    def skip(self, reason: str) -> None:
        """Count one item left out, by reason ("no link", "no title", "duplicate", ...)."""
        self.result.skipped[reason] += 1

    def add(
        self,
        *,
        key: str | None,
        title: str,
        link: str | None,
        summary: str = "",
        content_html: str = "",
        published: datetime | None = None,
        updated: datetime | None = None,
        authors: Iterable[str] = (),
        score: float | None = None,
        image: str | None = None,
        extras: Mapping[str, Any] | None = None,
        cleaned: bool = False,
    ) -> None:
        """Add one item as an Entry, or count why it cannot be one.

        `cleaned`: title, key, summary and authors are already `clean_text`'s output.
        """
        self.result.items += 1
        clean = _same if cleaned else clean_text
        title = shorten(clean(title), TITLE_LIMIT)
        key = clean(key or "") or link
        if self.linkless:
            if not title:
                self.skip("no title or content")
                return
            key = key or content_key(title, summary or content_html)
        elif not key or not link:
            self.skip("no link")
            return
        reason = self._rejection(key, title, link)
        if reason is not None:
            self.skip(reason)
            return
        self._keys.add(key)
        names = dict.fromkeys(authors if cleaned else map(clean, authors))
        names.pop("", None)
        self.result.entries.append(
            Entry(
                source=self.source,
                key=key,
                title=title,
                link=link or "",
                summary=shorten(clean(summary)),
                content_html=content_html,
                published=published,
                updated=updated,
                authors=tuple(names),
                score=score,
                image=image,
                extras=dict(extras or {}),
            )
        )

    def _rejection(self, key: str, title: str, link: str | None) -> str | None:
        if self.link_pattern is not None and not self.link_pattern.search(link or ""):
            return "link_pattern"
        if not title:
            return "no title"
        if key in self._keys:
            return "duplicate"
        if self.limit is not None and len(self.result.entries) >= self.limit:
            return "limit"
        return None


@contextmanager
def parse_errors(source: str, url: str) -> Iterator[None]:
    """Let FeedbridgeErrors through; anything else raised while parsing becomes a ParseError."""
    try:
        yield
    except FeedbridgeError:
        raise
    except RecursionError as exc:
        raise ParseError(source, url, "document is nested too deeply") from exc
    except Exception as exc:
        message = f"cannot parse response ({type(exc).__name__}: {exc})"
        raise ParseError(source, url, message) from exc
