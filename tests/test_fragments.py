"""feeds/fragments.py: incremental render equals feedgen full render, change after change."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.board import FeedBoard
from feedbridge.feeds.fragments import FragmentCache
from feedbridge.feeds.items import FEED_FORMATS
from feedbridge.feeds.render import render_all
from tests.atomcheck import check_atom
from tests.test_render import INFO, hf_entries, samples

T0 = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)
# Text that trips escaping: markup, entities, CR/LF/tab, quotes, controls, non-BMP, lone surrogate.
ALPHABET = st.sampled_from(
    [*"ab <>&;'\"\r\n\t\x00\x0b\x7f\x85\ufffd", "&amp;", "</b>", "é", "日", "😀", "\ud800", "  "]
)
TEXT = st.lists(ALPHABET, max_size=12).map("".join)
MOMENT = st.one_of(
    st.none(),
    st.sampled_from([T0, T0 - timedelta(minutes=5)]),  # shared times: the tie-breaking path
    st.datetimes(
        min_value=datetime(1999, 1, 1),
        max_value=datetime(2030, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), UTC]),
    ),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),  # naive
)


@st.composite
def entries(draw: Any, keys: list[str]) -> Entry:
    return Entry(
        source=draw(st.sampled_from(["s", "t"])),
        key=draw(st.sampled_from(keys)),
        title=draw(TEXT),
        link=draw(st.sampled_from(["", "https://example.com/a?b=1&c=2", "/rel ative", 'x"y'])),
        summary=draw(TEXT),
        content_html=draw(st.sampled_from(["", "<p>hi &amp; <b>bye</b></p>", "a\r\nb"])),
        published=draw(MOMENT),
        updated=draw(MOMENT),
        authors=tuple(draw(st.lists(TEXT, max_size=2))),
        score=draw(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))),
        image=draw(st.one_of(st.none(), st.just("https://cdn.example/i m.png"))),
        extras={"keywords": draw(st.lists(TEXT, max_size=2))},
    )


INFOS = st.builds(
    FeedInfo,
    name=st.sampled_from(["feed", "a b"]),
    title=TEXT,
    link=st.sampled_from(["", "https://example.com/"]),
    self_url=st.sampled_from(["", "http://localhost:8080/feeds/feed.atom"]),
    base_url=st.just("http://localhost:8080"),
    description=TEXT,
    updated=st.one_of(st.none(), st.just(T0)),
)


@st.composite
def histories(draw: Any) -> list[list[Entry]]:
    """Successive feeds: each step keeps some entries as they were, drops some, adds or edits."""
    keys = ["k1", "k2", "k3", "k<&>", "k5"]
    pool = draw(st.lists(entries(keys), min_size=1, max_size=6))
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        kept = draw(st.lists(st.sampled_from(pool), max_size=6))
        fresh = draw(st.lists(entries(keys), max_size=3))
        steps.append(draw(st.permutations(kept + fresh)))
        pool = pool + fresh
    return steps


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(info=INFOS, history=histories(), order=st.permutations(list(FEED_FORMATS)))
def test_incremental_render_equals_the_full_feedgen_render(
    info: FeedInfo, history: list[list[Entry]], order: list[str]
) -> None:
    cache = FragmentCache()
    for step, feed in enumerate(history):
        expected = render_all(info, feed)
        for fmt in order[: 1 + step % 3]:  # formats come and go between changes, as requests do
            assert cache.render(info, feed, fmt) == expected[fmt], (step, fmt)


SAMPLES = samples()


@pytest.mark.parametrize("entries", [SAMPLES, hf_entries(), []], ids=["samples", "hf", "empty"])
def test_incremental_feeds_are_valid_and_read_back(entries: list[Entry]) -> None:
    cache = FragmentCache()
    atom = cache.render(INFO, entries, "atom")
    assert check_atom(atom, same_updated_ok=entries is SAMPLES) == []  # samples tie on purpose
    count = len({(e.source, e.key) for e in entries})
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(cache.render(INFO, entries, fmt))
        assert not parsed.bozo, (fmt, parsed.get("bozo_exception"))
        assert len(parsed.entries) == count
    assert len(json.loads(cache.render(INFO, entries, "json"))["items"]) == count


def test_an_unchanged_entry_is_not_written_again() -> None:
    cache = FragmentCache()
    papers = hf_entries()
    first = cache.render(INFO, papers, "atom")
    kept = {id(part) for part in cache._rows[(papers[1].source, papers[1].key)].parts.values()}
    edited = [replace(papers[0], title="Edited"), *papers[1:]]
    second = cache.render(INFO, edited, "atom")
    assert second != first and b'<title type="text">Edited</title>' in second
    row = cache._rows[(papers[1].source, papers[1].key)]
    assert {id(part) for part in row.parts.values()} == kept  # same bytes object: not re-rendered
    assert second == render_all(INFO, edited)["atom"]


def test_board_renders_a_format_on_its_first_request_and_keeps_its_etag() -> None:
    board = FeedBoard()
    papers = hf_entries()
    feed = board.publish(INFO, papers, 1_778_000_000)
    assert feed._formats == {}  # publishing renders nothing
    atom = feed.rendered("atom")
    assert list(feed._formats) == ["atom"]
    again = board.publish(INFO, list(papers), 1_778_000_000).rendered("atom")
    assert again.etag == atom.etag and again.body() == atom.body()  # byte-stable ETag


@given(st.one_of(TEXT, st.text(max_size=40)))
def test_fast_clean_matches_the_regex(text: str) -> None:
    from feedbridge.feeds import items

    assert items.clean(text) == items._ILLEGAL.sub("", text).strip()
