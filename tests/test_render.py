"""feedbridge.feeds.render: valid, stable, newest-first Atom, RSS 2.0 and JSON Feed output."""

from __future__ import annotations

import calendar
import html
import json
import random
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.items import FALLBACK_TIME, FEED_FORMATS, entry_id, feed_id
from feedbridge.feeds.render import render_all, render_atom, render_json, render_rss
from tests.atomcheck import check_atom

A = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
INFO = FeedInfo(
    name="hf-daily",
    title="Hugging Face Daily Papers",
    link="https://huggingface.co/papers",
    self_url="http://localhost:8080/feeds/hf-daily.atom",
    base_url="http://localhost:8080",
    description="The day's papers",
)
T0 = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
HF_FIXTURE = Path(__file__).parent / "data" / "hf" / "api_daily_papers_2026-05-08.json"
RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json}


def make(key: str, minutes: int | None = 0, **kw: Any) -> Entry:
    """An entry published `minutes` before T0 (None: undated)."""
    when = None if minutes is None else T0 - timedelta(minutes=minutes)
    fields: dict[str, Any] = {
        "source": "hf-daily",
        "key": key,
        "title": f"Paper {key}",
        "link": f"https://huggingface.co/papers/{key}",
        "summary": f"Abstract of paper {key}.",
        "published": when,
        "authors": ("Ada Lovelace", "Alan Turing"),
        "score": 3.0,
    }
    fields.update(kw)
    return Entry(**fields)


def samples() -> list[Entry]:
    return [
        make("2605.00001", 0, updated=T0 + timedelta(minutes=5),
             content_html="<p>Rich <b>x</b></p>", image="https://cdn.example/a.png",
             extras={"keywords": ["diffusion", "agents"]}),
        make("2605.00002", 30),
        make("2605.00003", 30),
        make("2605.00004", None, authors=()),
        make("2605.00005", 90, summary="", content_html=""),
        make("2605.00006", 120, summary="R&D: 5 < 6 & 7 > 2", score=None),
        make("2605.00007", 45, published=datetime(2026, 5, 8, 13, 0, tzinfo=CEST)),
        make("2605.00008", 10, updated=T0 - timedelta(minutes=1),
             extras={"keywords": "not-a-list"}),
        make("2605.00009", 200, score=float("nan")),
    ]


def expected_order(entries: Sequence[Entry]) -> list[str]:
    unique = {(e.source, e.key): e for e in reversed(entries)}.values()
    ordered = sorted(unique, key=lambda e: (-e.sort_time.timestamp(), e.key))
    return [entry_id(e) for e in ordered]


def ids_in(fmt: str, data: bytes) -> list[str]:
    if fmt == "json":
        return [item["id"] for item in json.loads(data)["items"]]
    root = ET.fromstring(data)
    if fmt == "atom":
        return [e.findtext(A + "id", "") for e in root.iter(A + "entry")]
    return [item.findtext("guid", "") for item in root.iter("item")]


def atom_entries(data: bytes) -> list[ET.Element]:
    return list(ET.fromstring(data).iter(A + "entry"))


def child(node: ET.Element, tag: str) -> ET.Element:
    found = node.find(A + tag)
    assert found is not None, tag
    return found


def plain(node: ET.Element | None) -> str:
    assert node is not None
    text = node.text or ""
    return html.unescape(text) if node.get("type") == "html" else text


def hf_entries() -> list[Entry]:
    """The real 37 papers of the HF fixture, mapped here so render is tested on its own."""
    items = json.loads(HF_FIXTURE.read_text(encoding="utf-8"))
    return [
        Entry(
            source="hf-daily",
            key=item["paper"]["id"],
            title=item["paper"]["title"],
            link=f"https://huggingface.co/papers/{item['paper']['id']}",
            summary=item["paper"]["summary"],
            published=datetime.fromisoformat(item["paper"]["publishedAt"]),
            updated=datetime.fromisoformat(item["paper"]["submittedOnDailyAt"]),
            authors=tuple(a["name"] for a in item["paper"]["authors"]),
            score=item["paper"]["upvotes"],
            image=item.get("thumbnail"),
            extras={"keywords": item["paper"].get("ai_keywords", [])},
        )
        for item in items
    ]


