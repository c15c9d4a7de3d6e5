"""Any page as a source: the registry contract, `preview`, and an html source end to end."""

from __future__ import annotations

import json
import random
from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from feedbridge.config import _KINDS, adhoc_source_config
from feedbridge.core.errors import ConfigError
from feedbridge.core.models import Page
from feedbridge.sources import KINDS, build_source
from tests.atomcheck import check_atom
from tests.conftest import Receiver, hf_items, run_cli

DATA = Path(__file__).parent / "data" / "sources"

# one valid config and one page per kind, from the golden data
SAMPLES = {
    "html": "html/blog_index.html",
    "feed": "feed/rss2_guids_enclosures.xml",
    "json": "json/nested_api.json",
}
BAD = {
    "hf_papers": ({"listing": "search"}, "query"),
    "html": ({"url": "https://x.test/", "item": "div[["}, "item"),
    "feed": ({"url": "not a url"}, "url"),
    "json": ({"url": "https://x.test/", "items": "data.[["}, "items"),
    "hf_repos": ({"type": "space", "score": "downloads"}, "score"),
    "hf_collection": ({"collection": "Qwen/qwen3"}, "collection"),
}
HUB = {  # kind: (extra config, fixture, API path)
    "hf_repos": ({}, "api_models.json", "/api/models"),
    "hf_collection": (
        {"collection": "Qwen/qwen35-6821a0c3f1e2d3b4a5968778"},
        "api_collection.json",
        "/api/collections/Qwen/qwen35-6821a0c3f1e2d3b4a5968778",
    ),
}


def sample(kind: str) -> tuple[dict[str, object], Page]:
    if kind == "hf_papers":
        config = {"name": "hf", "kind": "hf_papers"}
        body = json.dumps(hf_items()).encode()
        return config, Page("https://huggingface.co/api/daily_papers", 200, body)
    if kind in HUB:
        extra, fixture, path = HUB[kind]
        body = (Path(__file__).parent / "data" / "hf" / fixture).read_bytes()
        url = f"https://huggingface.co{path}"
        return {"name": "hub", "kind": kind, **extra}, Page(url, 200, body)
    path = DATA / SAMPLES[kind]
    config = json.loads(path.with_name(path.name.rsplit(".", 1)[0] + ".config.json").read_text())
    info = config.pop("page", {})
    return config, Page(
        info.get("url", config["url"]), 200, path.read_bytes(), encoding=info.get("encoding")
    )


