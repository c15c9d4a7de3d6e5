"""Tables for the helpers the html, feed and json sources share, and how the sources fail."""

from __future__ import annotations

import codecs
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedbridge.config import adhoc_source_config
from feedbridge.config.models import FeedConfig, HtmlConfig, JsonConfig, SourceBase
from feedbridge.core.errors import ConfigError, FeedbridgeError, ParseError
from feedbridge.core.models import Page
from feedbridge.sources import build_source
from feedbridge.sources.base import Source
from feedbridge.sources.decoding import decode, parse_html, sniff
from feedbridge.sources.feed import FeedSource
from feedbridge.sources.html import HtmlSource
from feedbridge.sources.jsonapi import JsonSource
from feedbridge.sources.markup import html_to_text, resolve_url, sanitize_html
from feedbridge.sources.text import clean_text, shorten
from feedbridge.sources.values import parse_date, parse_score

BASE = "https://ex.com/a/page.html"
NOW = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def config(kind: str, **values: Any) -> SourceBase:
    """A source config as written, unvalidated: the sources check selectors themselves."""
    defaults: dict[str, Any] = {"name": "src", "url": "https://ex.com/"}
    if kind == "html":
        defaults["item"] = "article"
    if kind == "json":
        defaults["items"] = "items"
    models: dict[str, type[SourceBase]] = {"html": HtmlConfig, "json": JsonConfig}
    return models.get(kind, FeedConfig).model_construct(**{**defaults, **values})


def page(body: bytes, content_type: str = "", url: str = "https://ex.com/") -> Page:
    headers = {"content-type": content_type} if content_type else {}
    return Page(url=url, status=200, body=body, headers=headers)


SOURCES: dict[str, Callable[[], Source]] = {
    "html": lambda: HtmlSource(config("html", title="h2", link="a@href")),
    "feed": lambda: FeedSource(config("feed")),
    "json": lambda: JsonSource(config("json", title="t", link="u")),
    "hf_repos": lambda: build_source(adhoc_source_config({"name": "src", "kind": "hf_repos"})),
    "hf_collection": lambda: build_source(
        adhoc_source_config({"name": "src", "kind": "hf_collection", "collection": f"a/b-{0:024}"})
    ),
}


# --- sanitizing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a<script>alert(1)</script></p>", "<p>a</p>"),
        ('<img src="x.png" onerror="alert(1)">', '<img src="https://ex.com/a/x.png">'),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href=" JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<style>p{}</style><p style="color:red" class="c">t</p>', "<p>t</p>"),
        ('<iframe src="https://evil.example"></iframe><p>ok</p>', "<p>ok</p>"),
        (
            '<a href="../b/c?d=1#e" onclick="x()">c</a>',
            '<a href="https://ex.com/b/c?d=1#e" rel="noopener noreferrer">c</a>',
        ),
        ('<img src="//cdn.ex.com/i.png">', '<img src="https://cdn.ex.com/i.png">'),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ("<p>bell\x07 and nul\x00</p>", "<p>bell and nul</p>"),
        ("  ", ""),
    ],
)
def test_sanitizer_removes_active_content_and_absolutizes_links(html: str, expected: str) -> None:
    assert sanitize_html(html, BASE) == expected


def test_sanitizer_drops_relative_links_when_there_is_no_absolute_base() -> None:
    assert sanitize_html('<a href="/x">x</a>', "not a url") == '<a rel="noopener noreferrer">x</a>'


_MARKUP_TEXT = st.lists(
    st.sampled_from([*"a <>&\"'\t\n\r\x00\x0b\x7f\xa0\ufffe", "&amp;", "&nbsp;", "&#0;", "é", "😀"])
    | st.characters(exclude_categories=("Cs",)),
    max_size=20,
).map("".join)
_ELEMENT_TAGS = st.sampled_from(["p", "li", "span", "h3", "code", "pre", "td", "a", "section"])
_ELEMENT_ATTRIBUTES = st.sampled_from(["", ' class="x"', ' title="t"', ' lang="en"', " id=i"])


@settings(max_examples=300)
@given(_ELEMENT_TAGS, _ELEMENT_ATTRIBUTES, _MARKUP_TEXT)
def test_sanitizing_a_text_only_node_equals_nh3(tag: str, attrs: str, text: str) -> None:
    from selectolax.lexbor import LexborHTMLParser

    from feedbridge.sources.markup import node_text, sanitize_node, text_and_html

    node = LexborHTMLParser(f"<body><{tag}{attrs}>{text}</{tag}>").css_first(tag)
    if node is not None:
        assert sanitize_node(node, BASE) == sanitize_html(node.html or "", BASE)
        assert text_and_html(node, BASE) == (node_text(node), sanitize_node(node, BASE))


