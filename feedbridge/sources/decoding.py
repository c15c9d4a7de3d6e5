"""Response bodies read as browsers do: the charset, the kind of body, its parsed HTML or JSON."""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from feedbridge.core.errors import ParseError
from feedbridge.core.models import Page

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
