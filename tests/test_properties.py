"""Property tests: no bytes from a server and no TOML from a user raise anything but our errors.

Every extractor gets arbitrary bytes and arbitrary-but-plausible documents
(JSON lists of dicts, HTML-ish and feed-ish text) under assorted headers; the
config loader gets arbitrary documents of plausible keys and values, and
arbitrary text. Whatever comes out must be entries (that render into a feed
a reader parses) or a FeedbridgeError (ConfigError for the loader).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedbridge.config import Config, load_config
from feedbridge.core.errors import ConfigError, FeedbridgeError
from feedbridge.core.models import Entry, FeedInfo, Page
from feedbridge.feeds import render
from feedbridge.sources import Source, build_source
from tests.chaos import to_toml

EXAMPLES = settings(
    max_examples=int(os.environ.get("FEEDBRIDGE_EXAMPLES", "120")),
    deadline=None,  # lexbor and feedparser warm-up make the first example slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # a CI run is reproducible; widen locally with --hypothesis-seed
)

PAGE_URL = "https://example.org/news/index.html"

SOURCES: dict[str, dict[str, Any]] = {
    "hf": {"kind": "hf_papers"},
    "html-fields": {
        "kind": "html",
        "url": PAGE_URL,
        "item": "article, li.item, div.card",
        "title": "h2",
        "link": "a@href",
        "summary": "p",
        "content": "div.body",
        "date": "time@datetime",
        "author": ".author",
        "image": "img",
        "score": ".score",
        "id": "@id",
    },
    "html-bare": {"kind": "html", "url": PAGE_URL, "item": "a", "date": "@title"},
    "feed": {"kind": "feed", "url": PAGE_URL},
    "json-fields": {
        "kind": "json",
        "url": PAGE_URL,
        "items": "items || data || @",
        "title": "title",
        "link": "url || link",
        "summary": "summary",
        "content": "content",
        "date": "date",
        "author": "author",
        "image": "image",
        "score": "score",
        "id": "id",
        "timezone": "Europe/Berlin",
        "date_format": "%d/%m/%Y",
    },
    "json-bare": {"kind": "json", "url": PAGE_URL, "items": "[*]", "title": "@", "link": "@"},
}


@cache
def sources() -> dict[str, Source]:
    """Each kind built from a real config file, as the worker builds them."""
    document = {"sources": [{"name": name, **table} for name, table in SOURCES.items()]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(to_toml(document))
        config = load_config(path)
    return {c.name: build_source(c) for c in config.sources}


CONTENT_TYPES = st.sampled_from(
    [
        "",
        "application/json",
        "application/json; charset=latin-1",
        "text/html",
        "text/html; charset=shift_jis",
        "text/html; charset=nonsense",
        "application/rss+xml",
        "application/atom+xml; charset=utf-16",
        "application/xml; charset=utf-7",
        "text/plain",
        "image/png",
    ]
)
ENCODINGS = st.sampled_from([None, "utf-8", "latin-1", "utf-16", "cp1252", "bogus", "ascii"])
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": CONTENT_TYPES,
        "date": st.sampled_from(["Fri, 08 May 2026 10:00:00 GMT", "yesterday", "", "0"]),
    },
)


def check_extraction(name: str, body: bytes, headers: dict[str, str], encoding: str | None) -> None:
    """Extract; entries must be well-formed and render into feeds a reader parses."""
    source = sources()[name]
    page = Page(url=PAGE_URL, status=200, body=body, headers=headers, encoding=encoding)
    try:
        entries = source.extract(page)
    except FeedbridgeError as exc:
        assert str(exc), "an error must say something"
        return
    assert isinstance(entries, list)
    for entry in entries:
        assert isinstance(entry, Entry) and entry.source == name
        assert entry.key and isinstance(entry.title, str)
        assert entry.link or source.kind == "feed"  # a feed item may have only a guid or text
        for moment in (entry.published, entry.updated):
            assert moment is None or moment.tzinfo is not None
        assert entry.score is None or math.isfinite(entry.score)
    if entries:
        info = FeedInfo(name, source.title, source.site_url, f"{PAGE_URL}.atom", PAGE_URL)
        bodies = render.render_all(info, entries)
        for fmt in ("atom", "rss"):
            parsed = feedparser.parse(bodies[fmt])
            assert not parsed.bozo, f"{fmt}: {parsed.bozo_exception}"
            assert len(parsed.entries) == len({e.key for e in entries})
        json.loads(bodies["json"])


# --- arbitrary bytes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SOURCES))
@EXAMPLES
@given(body=st.binary(max_size=3000), headers=HEADERS, encoding=ENCODINGS)
def test_arbitrary_bytes_give_entries_or_our_error(
    name: str, body: bytes, headers: dict[str, str], encoding: str | None
) -> None:
    check_extraction(name, body, headers, encoding)


# --- plausible JSON -------------------------------------------------------------------------

_KEYS = [
    "id", "title", "url", "link", "summary", "content", "date", "author", "image", "score",
    "items", "data", "paper", "name", "fullname", "upvotes", "publishedAt", "authors",
    "submittedOnDailyAt", "numComments", "organization", "thumbnail", "ai_keywords", "hidden",
    "version", "content_html", "date_published", "attachments", "tags", "src",
]  # fmt: skip
_STRINGS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "https://example.org/a", "/relative/b", "//cdn.example.org/c.png",
            "javascript:alert(1)", "mailto:x@example.org", "http://[::1", "http://a:99999/",
            "2026-05-08T10:00:00Z",
            "2026-05-08T10:00:00", "2 hours ago", "yesterday", "08/05/2026", "1715162400",
            "1715162400000", "Fri, 08 May 2026 10:00:00 +0200", "0000-00-00",
            "9999-12-31T23:59:59", "<b>bold</b> & <script>alert(1)</script>", "1.2k points",
            "1,234", "-", "\x00\x1f\ufeff",
            "https://jsonfeed.org/version/1.1", "2605.01234",
        ]
    ),
)  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    _STRINGS,
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)), children, max_size=8
        ),
    ),
    max_leaves=40,
)
ITEMS = st.lists(st.dictionaries(st.sampled_from(_KEYS), JSON_VALUES, max_size=10), max_size=8)
JSON_DOCUMENTS = st.one_of(
    ITEMS,
    ITEMS.map(lambda items: {"items": items}),
    ITEMS.map(lambda items: [{"paper": item, **item} for item in items]),
    ITEMS.map(lambda items: {"version": "https://jsonfeed.org/version/1.1", "items": items}),
    JSON_VALUES,
)


@pytest.mark.parametrize("name", ["hf", "json-fields", "json-bare", "feed"])
@EXAMPLES
@given(document=JSON_DOCUMENTS, headers=HEADERS, bom=st.booleans())
def test_plausible_json_gives_entries_or_our_error(
    name: str, document: Any, headers: dict[str, str], bom: bool
) -> None:
    body = json.dumps(document).encode()  # NaN and Infinity included, as sloppy APIs send
    check_extraction(name, (b"\xef\xbb\xbf" if bom else b"") + body, headers, None)


# --- plausible HTML and XML -----------------------------------------------------------------

_HTML_PIECES = st.sampled_from(
    [
        "<article>", "</article>", '<article id="a1">', "<li class=item>", "</li>",
        '<div class="card">', '<div class="body">', "</div>", "<h2>", "</h2>", '<a href="',
        '">', "</a>", "<p>", "</p>", '<time datetime="', '<img src="', '" alt="x">',
        '<img srcset="a.png 1x, b.png 2x">', '<span class="author">', '<span class="score">',
        "</span>", "<script>alert(1)</script>", '<base href="', "<meta charset=", "&amp;", "&#0;",
        "&#xD800;", "<!--", "-->", "<![CDATA[", "]]>", "https://example.org/x", "/y?q=1#f",
        "javascript:alert(1)", "2026-05-08", "3 days ago", "1.5k", "\x00", "\u202e", "\ufeff",
        "<title>", "</title>", "<html>", "<body>",
    ]
)  # fmt: skip
HTML_TEXT = st.lists(st.one_of(_HTML_PIECES, st.text(max_size=12)), max_size=60).map("".join)

_XML_PIECES = st.sampled_from(
    [
        '<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0" encoding="bogus"?>',
        '<rss version="2.0">', "</rss>", "<channel>", "</channel>", "<item>", "</item>",
        '<feed xmlns="http://www.w3.org/2005/Atom">', "</feed>", "<entry>", "</entry>",
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/">', "</rdf:RDF>", "<title>", "</title>",
        '<title type="html">', "<link>", "</link>", '<link href="', '" rel="alternate"/>',
        "<guid>", "</guid>", "<id>", "</id>", "<description>", "</description>", "<summary>",
        "</summary>", '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">',
        "</div></content>", "<pubDate>", "</pubDate>", "<updated>", "</updated>",
        "Fri, 08 May 2026 10:00:00 GMT", "2026-05-08T10:00:00Z", "Mon, 31 Feb 10000 99:99:99",
        "<author><name>", "</name></author>", '<enclosure url="', '" type="image/png"/>',
        '<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="', '"/>',
        "<![CDATA[", "]]>", "&amp;", "R&D", "&nbsp;", "&#0;", "https://example.org/p", "../rel",
        "<script>alert(1)</script>", "&lt;b&gt;x&lt;/b&gt;", "\x00", "\x1b", "\ufffe",
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>', "&a;",
    ]
)  # fmt: skip
XML_TEXT = st.lists(st.one_of(_XML_PIECES, st.text(max_size=12)), max_size=60).map("".join)
TEXT_ENCODINGS = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "shift_jis"])


def _encode(text: str, codec: str) -> bytes:
    return text.encode(codec, "replace" if codec != "utf-8" else "surrogatepass")


@pytest.mark.parametrize("name", ["html-fields", "html-bare", "feed"])
@EXAMPLES
@given(text=HTML_TEXT, codec=TEXT_ENCODINGS, headers=HEADERS, encoding=ENCODINGS)
def test_plausible_html_gives_entries_or_our_error(
    name: str, text: str, codec: str, headers: dict[str, str], encoding: str | None
) -> None:
    check_extraction(name, _encode(text, codec), headers, encoding)


@pytest.mark.parametrize("name", ["feed", "html-fields", "hf"])
@EXAMPLES
@given(text=XML_TEXT, codec=TEXT_ENCODINGS, headers=HEADERS, encoding=ENCODINGS)
def test_plausible_feeds_give_entries_or_our_error(
    name: str, text: str, codec: str, headers: dict[str, str], encoding: str | None
) -> None:
    check_extraction(name, _encode(text, codec), headers, encoding)


# --- the config loader ----------------------------------------------------------------------

_DURATIONS = st.one_of(
    st.sampled_from(["90s", "15m", "2h", "1d", "1h30m", "0s", "-5", "5", "abc", "", "10s"]),
    st.integers(min_value=-10, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
)
_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    _DURATIONS,
    st.sampled_from(
        [
            "hf-daily", "Bad Name!", "https://example.org/feed", "json://127.0.0.1:9/hook",
            "tgram://123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/12345", "mailto://u:p@x.org",
            "not a url", "${FEEDBRIDGE_NOPE}", "${FEEDBRIDGE_NOPE:-fallback}", "${", "daily 08:00",
            "weekly mon 25:00", "0 8 * * *", "Europe/Berlin", "Mars/Olympus", "/regex(/",
            "/ok/i", "latest:3", "latest:0", "baseline", "notify", "10MB", "4GiB", "-1KB",
            "article", "h2 a@href", "[[[", "items[*]", "items[", "{{ title }", "{{ title }}",
            "daily", "search", "trending", "hf_papers", "html", "feed", "json", "rss",
        ]
    ),
    st.lists(st.sampled_from(["hf-daily", "x", "/a(/", "", "json://127.0.0.1:9/h"]), max_size=3),
)  # fmt: skip
_SOURCE_KEYS = [
    "name", "kind", "url", "interval", "jitter", "first_run", "keep", "enabled", "listing",
    "query", "base_url", "mode", "limit", "max_pages", "days", "item", "title", "link",
    "summary", "content", "date", "items", "id", "timezone", "date_format", "link_pattern",
    "encoding", "headers", "feed_title", "score", "author", "image", "bogus", "url_file",
]  # fmt: skip
_TARGET_KEYS = [
    "name", "url", "sources", "min_score", "include", "exclude", "max_age", "format", "title",
    "body", "digest", "digest_empty", "top", "max_per_hour", "health", "retry_window",
    "overflow", "url_file", "bogus",
]  # fmt: skip
_SECTION_KEYS = {
    "storage": ["path", "seen_ttl", "size_limit", "bogus"],
    "server": ["host", "port", "base_url", "token", "enabled", "token_file", "bogus"],
    "http": ["timeout", "max_body", "user_agent", "per_host", "concurrency", "max_redirects"],
    "output": ["dir", "bogus"],
}


def _table(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), _VALUES, max_size=8)


def _source_table() -> st.SearchStrategy[dict[str, Any]]:
    kinds = st.sampled_from(["hf_papers", "html", "feed", "json", "nope"])
    return st.tuples(kinds, st.sampled_from(["a", "b", "hf-daily"]), _table(_SOURCE_KEYS)).map(
        lambda t: {"kind": t[0], "name": t[1], **t[2]}
    )


CONFIG_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        **{section: _table(keys) for section, keys in _SECTION_KEYS.items()},
        "sources": st.lists(_source_table(), max_size=3),
        "targets": st.lists(_table(_TARGET_KEYS), max_size=2),
        "log_level": st.sampled_from(["debug", "info", "loud", 3]),
        "bogus": _VALUES,
    },
)


def _load(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            config = load_config(path)
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
            return
    assert isinstance(config, Config)


@EXAMPLES
@given(document=CONFIG_DOCUMENTS)
def test_plausible_config_documents_load_or_raise_config_error(document: dict[str, Any]) -> None:
    _load(to_toml(document))  # nan and inf are written as TOML spells them


@EXAMPLES
@given(text=st.text(max_size=400) | st.binary(max_size=400))
def test_arbitrary_config_text_loads_or_raises_config_error(text: str | bytes) -> None:
    _load(text)


def test_property_strategies_reach_both_outcomes() -> None:
    """Guard against vacuous properties: plausible input does yield entries and configs."""
    page = Page(
        PAGE_URL,
        200,
        b'{"items": [{"id": "1", "title": "t", "url": "/a", "date": "08/05/2026"}]}',
        {"content-type": "application/json"},
    )
    entries = sources()["json-fields"].extract(page)
    assert [e.link for e in entries] == ["https://example.org/a"]
    assert entries[0].published == datetime(2026, 5, 7, 22, 0, tzinfo=UTC)
    _load(to_toml({"sources": [{"name": "a", "kind": "feed", "url": PAGE_URL}]}))


@pytest.mark.parametrize(
    "toml",
    [
        "[http]\ntimeout = inf",
        "[http]\ntimeout = 86400000000000.0",
        '[storage]\nseen_ttl = "99999999999d"',
        '[[sources]]\nname = "a"\nkind = "feed"\nurl = "https://e.org/"\ninterval = 1e300',
        f'[storage]\nsize_limit = "{"9" * 400}MB"',
    ],
)
def test_huge_and_infinite_durations_and_sizes_are_config_errors(toml: str) -> None:
    """Found by the property above: these escaped load_config as OverflowError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(toml)
        with pytest.raises(ConfigError):
            load_config(path)