@settings(max_examples=200)
@given(st.lists(_MARKUP_TEXT | st.sampled_from(["a |b", "x", " y", "t ", "<b>z</b>", ""])))
@example(["t ", "x"])
@example(["x", " y"])
@example(["x", "a  b"])
@example(["x", "a\tb"])
@example(["x", "é"])
def test_texts_of_several_nodes_equal_each_nodes_text(texts: list[str]) -> None:
    from html import escape

    from feedbridge.sources.markup import node_text, node_texts

    items = "".join(f"<li>{t if t.startswith('<b>') else escape(t)}</li>" for t in texts)
    nodes = parse_html(f"<ul>{items}</ul>".encode()).css("li")
    assert node_texts(nodes) == [node_text(node) for node in nodes]


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2026-05-08T10:00:00Z", None, utc(2026, 5, 8, 10)),
        ("2026-05-08T10:00:00+02:00", None, utc(2026, 5, 8, 8)),
        ("2026-05-08T10:00:00.123456", None, utc(2026, 5, 8, 10, 0, 0, 123456)),
        ("2026-05-08", None, utc(2026, 5, 8)),
        ("Fri, 08 May 2026 10:00:00 GMT", None, utc(2026, 5, 8, 10)),
        ("Fri, 08 May 2026 10:00:00 +0200", None, utc(2026, 5, 8, 8)),
        ("Fri, 08 May 2026 10:00:00 PDT", None, utc(2026, 5, 8, 17)),
        ("May 8, 2026", None, utc(2026, 5, 8)),
        ("8 May 2026 14:30", None, utc(2026, 5, 8, 14, 30)),
        ("Posted on May 8, 2026 by Ana", None, utc(2026, 5, 8)),
        ("Sep 22", None, utc(2025, 9, 22)),
        ("May 8", None, utc(2026, 5, 8)),
        ("May 9", None, utc(2026, 5, 9)),
        ("May 10", None, utc(2025, 5, 10)),
        ("Feb 29", None, utc(2024, 2, 29)),
        ("2 hours ago", None, utc(2026, 5, 8, 10)),
        ("45 minutes ago", None, utc(2026, 5, 8, 11, 15)),
        ("Posted 2h ago", None, utc(2026, 5, 8, 10)),
        ("a day ago", None, utc(2026, 5, 7, 12)),
        ("3 weeks ago", None, utc(2026, 4, 17, 12)),
        ("1 month ago", None, utc(2026, 4, 8, 12)),
        ("yesterday", None, utc(2026, 5, 7)),
        ("just now", None, NOW),
        ("08.05.2026", None, utc(2026, 5, 8)),
        ("08.05.2026", "%d.%m.%Y", utc(2026, 5, 8)),
        ("05/08/2026", "%d/%m/%Y", utc(2026, 8, 5)),
        ("3 hours ago", "%d/%m/%Y", utc(2026, 5, 8, 9)),
        (1778227200, None, utc(2026, 5, 8, 8)),
        (1778227200000, None, utc(2026, 5, 8, 8)),
        (1778227200.5, None, utc(2026, 5, 8, 8, 0, 0, 500000)),
        ("1778227200", None, utc(2026, 5, 8, 8)),
        ("", None, None),
        ("soon", None, None),
        ("3 comments", None, None),
        ("10:30", None, None),
        ("yanked", None, None),
        ("x" * 500, None, None),
        (None, None, None),
        (True, None, None),
        (12, None, None),
        (float("inf"), None, None),
        ({"date": "2026-05-08"}, None, None),
    ],
)
def test_parse_date(value: Any, fmt: str | None, expected: datetime | None) -> None:
    assert parse_date(value, fmt=fmt, now=NOW) == expected


def test_naive_dates_are_read_in_the_configured_timezone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_date("2026-05-08 10:00", tz=berlin) == utc(2026, 5, 8, 8)
    assert parse_date("2026-05-08T10:00:00Z", tz=berlin) == utc(2026, 5, 8, 10)
    assert parse_date("2026-05-08 10:00") == utc(2026, 5, 8, 10)