def test_sample_feed_passes_the_atom_checker() -> None:
    # two samples share a time, and the undated one carries the feed's: shown as they are
    assert check_atom(render_atom(INFO, samples()), same_updated_ok=True) == []


@pytest.mark.skipif(not HF_FIXTURE.exists(), reason="HF fixture not present")
def test_real_hf_papers_give_valid_feeds_in_every_format() -> None:
    entries = hf_entries()
    out = render_all(INFO, entries)
    assert check_atom(out["atom"]) == []
    assert not feedparser.parse(out["rss"]).bozo
    for fmt, data in out.items():
        assert ids_in(fmt, data) == expected_order(entries)
    first = json.loads(out["json"])["items"][0]
    newest = max(e.sort_time for e in entries)
    assert first["date_modified"] == newest.isoformat()
    assert first["_feedbridge"]["key"] == next(e.key for e in entries if e.sort_time == newest)


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_entries_come_out_newest_first(fmt: str) -> None:
    entries = samples()
    data = RENDERERS[fmt](INFO, sorted(entries, key=lambda e: e.sort_time))
    assert ids_in(fmt, data) == expected_order(entries)
    assert ids_in(fmt, data)[:4] == [entry_id(entries[i]) for i in (0, 7, 1, 2)]


def test_same_input_in_any_order_gives_identical_bytes() -> None:
    timed: dict[object, Entry] = {}
    for e in samples():
        timed.setdefault(e.updated or e.published, e)  # one entry per distinct time
    entries = list(timed.values())
    first = render_all(INFO, entries)
    assert render_all(INFO, entries) == first
    rng = random.Random(7)
    for _ in range(5):
        shuffled = entries[:]
        rng.shuffle(shuffled)
        assert render_all(INFO, shuffled) == first


def test_entries_of_equal_time_keep_the_order_given() -> None:
    undated = [Entry(source="s", key=k, title=f"t{k}", link=f"https://x.test/{k}") for k in "cab"]
    for fmt, render in RENDERERS.items():
        assert ids_in(fmt, render(INFO, undated)) == [entry_id(e) for e in undated]


def test_render_all_equals_each_renderer() -> None:
    out = render_all(INFO, samples())
    assert set(out) == set(FEED_FORMATS) == {"atom", "rss", "json"}
    for fmt, render in RENDERERS.items():
        assert out[fmt] == render(INFO, samples())


def test_formats_table_gives_extension_and_content_type() -> None:
    assert FEED_FORMATS == {
        "atom": ("atom", "application/atom+xml; charset=utf-8"),
        "rss": ("rss", "application/rss+xml; charset=utf-8"),
        "json": ("json", "application/feed+json; charset=utf-8"),
    }


def test_ids_are_stable_uuid5_urns() -> None:
    entry = make("2605.05242")
    name = "feedbridge:hf-daily:2605.05242"
    assert entry_id(entry) == f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    assert entry_id(entry) == "urn:uuid:13bd3425-f84c-5bf4-b2fd-5c65be03a638"
    assert entry_id(replace(entry, title="changed", updated=T0)) == entry_id(entry)
    assert entry_id(entry.with_source("other")) != entry_id(entry)
    assert feed_id("hf-daily") == (
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'feedbridge:hf-daily')}"
    )
    assert feed_id("hf-daily") == "urn:uuid:88983910-d9c4-5fb7-9af3-428d063ba720"


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_every_format_uses_entry_id(fmt: str) -> None:
    entries = samples()
    assert sorted(ids_in(fmt, RENDERERS[fmt](INFO, entries))) == sorted(map(entry_id, entries))


def test_duplicate_source_and_key_keeps_the_first() -> None:
    first = make("2605.00001", 0, title="First title")
    dup = make("2605.00001", 0, title="Second title")
    root = ET.fromstring(render_atom(INFO, [first, dup, make("2605.00002", 5)]))
    titles = [e.findtext(A + "title") for e in root.iter(A + "entry")]
    assert titles == ["First title", "Paper 2605.00002"]
    assert check_atom(render_atom(INFO, [first, dup])) == []