def test_every_kind_has_a_config_model_and_a_source_class() -> None:
    assert set(KINDS) == set(_KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bad_config_is_rejected_naming_the_key(kind: str) -> None:
    table, key = BAD[kind]
    with pytest.raises(ConfigError) as caught:
        build_source(adhoc_source_config({"name": "s", "kind": kind, **table}))
    assert any(f"sources[0].{key}" in p or f".{key}" in p for p in caught.value.problems), (
        caught.value.problems
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_keys_are_stable_and_independent_of_position(kind: str) -> None:
    config, page = sample(kind)
    source = build_source(adhoc_source_config(config))
    first = source.extract(page)
    assert first, "the sample page yields entries"
    assert [e.key for e in source.extract(page)] == [e.key for e in first]
    assert len({e.key for e in first}) == len(first)
    assert all(e.source == config["name"] for e in first)
    if kind == "hf_papers":  # reorder the items: each key stays with its title
        items = hf_items()
        random.Random(7).shuffle(items)
        moved = source.extract(Page(page.url, 200, json.dumps(items).encode()))
        assert {e.key: e.title for e in moved} == {e.key: e.title for e in first}


BLOG = """<!doctype html><html><head><title>Lab notes</title></head><body>
<article><h2><a href="/posts/agents-that-plan">Agents that plan</a></h2>
<time datetime="2026-05-07T09:00:00Z">May 7</time><p class="excerpt">Planning with tools.</p>
<span class="votes">42</span></article>
<article><h2><a href="/posts/diffusion-notes">Diffusion notes</a></h2>
<time datetime="2026-05-06T09:00:00Z">May 6</time><p class="excerpt">Score matching.</p>
<span class="votes">7</span></article>
<article><h2><a href="posts/no-date">Undated post</a></h2><p class="excerpt">Later.</p></article>
</body></html>"""


def test_preview_ad_hoc_shows_entries_and_what_matched_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/blog/").respond_with_data(BLOG, content_type="text/html")
    result = run_cli(
        "preview",
        "--url",
        httpserver.url_for("/blog/"),
        "--item",
        "article",
        "--title",
        "h2",
        "--link",
        "h2 a@href",
        "--date",
        "time@datetime",
        "--author",
        ".byline",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Agents that plan" in out and "2026-05-07 09:00" in out
    assert httpserver.url_for("/blog/posts/no-date") in out
    assert "3 entries from 3 items" in out
    assert "matched nothing: author" in out
    assert not (tmp_path / "data").exists(), "preview must not create a store"


def test_preview_with_a_broken_selector_names_the_option(tmp_path: Path) -> None:
    result = run_cli("preview", "--url", "http://127.0.0.1:9/", "--item", "article[[", cwd=tmp_path)
    assert result.returncode == 2
    assert "item" in result.stderr


def test_html_source_end_to_end_into_a_valid_feed_and_a_notification(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    httpserver.expect_request("/blog/").respond_with_data(BLOG, content_type="text/html")
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[output]
dir = "public"
[[sources]]
name = "lab-notes"
kind = "html"
url = "{httpserver.url_for("/blog/")}"
item = "article"
title = "h2"
link = "h2 a@href"
summary = "p.excerpt"
date = "time@datetime"
score = ".votes"
first_run = "notify"
[[targets]]
name = "hook"
url = "{receiver.url()}"
include = ["agents", "diffusion"]
min_score = 10
""")
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    atom = (tmp_path / "public" / "lab-notes.atom").read_bytes()
    # the undated post carries the feed's time, which is the newest post's
    assert check_atom(atom, same_updated_ok=True) == []
    feed = feedparser.parse(atom)
    assert feed.entries[0].published == feed.entries[0].updated == "2026-05-07T09:00:00+00:00"
    assert [e.title for e in feed.entries] == [
        "Agents that plan",
        "Diffusion notes",
        "Undated post",
    ]
    assert feed.entries[0].link == httpserver.url_for("/posts/agents-that-plan")
    assert receiver.titles == ["Agents that plan"]
    assert "Planning with tools." in receiver.received[0]["message"]
    run_cli("--config", str(config), "once", cwd=tmp_path)
    assert len(receiver.received) == 1


def test_check_reports_a_bad_css_selector_with_its_key_path(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nname = "hf"\nkind = "hf_papers"\n'
        '[[sources]]\nname = "blog"\nkind = "html"\nurl = "https://x.test/"\n'
        'item = "article"\ntitle = "h2[["\n'
    )
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "sources[1].title: invalid CSS selector" in result.stderr


CARDS = "".join(
    f'<div class="card"><a href="/c/{n}">Card {n}</a><time datetime="2026-05-07">May 7</time></div>'
    for n in range(1, 5)
) + '<div class="card"><a href="/c/old">Old card</a><time datetime="2026-05-06">May 6</time></div>'


def test_cards_dated_by_the_day_keep_that_day_and_the_page_order_in_every_reader() -> None:
    from feedbridge.core.models import FeedInfo
    from feedbridge.feeds.render import render_all

    source = build_source(
        adhoc_source_config(
            {"name": "cards", "kind": "html", "url": "https://cards.example/",
             "item": "div.card", "title": "a", "link": "a@href", "date": "time@datetime"}
        )
    )
    entries = source.extract(
        Page(url="https://cards.example/", status=200, body=CARDS.encode(),
             headers={"content-type": "text/html; charset=utf-8"})
    )
    info = FeedInfo("cards", "Cards", "https://cards.example/",
                    "http://localhost:8080/feeds/cards.atom", "http://localhost:8080")
    out = render_all(info, entries)
    assert check_atom(out["atom"], same_updated_ok=True) == []  # four cards share a day
    atom = feedparser.parse(out["atom"]).entries
    assert [e.title for e in atom] == ["Card 1", "Card 2", "Card 3", "Card 4", "Old card"]
    # rss2email's Date header comes from `updated`: the card's own day, not the day before
    assert {(e.published, e.updated) for e in atom[:4]} == {
        ("2026-05-07T00:00:00+00:00", "2026-05-07T00:00:00+00:00")
    }
    rss = feedparser.parse(out["rss"]).entries
    assert [e.published for e in rss] == ["Thu, 07 May 2026 00:00:00 +0000"] * 4 + [
        "Wed, 06 May 2026 00:00:00 +0000"
    ]
    items = json.loads(out["json"])["items"]
    assert [i["date_modified"] for i in items[:4]] == ["2026-05-07T00:00:00+00:00"] * 4