def test_parsed_dates_are_aware_utc() -> None:
    moment = parse_date("Fri, 08 May 2026 10:00:00 +0200")
    assert moment is not None and moment.utcoffset() is not None
    assert moment.tzinfo == UTC


# --- scores ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2k", 1200),
        ("1.2K points", 1200),
        ("1,234 points", 1234),
        ("87 points", 87),
        ("♥ 2.3k", 2300),
        ("1.5M views", 1_500_000),
        ("12", 12),
        ("123points", 123),
        ("5 kudos", 5),
        ("-3", -3),
        ("item-3", 3),
        ("4,5 stars", 4.5),
        (42, 42),
        (3.5, 3.5),
        ("no votes yet", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_parse_score(value: Any, expected: float | None) -> None:
    assert parse_score(value) == expected


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "declared", "expected"),
    [
        (b"caf\xc3\xa9", None, "café"),
        (b"caf\xe9 \x80", None, "café €"),
        (b'<meta charset="windows-1252"><p>\x93hi\x94 \x80', None, "<p>“hi” €"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
            + "日本①".encode("cp932"),
            None,
            "日本①",
        ),
        (b"<?xml version='1.0' encoding='windows-1252'?><a>\x80</a>", None, "<a>€</a>"),
        (b'<meta charset="utf-8">caf\xe9', "windows-1252", "café"),
        (codecs.BOM_UTF8 + "café".encode(), "windows-1252", "café"),
        (codecs.BOM_UTF16_LE + "hé".encode("utf-16-le"), None, "hé"),
        (b"\x93x\x94", "iso-8859-1", "“x”"),
        (b"caf\xc3\xa9", "no-such-charset", "café"),
        (b"caf\xc3\xa9", "base64", "café"),
        (b"+ADw-script+AD4-", "utf-7", "+ADw-script+AD4-"),
        (b'<meta charset="utf-16">caf\xc3\xa9', None, "café"),
    ],
)
def test_decode(body: bytes, declared: str | None, expected: str) -> None:
    assert decode(body, declared).endswith(expected)


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"", "", "empty"),
        (b" \n ", "text/html", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "", "binary"),
        (b"%PDF-1.7", "application/pdf", "binary"),
        (b'{"a": 1}', "text/html", "json"),
        (b"\xef\xbb\xbf[1]", "", "json"),
        (b"<?xml version='1.0'?><rss/>", "", "xml"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "", "xml"),
        (b"<!DOCTYPE html><html></html>", "", "html"),
        (b"<div>fragment</div>", "", "html"),
        (b"hello", "text/plain", "text"),
    ],
)
def test_sniff(body: bytes, content_type: str, kind: str) -> None:
    assert sniff(body, content_type) == kind