def test_control_characters_are_stripped_and_the_feed_stays_valid() -> None:
    dirty = "Bad\x00\x01\x08\x0b\x0c\x1f\x7f\x85\ufffd\ufffe\uffff\ud800 chars"
    entry = make("k1", title=dirty, summary=dirty, content_html=f"<p>{dirty}</p>",
                 authors=(dirty,), link="https://example.com/\x00x", extras={"keywords": [dirty]})
    info = replace(INFO, title=dirty, description=dirty)
    out = render_all(info, [entry])
    assert check_atom(out["atom"]) == []
    title = atom_entries(out["atom"])[0].findtext(A + "title")
    assert title == "Bad chars"
    assert json.loads(out["json"])["items"][0]["title"] == "Bad chars"
    assert not feedparser.parse(out["rss"]).bozo


def test_a_5000_char_title_is_cut_with_an_ellipsis() -> None:
    out = render_all(INFO, [make("k1", title="word " * 1000)])
    assert check_atom(out["atom"]) == []
    title = atom_entries(out["atom"])[0].findtext(A + "title") or ""
    assert 200 < len(title) <= 300
    assert title.endswith("\u2026")
    assert json.loads(out["json"])["items"][0]["title"] == title


def test_a_huge_summary_is_truncated_but_content_keeps_it_all() -> None:
    summary = "sentence. " * 2000
    entry = atom_entries(render_atom(INFO, [make("k1", summary=summary)]))[0]
    cut = entry.findtext(A + "summary") or ""
    assert len(cut) <= 4000 and cut.endswith("\u2026")
    assert plain(entry.find(A + "content")) == html.escape(summary.strip(), quote=False)


def test_script_in_a_title_is_text_that_readers_show_as_written() -> None:
    title = "<script>alert(1)</script> & friends"
    data = render_atom(INFO, [make("k1", title=title)])
    assert check_atom(data) == []
    node = atom_entries(data)[0].find(A + "title")
    assert node is not None and len(node) == 0 and node.get("type") == "text"
    assert node.text == title
    parsed = feedparser.parse(data).entries[0]
    assert parsed.title_detail.type == "text/plain" and parsed.title == title


def test_author_names_and_links_that_would_warn_are_made_safe() -> None:
    entry = make("k1", authors=("Tom &amp; Jerry", "AT&T"), link="https://example.com/a b\"c")
    data = render_atom(INFO, [entry])
    assert check_atom(data) == []
    node = atom_entries(data)[0]
    names = [n.text for n in node.iter(A + "name")]
    assert names == ["Tom & amp; Jerry", "AT&T"]
    assert child(node, "link").get("href") == "https://example.com/a%20b%22c"
    assert json.loads(render_json(INFO, [entry]))["items"][0]["authors"][0]["name"] == (
        "Tom &amp; Jerry")


def test_titles_and_summaries_are_declared_text_even_where_they_look_like_html() -> None:
    entry = atom_entries(render_atom(INFO, [make("k1", title="5&6 in &amp; out",
                                                   summary="see </p> here")]))[0]
    for tag in ("title", "summary"):
        node = entry.find(A + tag)
        assert node is not None and node.get("type") == "text"
    assert child(entry, "title").text == "5&6 in &amp; out"
    assert child(entry, "summary").text == "see </p> here"


def test_naive_datetimes_are_treated_as_utc() -> None:
    naive = make("k1", published=datetime(2026, 5, 8, 12), updated=datetime(2026, 5, 8, 13))
    aware = make("k1", published=datetime(2026, 5, 8, 12, tzinfo=UTC),
                 updated=datetime(2026, 5, 8, 13, tzinfo=UTC))
    info = replace(INFO, updated=datetime(2026, 5, 9))
    aware_info = replace(INFO, updated=datetime(2026, 5, 9, tzinfo=UTC))
    assert render_all(info, [naive]) == render_all(aware_info, [aware])
    assert check_atom(render_atom(info, [naive, make("k2", published=datetime(2026, 5, 7))])) == []


def test_times_are_normalised_to_utc() -> None:
    entry = atom_entries(render_atom(INFO, [make("k1", published=datetime(2026, 5, 8, 14,
                                                                          tzinfo=CEST))]))[0]
    assert entry.findtext(A + "published") == "2026-05-08T12:00:00+00:00"


