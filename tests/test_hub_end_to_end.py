"""The Hub kinds end to end: `feedbridge once` (a new process each time, so each run is a
restart) against the fake Hub and a local webhook; the feeds read back by real readers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from tests.atomcheck import check_atom
from tests.conftest import HfApi, Receiver, run_cli
from tests.fakehub import FakeHub
from tests.test_readers import newsboat_reload
from tests.tools import require_tool

MIN_SCORE = 100
COLLECTION = "Qwen/qwen35-6821a0c3f1e2d3b4a5968778"
TABLES = {
    "hf_repos": 'kind = "hf_repos"\nauthor = ["deepseek-ai", "Qwen"]',
    "hf_collection": f'kind = "hf_collection"\ncollection = "{COLLECTION}"',
}
NEW_MODEL = {
    "_id": "6821b0c3f1e2d3b4a5968001",
    "id": "Qwen/Qwen3.5-72B-Instruct",
    "author": "Qwen",
    "createdAt": "2026-05-08T09:00:00.000Z",
    "lastModified": "2026-05-08T09:30:00.000Z",
    "likes": 150,
    "downloads": 10,
    "trendingScore": 20,
    "pipeline_tag": "text-generation",
    "library_name": "transformers",
    "tags": ["transformers", "safetensors", "text-generation", "region:us"],
    "gated": False,
    "safetensors": {"parameters": {"BF16": 72_706_203_648}, "total": 72_706_203_648},
}
# an item below MIN_SCORE in the fixtures, for each kind
BELOW = {
    "hf_repos": "deepseek-ai/DeepSeek-Prover-V3-7B",
    "hf_collection": "Qwen/Qwen3.5-14B-Instruct-GGUF",
}


@pytest.fixture
def hub(httpserver: HTTPServer) -> FakeHub:
    return FakeHub(httpserver)


def write_config(tmp_path: Path, hub: FakeHub, receiver: Receiver, kind: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "{tmp_path / "data"}"
[server]
base_url = "http://feeds.example.org"
[output]
dir = "{tmp_path / "public"}"

[[sources]]
name = "hub"
{TABLES[kind]}
base_url = "{hub.base_url}"

[[targets]]
name = "hook"
url = "{receiver.url()}"
min_score = {MIN_SCORE}
""")
    return config


def once(tmp_path: Path, config: Path) -> str:
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def publish(hub: FakeHub, kind: str) -> None:
    """A new model on the Hub; for the collection, also added to it by its curator."""
    hub.publish("model", dict(NEW_MODEL))
    if kind == "hf_collection":
        item = {
            "_id": "6821b0c3f1e2d3b4a5968002", "position": 6, "type": "model",
            "author": "Qwen", "downloads": 10, "id": NEW_MODEL["id"],
            "availableInferenceProviders": [], "isLikedByUser": False,
            "lastModified": NEW_MODEL["lastModified"], "likes": 150,
            "pipeline_tag": "text-generation", "private": False, "repoType": "model",
            "gated": False, "note": {"html": "The big one", "text": "The big one"},
        }  # fmt: skip
        hub.collections[COLLECTION]["items"].append(item)


def set_likes(hub: FakeHub, kind: str, repo_id: str, likes: int) -> None:
    if kind == "hf_repos":
        hub.repo(repo_id)["likes"] = likes
        return
    (item,) = [i for i in hub.collections[COLLECTION]["items"] if i.get("id") == repo_id]
    item["likes"] = likes


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_baseline_then_one_alert_for_a_new_item_and_one_for_a_crossing(
    tmp_path: Path, hub: FakeHub, receiver: Receiver, kind: str
) -> None:
    config = write_config(tmp_path, hub, receiver, kind)
    first = once(tmp_path, config)
    count = 6
    assert f"hub: {count} entries, {count} new" in first
    assert receiver.received == [], "the first poll is a baseline"

    publish(hub, kind)
    second = once(tmp_path, config)
    assert " entries, 1 new, 1 queued" in second  # hf_repos: only Qwen's listing changed
    feed = feedparser.parse((tmp_path / "public" / "hub.atom").read_bytes())
    assert len(feed.entries) == count + 1
    if kind == "hf_repos":  # a repo's tags are its categories (the collection lists none)
        new = next(e for e in feed.entries if e.title == NEW_MODEL["id"])
        assert [t.term for t in new.tags] == NEW_MODEL["tags"]
    assert receiver.titles == [NEW_MODEL["id"]]
    message = receiver.received[0]["message"]
    assert "model · text-generation · " in message and "♥ 150" in message
    if kind == "hf_collection":
        assert "The big one" in message and "Collection: Qwen3.5" in message

    set_likes(hub, kind, BELOW[kind], MIN_SCORE + 1)
    once(tmp_path, config)
    assert receiver.titles == [NEW_MODEL["id"], BELOW[kind]]

    once(tmp_path, config)  # a restart, nothing changed upstream
    set_likes(hub, kind, BELOW[kind], MIN_SCORE + 50)  # re-scored: still sent only once
    once(tmp_path, config)
    assert receiver.titles == [NEW_MODEL["id"], BELOW[kind]]
    atom = (tmp_path / "public" / "hub.atom").read_bytes()
    assert check_atom(atom) == []
    assert len(feedparser.parse(atom).entries) == count + 1


