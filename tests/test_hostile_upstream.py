"""A hostile upstream (issue 19): what a source's answers can no longer do to feedbridge.

Bodies that break parsers, link fields that carry scripts, Retry-After values that would
silence a source for ever. Redirects and addresses are in test_address_policy.py.
"""

from __future__ import annotations

import json
import logging

import feedparser
import pytest

from feedbridge.config import HfPapersConfig
from feedbridge.core.models import FeedInfo
from feedbridge.feeds.render import render_all
from feedbridge.fetch.http import MAX_RETRY_AFTER, retry_after_seconds
from feedbridge.sources.feed import FeedSource
from feedbridge.sources.hf_papers import HfPapersSource
from tests.test_sources_common import config, page

INFO = FeedInfo(
    name="src",
    title="src",
    link="https://ex.com/",
    self_url="http://localhost:8080/feeds/src.atom",
    base_url="http://localhost:8080",
)

# --- item 15: a reference to no character costs one character, not the feed ------------------

ATOM_WITH = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Notes</title><id>tag:n,2026:feed</id>
<updated>2026-05-07T10:00:00Z</updated>
<entry><id>tag:n,2026:1</id><title>Broken {ref} here</title>
<link href="https://n.example/1"/><updated>2026-05-07T10:00:00Z</updated></entry>
<entry><id>tag:n,2026:2</id><title>Fine</title>
<link href="https://n.example/2"/><updated>2026-05-06T10:00:00Z</updated></entry>
<entry><id>tag:n,2026:3</id><title><![CDATA[Kept as written: &#xD800;]]></title>
<link href="https://n.example/3"/><updated>2026-05-05T10:00:00Z</updated></entry>
</feed>"""


@pytest.mark.parametrize(
    "ref", ["&#xD800;", "&#xdfff;", "&#55296;", "&#0;", "&#x110000;", "&#" + "9" * 5000 + ";"]
)
def test_a_reference_to_no_character_is_replaced_and_the_rest_of_the_feed_kept(ref: str) -> None:
    body = ATOM_WITH.format(ref=ref).encode()
    entries = FeedSource(config("feed")).extract(page(body, "application/atom+xml"))
    assert [e.title for e in entries] == [
        "Broken \ufffd here",
        "Fine",
        "Kept as written: &#xD800;",
    ]
    out = render_all(INFO, entries)  # what readers get is valid and readable
    parsed = feedparser.parse(out["atom"])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title == "Broken here"  # feeds drop U+FFFD (validators warn)
    assert json.loads(out["json"])["items"][0]["title"] == "Broken here"


def test_references_to_real_characters_are_left_alone() -> None:
    body = ATOM_WITH.format(ref="&#x1F600; &#233; &amp; R&D").encode()
    entries = FeedSource(config("feed")).extract(page(body, "application/atom+xml"))
    assert entries[0].title == "Broken \U0001f600 é & R&D here"


# --- item 12: Retry-After is capped, and says so ----------------------------------------------


@pytest.mark.parametrize(
    "value", ["99999999999", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"]
)
def test_a_retry_after_past_a_day_is_capped_at_a_day_and_logged(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="feedbridge.http"):
        seconds = retry_after_seconds({"retry-after": value}, now=0.0)
    assert seconds == MAX_RETRY_AFTER == 86400.0
    capped = [r for r in caplog.records if r.getMessage() == "retry-after capped"]
    assert len(capped) == 1 and capped[0].seconds == 86400  # type: ignore[attr-defined]
    json.dumps(seconds, allow_nan=False)  # storable: a finite number


def test_rate_limit_reset_headers_are_capped_too() -> None:
    assert retry_after_seconds({"ratelimit-reset": "9" * 400}) == MAX_RETRY_AFTER
    assert retry_after_seconds({"ratelimit": "limit=10, remaining=0, reset=" + "9" * 30}) == (
        MAX_RETRY_AFTER
    )
    assert retry_after_seconds({"retry-after": "120"}) == 120.0  # a sane value stays as sent


# --- item 5: link fields of Hugging Face papers are http(s) only -------------------------------

HOSTILE_LINKS = ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                 "vbscript:msgbox(1)", " JavaScript:alert(1)"]


@pytest.mark.parametrize("link", HOSTILE_LINKS)
def test_hf_link_fields_that_are_not_http_urls_never_reach_the_feed(link: str) -> None:
    item = {
        "paper": {
            "id": "2605.00001",
            "title": "A paper",
            "summary": "Abstract.",
            "githubRepo": link,
            "projectPage": link,
        },
        "thumbnail": link,
    }
    source = HfPapersSource(HfPapersConfig(name="hf"))
    entries = source.extract(page(json.dumps([item]).encode(), "application/json",
                                  "https://huggingface.co/api/daily_papers"))
    entry = entries[0]
    assert entry.image is None
    assert entry.extras["github"] is None and entry.extras["project_page"] is None
    assert "script" not in entry.content_html.lower() and "data:" not in entry.content_html
    out = render_all(INFO, entries)
    assert "image" not in json.loads(out["json"])["items"][0]
    for body in out.values():
        assert b"javascript:" not in body.lower() and b"vbscript:" not in body.lower()
        assert b"data:text" not in body


def test_hf_link_fields_that_are_http_urls_are_kept() -> None:
    item = {
        "paper": {"id": "2605.00002", "title": "B", "githubRepo": "https://github.com/a/b",
                  "projectPage": "http://b.example/"},
        "thumbnail": "https://cdn.example/b.png",
    }
    source = HfPapersSource(HfPapersConfig(name="hf"))
    entry = source.extract(page(json.dumps([item]).encode(), "application/json",
                                "https://huggingface.co/api/daily_papers"))[0]
    assert entry.image == "https://cdn.example/b.png"
    assert entry.extras["github"] == "https://github.com/a/b"
    assert '<a href="http://b.example/">Project page</a>' in entry.content_html