# --- URLs and text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/b", "https://ex.com/b"),
        ("b?c=1", "https://ex.com/a/b?c=1"),
        ("//cdn.ex.com/x", "https://cdn.ex.com/x"),
        ("x y.html", "https://ex.com/a/x%20y.html"),
        ("/caf%C3%A9", "https://ex.com/caf%C3%A9"),
        (" \n/b\t ", "https://ex.com/b"),
        ("http://other.example/", "http://other.example/"),
        ("javascript:alert(1)", None),
        ("mailto:a@ex.com", None),
        ("data:text/html,hi", None),
        ("#", None),
        ("", None),
        (None, None),
        ("http://[::1", None),
    ],
)
def test_resolve_url(href: str | None, expected: str | None) -> None:
    assert resolve_url(href, BASE) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a \n\t b  ", "a b"),
        ("a\u00a0b", "a b"),
        ("Jürgen\u00adsen", "Jürgensen"),
        ("a\x00b\x07c", "a b c"),
        ("lone \ud800 surrogate", "lone surrogate"),
    ],
)
def test_clean_text(text: str, expected: str) -> None:
    assert clean_text(text) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Hello <b>world</b>, hi</p><p>Next</p>", "Hello world, hi Next"),
        ("a<br>b", "a b"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("<script>x()</script><style>p{}</style>ok", "ok"),
        ("plain text", "plain text"),
        ("x < y", "x < y"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_shorten_cuts_at_a_word_and_marks_it() -> None:
    text = "word " * 400
    short = shorten(clean_text(text))
    assert len(short) <= 1000
    assert short.endswith("word…")
    assert shorten("short") == "short"


# --- failures --------------------------------------------------------------------------------

GARBAGE = {
    "random bytes": random.Random(3).randbytes(4096),
    "empty": b"",
    "nul bytes": b"\x00" * 64,
    "html": b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>",
    "truncated xml": b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Cut',
    "deep json": b"[" * 100_000,
    "deep html": b"<div>" * 50_000,
    "huge number": b'{"items": [' + b"1" * 5000 + b"]}",
    "lone surrogate": b'{"items": [{"t": "\\ud800", "u": "/x"}]}',
    "items not a list": b'{"items": "nope"}',
    "entity expansion": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><title>&b;</title>'
        b"</channel></rss>"
    ),
    "utf-16 garbage": codecs.BOM_UTF16_LE + random.Random(4).randbytes(512),
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize("body", GARBAGE.values(), ids=list(GARBAGE))
def test_extract_raises_only_feedbridge_errors_on_garbage(kind: str, body: bytes) -> None:
    try:
        entries = SOURCES[kind]().extract(page(body))
    except FeedbridgeError:
        return
    assert isinstance(entries, list)


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=3000), kind=st.sampled_from(sorted(SOURCES)))
def test_extract_never_raises_anything_else_on_any_bytes(body: bytes, kind: str) -> None:
    source = SOURCES[kind]()
    with contextlib.suppress(FeedbridgeError):
        source.extract(page(body))


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "message"),
    [
        ("json", GARBAGE["html"], "text/html", "response is HTML, expected JSON"),
        ("json", b'{"items": [1,,2]}', "application/json", "invalid JSON at line 1 col 14"),
        ("json", b"", "application/json", "response is an empty body, expected JSON"),
        ("json", b'{"items": "nope"}', "", "items expression 'items' gives str, expected a list"),
        ("json", b"[" * 100_000, "", "nested too deeply"),
        ("feed", GARBAGE["html"], "text/html", "response is HTML, expected a feed"),
        ("feed", b'{"items": []}', "application/json", "response is JSON but not a JSON Feed"),
        ("feed", b"<sitemap><url/></sitemap>", "text/xml", "response is XML but not RSS or Atom"),
        ("html", b'{"a": [1, 2]}', "application/json", "response is JSON, expected HTML"),
        ("html", b"", "text/html", "response is an empty body, expected HTML"),
        ("html", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "image/png", "binary data, expected HTML"),
    ],
)
def test_parse_errors_name_source_url_and_cause(
    kind: str, body: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        SOURCES[kind]().extract(page(body, content_type, url="https://ex.com/api"))
    assert caught.value.source == "src"
    assert caught.value.url == "https://ex.com/api"
    assert message in caught.value.message


def test_html_item_matching_nothing_is_an_empty_list_not_an_error() -> None:
    source = HtmlSource(config("html", item="article.none"))
    assert source.extract(page(b"<html><body><p>hi</p></body></html>")) == []


def test_feed_body_that_names_a_local_file_is_not_read(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        "<rss version='2.0'><channel><item><title>secret</title>"
        "<link>https://ex.com/s</link></item></channel></rss>"
    )
    with pytest.raises(ParseError):
        FeedSource(config("feed")).extract(page(str(feed).encode()))


@pytest.mark.parametrize(
    ("kind", "values", "where"),
    [
        ("html", {"item": "a[["}, "sources.src.item"),
        ("html", {"title": "h2 >"}, "sources.src.title"),
        ("html", {"link_pattern": "("}, "sources.src.link_pattern"),
        ("html", {"timezone": "Mars/Olympus_Mons"}, "sources.src.timezone"),
        ("json", {"items": "data["}, "sources.src.items"),
        ("json", {"date": "a.(b"}, "sources.src.date"),
    ],
)
def test_bad_selectors_are_config_errors_with_the_key(
    kind: str, values: dict[str, Any], where: str
) -> None:
    cls: type[Source] = HtmlSource if kind == "html" else JsonSource
    with pytest.raises(ConfigError) as caught:
        cls(config(kind, **values))
    assert caught.value.problems[0].startswith(where)


# --- extraction details ----------------------------------------------------------------------

LISTING = b"""<html><head><title>Listing</title></head><body>
<article><h2><a href="/p/1">One</a></h2><span class="n">5 votes</span></article>
<article><h2><a href="/ads/2">Sponsored</a></h2></article>
<article><h2><a href="/p/3">Three</a></h2></article>
<article><h2><a href="/p/4">Four</a></h2></article>
</body></html>"""


def test_analyze_reports_matches_per_field_and_skips_by_reason() -> None:
    source = HtmlSource(
        config("html", title="h2", score=".n", date="time", link_pattern=r"/p/\d+$", limit=2)
    )
    result = source.analyze(page(LISTING))
    assert [entry.title for entry in result.entries] == ["One", "Three"]
    assert dict(result.skipped) == {"link_pattern": 1, "limit": 1}
    assert result.matched == {"title": 4, "score": 1, "date": 0}
    assert result.items == 4
    assert source.title == "Listing"


def test_html_feed_title_is_feed_title_then_page_title_then_name() -> None:
    source = HtmlSource(config("html", title="h2"))
    assert source.title == "src"
    source.extract(page(LISTING))
    assert source.title == "Listing"
    assert HtmlSource(config("html", title="h2", feed_title="Mine")).title == "Mine"


def test_keys_are_stable_across_polls_and_positions() -> None:
    source = HtmlSource(config("html", title="h2"))
    first = source.extract(page(LISTING))
    reordered = LISTING.replace(b"<article>", b"<article class='x'>", 1)
    reordered = reordered.replace(b'/p/1">One', b'/p/1">One (edited)')
    second = source.extract(page(reordered))
    assert [entry.key for entry in first] == [entry.key for entry in second]


def test_cdata_keeps_its_ampersands_while_bare_ones_are_repaired() -> None:
    body = (
        b"<rss version='2.0'><channel><title>T</title>"
        b"<item><title><![CDATA[R&D & more]]></title><link>https://ex.com/1</link></item>"
        b"<item><title>Q&A</title><link>https://ex.com/2?a=1&b=2</link></item>"
        b"</channel></rss>"
    )
    entries = FeedSource(config("feed")).extract(page(body))
    assert [(entry.title, entry.link) for entry in entries] == [
        ("R&D & more", "https://ex.com/1"),
        ("Q&A", "https://ex.com/2?a=1&b=2"),
    ]


def test_json_link_falls_back_to_the_page_when_an_id_is_configured() -> None:
    source = JsonSource(config("json", id="id", title="t"))
    entries = source.extract(page(b'{"items": [{"id": 7, "t": "Alert"}]}'))
    assert [(entry.key, entry.link) for entry in entries] == [("7", "https://ex.com/")]


def test_attribute_selector_skips_nodes_without_the_attribute() -> None:
    source = HtmlSource(config("html", item="li", link="a@href"))
    body = b'<ul><li><a name="top"></a><a href="/x">X</a></li></ul>'
    assert [(entry.title, entry.link) for entry in source.extract(page(body))] == [
        ("X", "https://ex.com/x")
    ]


def test_feed_source_takes_title_and_site_link_from_the_feed() -> None:
    source = FeedSource(config("feed"))
    body = (
        b"<rss version='2.0'><channel><title>Feed &amp; Co</title><link>/home</link>"
        b"<item><title>A</title><link>https://ex.com/a</link></item></channel></rss>"
    )
    source.extract(page(body, url="https://ex.com/rss"))
    assert (source.title, source.site_url) == ("Feed & Co", "https://ex.com/home")
    assert FeedSource(config("feed", title="Mine")).title == "Mine"


_TRICKY = st.text(
    st.sampled_from(
        [*"a é\t\n\r\x00\x08\x0b\x0c\x1f\x7f\x85", "\u00ad", "\u200b", "\ufeff", "\ufffe"]
    )
    | st.characters(),
    max_size=30,
)


@settings(max_examples=300)
@given(_TRICKY)
def test_fast_text_checks_agree_with_the_regexes(text: str) -> None:
    from feedbridge.sources import text as textmod

    assert textmod.drop_controls(text) == textmod._CONTROL.sub("", text)
    assert textmod._has_special(text) == bool(textmod._SPECIAL.search(text))
    assert clean_text(clean_text(text)) == clean_text(text)  # so cleaned text is not cleaned twice


def test_an_attribute_field_reads_the_first_match_that_has_the_attribute() -> None:
    body = (
        b'<html><body><article><h2><a name="top">Top</a><a href="/p/1" title=" A\xc2\xadB ">One</a>'
        b'</h2><ul><li data-n="x">Ann</li><li>Bob</li><li data-n="y"> Cy </li></ul></article>'
        b"</body></html>"
    )
    source = HtmlSource(
        config("html", title="h2 a@title", link="h2 a@href", author="li@data-n", id="h2 a@name")
    )
    result = source.analyze(page(body))
    (entry,) = result.entries
    assert (entry.link, entry.title, entry.key) == ("https://ex.com/p/1", "AB", "top")
    assert entry.authors == ("x", "y")
    assert result.matched == {"id": 1, "title": 1, "link": 1, "author": 1}


NESTED = (
    b'<html><body><div class="list"><div class="c"><a href="/1">One</a><span>ann</span>'
    b'<div class="c"><a href="/2">Two</a><span>bob</span></div><span>cy</span></div>'
    b'<div class="c"><b>no link</b></div></div><a href="/out">outside</a></body></html>'
)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # nested items: each reads its own subtree, the inner item's nodes included
        ({"item": "div.c", "author": "span"}, [("/1", ("ann", "bob", "cy")), ("/2", ("bob",))]),
        # a selector's ancestors may lie outside the item, as in querySelectorAll
        ({"item": "div.c", "link": ".list a@href"}, [("/1", ()), ("/2", ())]),
        # the item itself is a candidate of every field selector
        ({"item": "a", "link": "a@href", "title": "a"}, [("/1", ()), ("/2", ()), ("/out", ())]),
        ({"item": "div.list > div.c", "link": "a@href"}, [("/1", ())]),
    ],
)
def test_fields_match_inside_each_item_as_a_query_per_item_would(
    fields: dict[str, str], expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    source = HtmlSource(config("html", **fields))
    got = [(e.link.removeprefix("https://ex.com"), e.authors) for e in source.extract(page(NESTED))]
    assert got == expected
    # the same as querying each item on its own (what the plan replaces)
    tree = parse_html(NESTED)
    for item, (_, authors) in zip(tree.css(fields["item"]), expected, strict=False):
        if "author" in fields:
            assert tuple(n.text() for n in item.css(fields["author"])) == authors


EMBEDDED_PAGE = b"""<!doctype html><html><head><title>Shop</title>
<script type="application/ld+json">{"@type": "WebSite", "name": "Shop"}</script>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "ItemList",
 "itemListElement": [
  {"@type": "ListItem", "position": 1, "url": "/p/kettle", "name": "Kettle &amp; stand"},
  {"@type": "ListItem", "position": 2, "item": {"url": "/p/teapot", "name": "Teapot"}}]}</script>
<div id="app" data-page='{"props": {"posts": [{"title": "Hello", "url": "/hello"}]}}'></div>
</head><body><p>Loading</p></body></html>"""


def _embedded_source(embedded: str, items: str, **fields: str) -> Any:
    table = {"name": "shop", "kind": "json", "url": "https://shop.test/list", "items": items}
    return build_source(adhoc_source_config({**table, "embedded": embedded, **fields}))


def test_json_source_reads_json_ld_embedded_in_a_page() -> None:
    source = _embedded_source(
        'script[type="application/ld+json"]',
        "[?\"@type\"=='ItemList'].itemListElement[]",
        title="item.name || name",
        link="item.url || url",
    )
    entries = source.extract(Page("https://shop.test/list", 200, EMBEDDED_PAGE))
    assert [(e.title, e.link) for e in entries] == [
        ("Kettle & stand", "https://shop.test/p/kettle"),
        ("Teapot", "https://shop.test/p/teapot"),
    ]


def test_json_source_reads_json_from_an_attribute_of_a_page() -> None:
    source = _embedded_source("div#app@data-page", "[0].props.posts", title="title", link="url")
    entries = source.extract(Page("https://shop.test/list", 200, EMBEDDED_PAGE))
    assert [(e.title, e.link) for e in entries] == [("Hello", "https://shop.test/hello")]


def test_embedded_json_that_does_not_parse_names_the_element() -> None:
    page = Page("https://shop.test/list", 200, b"<html><script id=s>{oops</script></html>")
    with pytest.raises(ParseError, match=r"element 1 of embedded 'script#s' holds no valid JSON"):
        _embedded_source("script#s", "[0]").extract(page)


def test_embedded_needs_an_html_page_and_a_valid_selector() -> None:
    with pytest.raises(ParseError, match="response is JSON, expected HTML holding JSON"):
        _embedded_source("script", "[0]").extract(Page("https://shop.test/", 200, b"[1]"))
    with pytest.raises(ConfigError, match=r"sources\[0\]\.embedded: invalid CSS selector"):
        _embedded_source("div[[", "[0]")