def test_feed_updated_comes_from_info_else_newest_entry_else_fixed_epoch() -> None:
    def feed_updated(info: FeedInfo, entries: list[Entry]) -> str | None:
        return ET.fromstring(render_atom(info, entries)).findtext(A + "updated")

    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert feed_updated(replace(INFO, updated=fixed), samples()) == fixed.isoformat()
    assert feed_updated(INFO, samples()) == (T0 + timedelta(minutes=5)).isoformat()
    assert feed_updated(INFO, [make("k", None)]) == FALLBACK_TIME.isoformat()
    assert feed_updated(INFO, []) == FALLBACK_TIME.isoformat()


def test_entry_updated_falls_back_to_published_then_feed_updated() -> None:
    fixed = datetime(2026, 1, 2, tzinfo=UTC)
    entries = atom_entries(render_atom(replace(INFO, updated=fixed),
                                       [make("dated", 60), make("undated", None)]))
    assert entries[0].findtext(A + "updated") == (T0 - timedelta(minutes=60)).isoformat()
    assert entries[0].findtext(A + "published") == (T0 - timedelta(minutes=60)).isoformat()
    assert entries[1].findtext(A + "updated") == fixed.isoformat()
    assert entries[1].find(A + "published") is None


def test_entries_sharing_a_time_keep_it_exactly_and_keep_the_given_order() -> None:
    day = datetime(2026, 5, 7, tzinfo=UTC)  # a page that dates its cards by the day
    older = make("old", published=day - timedelta(days=1))
    entries = [make(f"k{i}", published=day) for i in range(5)] + [older]
    data = render_atom(INFO, entries)
    assert check_atom(data, same_updated_ok=True) == []
    rows = [(e.findtext(A + "published"), e.findtext(A + "updated")) for e in atom_entries(data)]
    assert rows[:5] == [("2026-05-07T00:00:00+00:00", "2026-05-07T00:00:00+00:00")] * 5
    assert ids_in("atom", data) == [entry_id(e) for e in entries]
    parsed = feedparser.parse(render_rss(INFO, entries)).entries
    assert [e.published_parsed[:3] for e in parsed[:5]] == [(2026, 5, 7)] * 5


def test_updated_never_precedes_published() -> None:
    backwards = make("k1", published=T0, updated=T0 - timedelta(days=1))
    entry = atom_entries(render_atom(INFO, [backwards]))[0]
    assert entry.findtext(A + "published") == T0.isoformat()
    assert entry.findtext(A + "updated") == T0.isoformat()


def test_many_entries_with_one_timestamp_render_in_linear_time() -> None:
    entries = [Entry(source="s", key=f"k{i:05d}", title="t", link="") for i in range(20_000)]
    start = time.perf_counter()
    items = json.loads(render_json(INFO, entries))["items"]
    assert time.perf_counter() - start < 5
    assert [item["_feedbridge"]["key"] for item in items] == [e.key for e in entries]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_reads_the_feed_back(fmt: str) -> None:
    entries = [e for e in samples() if e.published and "&" not in e.summary]
    parsed = feedparser.parse(RENDERERS[fmt](INFO, entries))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == {"atom": "atom10", "rss": "rss20"}[fmt]
    assert parsed.feed.title == INFO.title
    assert parsed.feed.link == INFO.link
    by_id = {e.id: e for e in parsed.entries}
    assert list(by_id) == expected_order(entries)
    for entry in entries:
        got = by_id[entry_id(entry)]
        assert got.title == entry.title
        assert got.link == entry.link
        assert [a.name for a in got.get("authors", [])] == list(entry.authors)
        assert entry.published is not None
        assert got.published_parsed[:6] == entry.published.astimezone(UTC).timetuple()[:6]
        if fmt == "atom":
            assert calendar.timegm(got.updated_parsed) == entry.sort_time.timestamp()
        tags = list(entry.extras.get("keywords", [])) if isinstance(
            entry.extras.get("keywords"), list) else []
        assert [t.term for t in got.get("tags", [])] == tags


