"""Paper artifacts (`hf_papers` with `artifacts = true`) against the local papers API and fake
Hub: one entry when a followed paper's first model appears, the follow window, the request cap
with 500 followed papers, a 429's pause, the follow list across a restart."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from feedbridge.app.runtime import follow_what_targets_want, runtime
from feedbridge.config import adhoc_source_config, load_config
from feedbridge.core.filters import EntryFilter
from feedbridge.core.models import Entry
from feedbridge.fetch.http import HttpClient
from feedbridge.poll.decide import TargetRule
from feedbridge.sources import build_source
from feedbridge.sources.hf_artifacts import ArtifactPapersSource, Followed
from tests.conftest import HfApi, Receiver
from tests.fakehub import FakeHub

NOW = datetime(2026, 5, 8, 12, tzinfo=UTC)
PAPER = "2605.06548"  # "Continuous Latent Diffusion Language Model", 68 upvotes, of 2026-05-07
CITED = "2605.05242"  # a model in tests/data/hf/api_models.json cites it already


@pytest.fixture
def hub(httpserver: HTTPServer, hf_api: HfApi) -> FakeHub:
    """The fake Hub beside the papers API (hf_api's handler is registered first)."""
    return FakeHub(httpserver)


def papers_source(hub: FakeHub, **table: Any) -> ArtifactPapersSource:
    config = {"name": "papers", "kind": "hf_papers", "listing": "trending", "mode": "api",
              "artifacts": True, "follow_requests": 50, "base_url": hub.base_url}  # fmt: skip
    config.update(table)
    source = build_source(adhoc_source_config(config))
    assert isinstance(source, ArtifactPapersSource)
    return source


async def poll(source: ArtifactPapersSource, now: datetime = NOW) -> list[Entry]:
    async with HttpClient() as http:
        result = await source.poll(http.fetcher(source.name, {}), now)
    return result.entries if result is not None else []


def model_citing(arxiv_id: str, repo_id: str = "TIGER-Lab/DCI-Agent-7B") -> dict[str, Any]:
    return {
        "_id": "6821c0c3f1e2d3b4a5968003", "id": repo_id, "author": repo_id.split("/")[0],
        "createdAt": "2026-05-08T10:00:00.000Z", "lastModified": "2026-05-08T10:30:00.000Z",
        "likes": 12, "downloads": 310, "trendingScore": 4, "pipeline_tag": "text-generation",
        "library_name": "transformers", "private": False,
        "tags": ["transformers", "safetensors", "text-generation", f"arxiv:{arxiv_id}"],
    }  # fmt: skip


def alerts(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if e.extras.get("artifact")]


async def test_a_model_appearing_after_the_first_check_is_one_weights_released_entry(
    hub: FakeHub,
) -> None:
    source = papers_source(hub)
    first = await poll(source)
    assert len(first) == 37 and alerts(first) == [], "the first check is a baseline"
    assert len(hub.paths("/api/arxiv/")) == 37

    hub.publish("model", model_citing(PAPER))
    second = await poll(source, NOW + timedelta(hours=1))
    (alert,) = alerts(second)
    assert alert.key == f"{PAPER}:weights"
    assert alert.title == (
        "Weights released: TIGER-Lab/DCI-Agent-7B for “Continuous Latent Diffusion Language Model”"
    )
    assert alert.link == f"{hub.base_url}/TIGER-Lab/DCI-Agent-7B"
    assert alert.score == 68, "the paper's upvotes, for the targets' min_score"
    assert alert.extras["paper_link"] == f"{hub.base_url}/papers/{PAPER}"
    paper = next(e for e in second if e.key == PAPER)
    repo = "TIGER-Lab/DCI-Agent-7B"
    link = f"{hub.base_url}/{repo}"
    assert paper.extras["repos"] == [{"type": "model", "id": repo, "link": link}]
    assert "On the Hub:" in paper.content_html and "TIGER-Lab/DCI-Agent-7B" in paper.content_html

    hub.publish("model", model_citing(PAPER, "someone/DCI-Agent-7B-GGUF"))
    third = await poll(source, NOW + timedelta(hours=2))
    assert alerts(third) == [], "the weights were announced once; more models add links only"


async def test_repos_there_at_the_first_check_are_links_not_alerts(hub: FakeHub) -> None:
    source = papers_source(hub)
    entries = await poll(source)
    assert alerts(entries) == []
    cited = next(e for e in entries if e.key == CITED)
    assert [r["id"] for r in cited.extras["repos"]] == ["deepseek-ai/DeepSeek-V3.2-Exp"]
    hub.publish("model", model_citing(CITED))
    assert alerts(await poll(source, NOW + timedelta(hours=1))) == []


async def test_a_paper_past_follow_for_is_no_longer_requested(hub: FakeHub) -> None:
    source = papers_source(hub, follow_for="10d")  # CITED was published on 2026-05-03
    await poll(source)
    assert f"/api/arxiv/{CITED}/repos" in hub.paths()
    hub.requests.clear()
    await poll(source, datetime(2026, 5, 12, tzinfo=UTC))
    assert f"/api/arxiv/{CITED}/repos" in hub.paths(), "9 days after: still followed"
    hub.requests.clear()
    await poll(source, datetime(2026, 5, 14, tzinfo=UTC))
    assert f"/api/arxiv/{CITED}/repos" not in hub.paths()
    assert f"/api/arxiv/{PAPER}/repos" in hub.paths(), "7 days after its publication"
    assert CITED not in source.follower.followed


async def test_500_followed_papers_cost_at_most_follow_requests_a_poll(
    hub: FakeHub, hf_api: HfApi
) -> None:
    template = copy.deepcopy(hf_api.items[0])
    template["paper"].update(authors=template["paper"]["authors"][:1], summary="Short.")
    template["paper"].pop("ai_keywords", None)
    hf_api.items = []
    for n in range(500):
        item = copy.deepcopy(template)
        item["paper"]["id"] = f"2605.{10000 + n}"
        hf_api.items.append(item)
    source = papers_source(hub, follow_requests=20)
    checked: set[str] = set()
    for poll_number in range(25):
        hub.requests.clear()
        entries = await poll(source, NOW + timedelta(minutes=30 * poll_number))
        assert len(entries) == 500
        asked = hub.paths("/api/arxiv/")
        assert len(asked) == 20 == source.follower.requests
        assert not checked & set(asked), "each paper is checked once before any twice"
        checked |= set(asked)
    assert len(checked) == 500 == len(source.follower.followed)


async def test_429_pauses_the_checks_for_the_hubs_retry_after(hub: FakeHub) -> None:
    hub.fail("/api/arxiv/", 429, retry_after="3600")
    source = papers_source(hub)
    entries = await poll(source)
    assert len(entries) == 37, "the papers still arrive"
    assert len(hub.paths("/api/arxiv/")) == 1
    hub.requests.clear()
    await poll(source, NOW + timedelta(minutes=30))
    assert hub.paths("/api/arxiv/") == []
    await poll(source, NOW + timedelta(minutes=61))
    assert len(hub.paths("/api/arxiv/")) == 37


async def test_a_failed_check_skips_that_paper_and_keeps_the_poll(hub: FakeHub) -> None:
    hub.fail(f"/api/arxiv/{PAPER}/", 500)
    entries = await poll(papers_source(hub))
    assert len(entries) == 37
    assert len(hub.paths("/api/arxiv/")) == 37


async def test_the_follow_list_survives_a_restart(hub: FakeHub) -> None:
    before = papers_source(hub)
    await poll(before)
    saved = before.identity()
    hub.publish("model", model_citing(PAPER))

    after = papers_source(hub)  # a new process: the stored state is all it knows
    after.restore_identity(saved)
    (alert,) = alerts(await poll(after, NOW + timedelta(hours=1)))
    assert alert.key == f"{PAPER}:weights"


async def test_only_the_papers_a_target_wants_are_followed(hub: FakeHub) -> None:
    source = papers_source(hub)
    wants = EntryFilter.build(min_score=30, include=["agentic search"])
    other = EntryFilter.build(sources=["elsewhere"])  # a target of another source
    follow_what_targets_want([source], [TargetRule("t", wants), TargetRule("o", other)])
    await poll(source)
    assert hub.paths("/api/arxiv/") == [f"/api/arxiv/{CITED}/repos"]


async def test_two_nodes_on_one_postgresql_continue_one_follow_list(
    tmp_path: Path, hub: FakeHub, receiver: Receiver, pg_url: str
) -> None:
    """Both nodes start before either polls; each poll takes the follow list the other left
    in the shared store, so a paper checked on one node is not checked from scratch on the
    other (whose first check would take the new model as its baseline: no alert)."""
    path = tmp_path / "config.toml"
    path.write_text(f"""
[storage]
url = "{pg_url}"
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
include = ["latent diffusion"]         # follows PAPER only
""")
    async with runtime(load_config(path)) as one, runtime(load_config(path)) as two:
        (first,) = await one.worker.run_once()  # and the target's deliveries stay with it
        assert first.ok and first.queued == 0, "the baseline"
        assert hub.paths("/api/arxiv/") == [f"/api/arxiv/{PAPER}/repos"]

        hub.publish("model", model_citing(PAPER))
        (second,) = await two.worker.run_once()
        assert second.queued == 1, "the other node's check goes on from the first one's"

        hub.publish("model", model_citing(PAPER, "someone/DCI-Agent-7B-GGUF"))
        (third,) = await one.worker.run_once()
        assert third.queued == 0, "the first node knows the weights were announced"
        assert len(hub.paths("/api/arxiv/")) == 3, "one check a poll, whichever node polls"
    assert receiver.titles == [
        "Weights released: TIGER-Lab/DCI-Agent-7B for “Continuous Latent Diffusion Language Model”"
    ]


async def poll_with(
    source: ArtifactPapersSource, validators: dict[str, Any], now: datetime
) -> list[Entry]:
    """A poll through a fetcher holding the source's stored validators, as the worker's does."""
    async with HttpClient() as http:
        result = await source.poll(http.fetcher(source.name, validators), now)
    return result.entries if result is not None else []


async def test_a_second_polls_checks_are_conditional_and_answered_304(hub: FakeHub) -> None:
    source = papers_source(hub)
    kept: dict[str, Any] = {}  # the source's own stored validators (the listing's)
    await poll_with(source, kept, NOW)
    first = hub.answered("/api/arxiv/")
    assert len(first) == 37 and {a.status for a in first} == {200}
    assert all(a.if_none_match is None and a.etag for a in first), "nothing to send yet"
    etags = {a.path: a.etag for a in first}

    hub.answers.clear()
    entries = await poll_with(source, kept, NOW + timedelta(hours=1))
    second = hub.answered("/api/arxiv/")
    assert len(second) == 37 and {a.status for a in second} == {304}
    assert all(a.if_none_match == etags[a.path] for a in second), "each paper's own ETag"
    assert sum(a.body for a in second) == 0
    assert source.follower.requests == 37 == source.follower.unchanged
    assert alerts(entries) == [] and len(entries) == 37
    cited = next(e for e in entries if e.key == CITED)
    assert [r["id"] for r in cited.extras["repos"]] == ["deepseek-ai/DeepSeek-V3.2-Exp"]
    assert not any("/api/arxiv/" in url for url in kept), "the papers' own, not the source's"


async def test_a_paper_whose_repos_changed_is_read_and_alerted_once(hub: FakeHub) -> None:
    source = papers_source(hub)
    await poll(source)
    hub.publish("model", model_citing(PAPER))
    hub.answers.clear()
    (alert,) = alerts(await poll(source, NOW + timedelta(hours=1)))
    assert alert.key == f"{PAPER}:weights"
    statuses = {a.path: a.status for a in hub.answered("/api/arxiv/")}
    assert statuses.pop(f"/api/arxiv/{PAPER}/repos") == 200, "its ETag changed"
    assert set(statuses.values()) == {304} and len(statuses) == 36
    assert source.follower.unchanged == 36

    hub.answers.clear()
    assert alerts(await poll(source, NOW + timedelta(hours=2))) == []
    assert {a.status for a in hub.answered("/api/arxiv/")} == {304}, "the new ETag was kept"


async def test_the_follow_ending_drops_the_papers_validators(hub: FakeHub) -> None:
    source = papers_source(hub, follow_for="10d")  # CITED was published on 2026-05-03
    await poll(source)
    followed = source.identity()["followed"]
    assert CITED in followed and all(set(f["v"]) == {"e", "d"} for f in followed.values())
    size, count = len(json.dumps(source.identity())), len(followed)

    await poll(source, datetime(2026, 5, 14, tzinfo=UTC))
    followed = source.identity()["followed"]
    assert CITED not in followed and len(followed) < count
    assert CITED not in json.dumps(source.identity())
    assert len(json.dumps(source.identity())) < size, "its validators went with it"


async def test_the_papers_validators_survive_a_restart(hub: FakeHub) -> None:
    before = papers_source(hub)
    await poll(before)
    saved = json.loads(json.dumps(before.identity()))  # as the store keeps it

    after = papers_source(hub)
    after.restore_identity(saved)
    hub.answers.clear()
    await poll(after, NOW + timedelta(hours=1))
    assert {a.status for a in hub.answered("/api/arxiv/")} == {304}


async def test_an_unreadable_answer_keeps_the_last_good_validators(hub: FakeHub) -> None:
    source = papers_source(hub)
    await poll(source)
    good = source.follower.followed[PAPER].validators
    hub.fail(f"/api/arxiv/{PAPER}/", 200)  # "upstream trouble": not JSON, no ETag
    hub.publish("model", model_citing(PAPER))
    assert alerts(await poll(source, NOW + timedelta(hours=1))) == []
    assert source.follower.followed[PAPER].validators == good, "not the garbled answer's"
    hub.answers.clear()
    (alert,) = alerts(await poll(source, NOW + timedelta(hours=2)))
    assert alert.key == f"{PAPER}:weights"
    (answer,) = [a for a in hub.answered() if a.path == f"/api/arxiv/{PAPER}/repos"]
    assert answer.if_none_match == good["etag"] and answer.status == 200


async def test_a_hub_that_answers_200_all_the_same_costs_no_reading(hub: FakeHub) -> None:
    """Some Hub endpoints send an ETag and ignore If-None-Match (huggingface.js#1713): the
    same body again is no news, by its digest; a changed one is read."""
    hub.conditional = False
    source = papers_source(hub)
    await poll(source)
    hub.answers.clear()
    hub.publish("model", model_citing(PAPER))
    (alert,) = alerts(await poll(source, NOW + timedelta(hours=1)))
    assert alert.key == f"{PAPER}:weights"
    answers = hub.answered("/api/arxiv/")
    assert {a.status for a in answers} == {200} and all(a.if_none_match for a in answers)
    assert source.follower.unchanged == 36, "all but the changed paper: nothing parsed"


def test_stored_validators_are_bounded_and_typed() -> None:
    stored = {"t": "T", "s": 1.0e9, "v": {"e": "x" * 5000, "m": 7, "d": "abc"}}
    followed = Followed.from_json(stored)
    assert followed is not None
    assert followed.validators == {"digest": "abc"}, "a 5,000-character ETag is not kept"
    stored["v"] = {"e": 'W/"1"', "m": "Fri, 08 May 2026 10:00:00 GMT", "d": "abc", "x": "y"}
    followed = Followed.from_json(stored)
    assert followed is not None
    assert followed.validators == {
        "etag": 'W/"1"', "last_modified": "Fri, 08 May 2026 10:00:00 GMT", "digest": "abc"
    }
    assert followed.to_json()["v"] == {k: v for k, v in stored["v"].items() if k != "x"}


async def test_unchanged_checks_cost_a_fraction_of_the_bytes(hub: FakeHub, hf_api: HfApi) -> None:
    """100 followed papers, each cited by three models (the Hub's listing shape): the bytes
    the Hub sends for two polls' checks. Before, both polls were full answers."""
    template = copy.deepcopy(hf_api.items[0])
    hf_api.items = []
    for n in range(100):
        item = copy.deepcopy(template)
        item["paper"]["id"] = arxiv_id = f"2605.{10000 + n}"
        hf_api.items.append(item)
        for m in range(3):
            hub.publish("model", model_citing(arxiv_id, f"org{n}/model-{m}"))
    source = papers_source(hub, follow_requests=100)
    await poll(source)
    first = sum(a.wire for a in hub.answered("/api/arxiv/"))
    hub.answers.clear()
    await poll(source, NOW + timedelta(hours=1))
    second = sum(a.wire for a in hub.answered("/api/arxiv/"))
    print(f"\n100 papers, two polls: {2 * first} bytes before, {first + second} after")
    assert len(hub.answered("/api/arxiv/")) == 100
    assert second * 10 < first, (first, second)