def serve(httpserver: HTTPServer, tmp_path: Path) -> dict[str, str]:
    """The feeds `once` wrote, served as feedbridge serves them."""
    types = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
    urls = {}
    for fmt, content_type in types.items():
        body = (tmp_path / "public" / f"hub.{fmt}").read_bytes()
        httpserver.expect_request(f"/feeds/hub.{fmt}").respond_with_data(
            body, content_type=content_type
        )
        urls[fmt] = httpserver.url_for(f"/feeds/hub.{fmt}")
    return urls


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_feedparser_reader_and_newsboat_read_every_item_once(
    tmp_path: Path, hub: FakeHub, receiver: Receiver, httpserver: HTTPServer, kind: str
) -> None:
    from reader import make_reader

    once(tmp_path, write_config(tmp_path, hub, receiver, kind))
    urls = serve(httpserver, tmp_path)
    atom = (tmp_path / "public" / "hub.atom").read_bytes()
    assert check_atom(atom) == []
    expected = _expected(hub, kind)

    for fmt, url in urls.items():
        parsed = feedparser.parse(url)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert {e.link: e.title for e in parsed.entries} == expected, fmt
        assert all(e.get("published_parsed") or e.get("updated_parsed") for e in parsed.entries)

    reader = make_reader(str(tmp_path / "reader.sqlite"))
    try:
        for url in urls.values():
            reader.add_feed(url)
        reader.update_feeds()
        reader.update_feeds()
        for url in urls.values():
            got = list(reader.get_entries(feed=url))
            assert reader.get_feed(url).last_exception is None
            assert {e.link: e.title for e in got} == expected
            assert all(e.content or e.summary for e in got)
    finally:
        reader.close()

    binary = require_tool("newsboat", package="newsboat")
    for fmt, url in urls.items():
        home = tmp_path / f"newsboat-{fmt}"
        home.mkdir()
        newsboat_reload(home, binary, url)
        newsboat_reload(home, binary, url)
        with sqlite3.connect(home / "cache.db") as db:
            rows = db.execute("SELECT url, title, content FROM rss_item").fetchall()
        assert {url: title for url, title, _ in rows} == expected, fmt
        assert len(rows) == len(expected), "a second reload added items"
        assert all("Hugging Face" in content for _, _, content in rows)


def _expected(hub: FakeHub, kind: str) -> dict[str, str]:
    """Each item's link and title, as the Hub's data say."""
    base = hub.base_url
    if kind == "hf_repos":
        return {
            f"{base}/{item['id']}": item["id"]
            for item in hub.repos["model"]
            if item["author"] in ("deepseek-ai", "Qwen")
        }
    links: dict[str, Any] = {}
    for item in hub.collections[COLLECTION]["items"]:
        kind_of = item["type"]
        if kind_of == "paper":
            links[f"{base}/papers/{item['id']}"] = item["title"]
        elif kind_of == "collection":
            links[f"{base}/collections/{item['slug']}"] = item["title"]
        else:
            prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[kind_of]
            links[f"{base}/{prefix}{item['id']}"] = item["id"]
    return links


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_preview_shows_the_entries_and_the_first_as_a_message(
    tmp_path: Path, hub: FakeHub, receiver: Receiver, kind: str
) -> None:
    config = write_config(tmp_path, hub, receiver, kind)
    result = run_cli("--config", str(config), "preview", "hub", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "6 entries from 6 items" in out
    assert f"  {hub.base_url}/Qwen/Qwen3.5-14B-Instruct\n" in out
    assert "the first entry as a message" in out
    first = "deepseek-ai/DeepSeek-V3.2-Exp" if kind == "hf_repos" else "Qwen/Qwen3.5-14B-Instruct"
    message = out.split("the first entry as a message", 1)[1]
    assert f"\n  {first}\n" in message and "model · text-generation" in message
    assert not (tmp_path / "data").exists(), "preview writes no store"


def test_weights_released_is_one_alert_to_the_target_that_wants_the_paper(
    tmp_path: Path, httpserver: HTTPServer, hf_api: HfApi, receiver: Receiver
) -> None:
    hub = FakeHub(httpserver)  # after hf_api: its /api/daily_papers handler comes first
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "{tmp_path / "data"}"
[output]
dir = "{tmp_path / "public"}"
[[sources]]
name = "papers"
kind = "hf_papers"
listing = "trending"
mode = "api"
base_url = "{hub.base_url}"
artifacts = true
follow_for = "3650d"                   # the fixture's papers are from May 2026

[[targets]]
name = "hook"
url = "{receiver.url()}"
include = ["latent diffusion"]
""")
    once(tmp_path, config)
    assert receiver.received == [], "the first poll is a baseline"
    followed = {path.split("/")[3] for path in hub.paths("/api/arxiv/")}
    assert followed == {"2605.06548"}, "only the papers the target would be sent"

    hub.publish("model", {**NEW_MODEL, "id": "TIGER-Lab/CoLa-DLM-1B", "author": "TIGER-Lab",
                          "tags": ["transformers", "arxiv:2605.06548"]})  # fmt: skip
    once(tmp_path, config)
    assert receiver.titles == [
        "Weights released: TIGER-Lab/CoLa-DLM-1B for “Continuous Latent Diffusion Language Model”"
    ]
    message = receiver.received[0]["message"]
    assert f"{hub.base_url}/TIGER-Lab/CoLa-DLM-1B" in message
    assert f"{hub.base_url}/papers/2605.06548" in message

    once(tmp_path, config)
    once(tmp_path, config)
    assert len(receiver.received) == 1, "announced once, across restarts"
    atom = (tmp_path / "public" / "papers.atom").read_bytes()
    assert check_atom(atom) == []
    titles = [e.title for e in feedparser.parse(atom).entries]
    assert receiver.titles[0] in titles