def test_rss_has_self_link_guids_and_creators() -> None:
    data = render_rss(INFO, samples())
    channel = ET.fromstring(data).find("channel")
    assert channel is not None
    assert channel.findtext("description") == INFO.description
    self_link = channel.find(A + "link")
    assert self_link is not None
    assert self_link.attrib == {"href": "http://localhost:8080/feeds/hf-daily.rss", "rel": "self",
                                "type": "application/rss+xml"}
    assert channel.findtext("lastBuildDate") == "Fri, 08 May 2026 12:05:00 +0000"
    item = channel.find("item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert guid.text == entry_id(samples()[0])
    assert item.findtext("description") == "<p>Rich <b>x</b></p>"
    assert [c.text for c in item.iter(DC + "creator")] == ["Ada Lovelace", "Alan Turing"]
    assert [c.text for c in item.iter("category")] == ["diffusion", "agents"]


def test_rss_pub_date_is_published_else_updated_else_absent() -> None:
    entries = [make("a", 0), make("b", None, updated=T0 - timedelta(hours=1)), make("c", None)]
    items = {i.findtext("guid"): i for i in ET.fromstring(render_rss(INFO, entries)).iter("item")}
    dates = [items[entry_id(e)].findtext("pubDate") for e in entries]
    assert dates == ["Fri, 08 May 2026 12:00:00 +0000", "Fri, 08 May 2026 11:00:00 +0000", None]


def test_json_feed_has_the_required_1_1_keys() -> None:
    doc = json.loads(render_json(INFO, samples()))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == INFO.title
    assert doc["home_page_url"] == INFO.link
    assert doc["feed_url"] == "http://localhost:8080/feeds/hf-daily.json"
    for item in doc["items"]:
        assert isinstance(item["id"], str) and item["id"].startswith("urn:uuid:")
        assert isinstance(item["content_html"], str)  # 1.1: content_html or content_text
        for key in ("date_published", "date_modified"):
            if key in item:
                assert datetime.fromisoformat(item[key]).tzinfo is not None
        assert set(item["_feedbridge"]) == {"score", "key"}
    first = doc["items"][0]
    assert first["url"] == "https://huggingface.co/papers/2605.00001"
    assert first["authors"] == [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}]
    assert first["image"] == "https://cdn.example/a.png"
    assert first["tags"] == ["diffusion", "agents"]
    assert first["_feedbridge"] == {"score": 3.0, "key": "2605.00001"}
    nan_item = next(i for i in doc["items"] if i["_feedbridge"]["key"] == "2605.00009")
    assert nan_item["_feedbridge"]["score"] is None  # NaN is not JSON


def test_json_is_compact_utf8_without_ascii_escapes() -> None:
    data = render_json(INFO, [make("k1", title="Über „diffusion“ ✓")])
    assert "Über „diffusion“ ✓".encode() in data
    assert b"\n" not in data


def test_atom_entry_fields() -> None:
    data = render_atom(INFO, samples())
    root = ET.fromstring(data)
    assert root.findtext(A + "id") == feed_id("hf-daily")
    assert root.findtext(A + "generator") == "feedbridge"
    assert root.findtext(A + "author/" + A + "name") == "huggingface.co"  # the site's host
    links = {ln.get("rel"): ln.get("href") for ln in root.findall(A + "link")}
    assert links == {"self": INFO.self_url, "alternate": INFO.link}
    first = atom_entries(data)[0]
    link = first.find(A + "link")
    assert link is not None and link.attrib == {
        "href": "https://huggingface.co/papers/2605.00001", "rel": "alternate"}
    content = first.find(A + "content")
    assert content is not None and content.get("type") == "html"
    assert content.text == "<p>Rich <b>x</b></p>"
    summary = first.find(A + "summary")
    assert summary is not None and summary.get("type") == "text"
    assert [c.get("term") for c in first.findall(A + "category")] == ["diffusion", "agents"]
    no_text = next(e for e in atom_entries(data) if e.findtext(A + "id") == entry_id(samples()[4]))
    assert no_text.find(A + "summary") is None
    assert no_text.find(A + "content") is None  # not the title a second time


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_an_empty_entry_list_gives_a_valid_feed(fmt: str) -> None:
    data = RENDERERS[fmt](INFO, [])
    assert ids_in(fmt, data) == []
    if fmt == "atom":
        assert check_atom(data) == []
    elif fmt == "rss":
        assert not feedparser.parse(data).bozo
    else:
        assert json.loads(data)["items"] == []


