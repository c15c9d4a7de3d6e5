"""Plain-text cleanup for extracted fields: controls dropped, whitespace collapsed, cut to length.

Strings only (no parser), so the collector and the worker use it without loading an HTML parser.
"""

from __future__ import annotations

import re
from typing import Any

SUMMARY_LIMIT = 1000
MAX_TAGS = 30  # an entry's categories kept (a feed's categories, a paper's keywords, tags)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

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


def printable(text: str) -> bool:
    """Whether ASCII `text` has no control character and no whitespace but the space: a scan
    in C either way, through bytes for long text (str.isprintable is slower there)."""
    if len(text) <= 128:
        return text.isprintable()
    raw = text.encode("ascii")
    return len(raw.translate(None, _ASCII_UNSPACED)) == len(raw)


def clean_text(text: str) -> str:
    """Collapse whitespace, drop control and invisible characters: text as a person reads it."""
    if text.isascii():
        if printable(text):
            # printable, single-spaced text (most of it) is returned as is: splitting and
            # joining a paragraph's words costs ten times these scans
            if "  " not in text and text[:1] != " " and text[-1:] != " ":
                return text
        elif _has_special(text):
            text = text.translate(_CLEAN)
    elif _SPECIAL.search(text) is not None:  # rare; a scan is far cheaper than translating
        text = text.translate(_CLEAN)
    return " ".join(text.split())


def shorten(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Cut plain text to at most `limit` characters at a word boundary, ending in an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


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