def test_derived_urls_when_self_url_is_not_an_atom_path() -> None:
    info = replace(INFO, self_url="", link="")
    doc = json.loads(render_json(info, []))
    assert doc["feed_url"] == "http://localhost:8080/feeds/hf-daily.json"
    assert doc["home_page_url"] == "http://localhost:8080"
    root = ET.fromstring(render_atom(info, []))
    assert [ln.get("href") for ln in root.findall(A + "link")] == [
        "http://localhost:8080/feeds/hf-daily.atom"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(), summary=st.text(), author=st.text(), keyword=st.text(), path=st.text())
def test_any_text_gives_a_valid_atom_feed(title: str, summary: str, author: str,
                                          keyword: str, path: str) -> None:
    entry = make("k1", title=title, summary=summary, authors=(author,),
                 link=f"https://example.com/{path}", extras={"keywords": [keyword]})
    out = render_all(replace(INFO, title=title, description=summary), [entry])
    assert check_atom(out["atom"]) == []
    assert not feedparser.parse(out["rss"]).bozo
    assert json.loads(out["json"])["items"][0]["id"] == entry_id(entry)


# --- the checker itself must be able to fail -------------------------------------------------

VALID = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>urn:uuid:6f2a6a5c-4e0b-5b53-9d1c-0d6a3b4b8f10</id>
  <title>Feed</title>
  <updated>2026-05-08T12:00:00Z</updated>
  <author><name>feedbridge</name></author>
  <link rel="self" type="application/atom+xml" href="http://localhost:8080/feeds/x.atom"/>
  <link rel="alternate" href="https://example.com/"/>
  <entry>
    <id>urn:uuid:1b4e28ba-2fa1-51d2-883f-0016d3cca427</id>
    <title>One</title>
    <updated>2026-05-08T11:00:00+00:00</updated>
    <link href="https://example.com/1"/>
    <content type="html">&lt;p&gt;one&lt;/p&gt;</content>
  </entry>
  <entry>
    <id>urn:uuid:2b4e28ba-2fa1-51d2-883f-0016d3cca427</id>
    <title>Two</title>
    <updated>2026-05-08T10:00:00+00:00</updated>
    <summary>two</summary>
    <link rel="alternate" href="https://example.com/2"/>
  </entry>
</feed>
"""

BROKEN = {
    "not well-formed": ("<title>Feed</title>", "<title>Feed</titel>", "not well-formed"),
    "not atom namespace": ('xmlns="http://www.w3.org/2005/Atom"', 'xmlns="http://purl.org/atom"',
                           "not atom:feed"),
    "feed missing id": ("<id>urn:uuid:6f2a6a5c-4e0b-5b53-9d1c-0d6a3b4b8f10</id>", "",
                        "feed: 0 atom:id"),
    "entry missing updated": ("<updated>2026-05-08T11:00:00+00:00</updated>", "",
                              "entry[0]: 0 atom:updated"),
    "author name with markup": ("<name>feedbridge</name>", "<name>A &amp;amp; B</name>",
                                "author name contains HTML"),
    "href with a space": ('href="https://example.com/1"', 'href="https://example.com/a b"',
                          "is not an IRI reference"),
    "two titles": ("<title>One</title>", "<title>One</title><title>Uno</title>",
                   "entry[0]: 2 atom:title"),
    "date without timezone": ("2026-05-08T11:00:00+00:00", "2026-05-08T11:00:00",
                              "not an RFC 3339"),
    "impossible date": ("2026-05-08T11:00:00+00:00", "2026-02-30T11:00:00+00:00",
                        "not a real date"),
    "implausible date": ("2026-05-08T11:00:00+00:00", "1970-01-01T00:00:00+00:00",
                         "implausible"),
    "no author anywhere": ("<author><name>feedbridge</name></author>", "",
                           "entry[0]: no author"),
    "author without name": ("<name>feedbridge</name>", "<email>a@b.c</email>",
                            "author without exactly one non-empty name"),
    "relative self link": ('href="http://localhost:8080/feeds/x.atom"', 'href="/feeds/x.atom"',
                           "self link href '/feeds/x.atom' is not absolute"),
    "self link of wrong type": ('type="application/atom+xml"', 'type="text/html"',
                                "not application/atom+xml"),
    "no self link": ('<link rel="self" type="application/atom+xml" '
                     'href="http://localhost:8080/feeds/x.atom"/>', "", "0 link rel=self"),
    "duplicate ids": ("2b4e28ba", "1b4e28ba", "entry[1]: duplicate id"),
    "duplicate updated": ("2026-05-08T10:00:00+00:00", "2026-05-08T11:00:00+00:00",
                          "entry[1]: duplicate updated"),
    "relative id": ("urn:uuid:1b4e28ba-2fa1-51d2-883f-0016d3cca427", "/entries/1",
                    "is not an absolute IRI"),
    "malformed uuid urn": ("urn:uuid:1b4e28ba-2fa1-51d2-883f-0016d3cca427", "urn:uuid:nope",
                           "is not an absolute IRI"),
    "two alternates": ('<link rel="alternate" href="https://example.com/"/>',
                       '<link rel="alternate" href="https://example.com/"/>'
                       '<link href="https://example.org/"/>', "two rel=alternate"),
    "no content nor alternate": ('<link rel="alternate" href="https://example.com/2"/>', "",
                                 "entry[1]: neither content nor a rel=alternate link"),
    "raw markup in html content": ("&lt;p&gt;one&lt;/p&gt;", "<p>one</p>",
                                   "raw child elements"),
    "script in html content": ("&lt;p&gt;one&lt;/p&gt;", "&lt;script&gt;x&lt;/script&gt;",
                               "<script> element"),
    "blank title": ("<title>One</title>", "<title> </title>", "entry[0] title: blank"),
    "C1 control character": ("<title>One</title>", "<title>One \u0085</title>",
                             "BadCharacters"),
    "unknown atom element": ("<summary>two</summary>", "<summary>two</summary><tagline/>",
                             "undefined element atom:tagline"),
    "bad text type": ("<summary>two</summary>", '<summary type="markdown">two</summary>',
                      "is not text, html or xhtml"),
    "content src without summary": ('<content type="html">&lt;p&gt;one&lt;/p&gt;</content>',
                                    '<content type="text/html" src="https://example.com/1"/>',
                                    "content has src but there is no summary"),
    "category without term": ("<summary>two</summary>", "<summary>two</summary><category/>",
                              "category without a term"),
}


def test_the_checker_accepts_the_valid_reference_document() -> None:
    assert check_atom(VALID.encode()) == []


WARNED = {  # W3C warnings that ask for no action where feedbridge draws them
    "no content nor summary": ("<summary>two</summary>", "", "neither content nor summary"),
    "undeclared html in text": ("<title>One</title>", "<title>One &amp;lt;b&amp;gt;</title>",
                                "undeclared HTML"),
}


@pytest.mark.parametrize(("old", "new", "warning"), WARNED.values(), ids=WARNED.keys())
def test_the_checker_notes_the_warnings_that_ask_for_no_action(
    old: str, new: str, warning: str
) -> None:
    warnings: list[str] = []
    assert check_atom(VALID.replace(old, new, 1).encode(), warnings=warnings) == []
    assert any(warning in w for w in warnings), warnings


@pytest.mark.parametrize(("old", "new", "problem"), BROKEN.values(), ids=BROKEN.keys())
def test_the_checker_catches_broken_atom(old: str, new: str, problem: str) -> None:
    assert old in VALID
    found = check_atom(VALID.replace(old, new, 1).encode())
    assert any(problem in p for p in found), found


_NAME_PARTS = st.sampled_from(["Ann", " ", "  ", "|", "é", "\t", "\x85", "\ufffd", "", "x" * 150])


@settings(max_examples=300)
@given(st.lists(st.lists(_NAME_PARTS, max_size=4).map("".join), max_size=4))
@example(["Ann", "x" * 301])
@example(["Ann", ""])
@example(["Ann ", "Bob"])
@example(["Ann", "B  b"])
def test_fast_text_paths_clean_as_the_slow_ones(names: list[str]) -> None:
    from feedbridge.feeds import items

    expected = tuple(a for a in (items.line(n, items.TITLE_MAX) for n in names) if a)
    assert items._names(tuple(names)) == expected
    for text in names:
        assert items.clean(text) == items._ILLEGAL.sub("", text).strip()
    assert items._urn("feedbridge:s:" + "".join(names)) == (
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'feedbridge:s:' + ''.join(names))}"
    )
