"""The hf_repos and hf_collection sources against a local fake Hub: fields, the requests they
make (documented parameters, pagination, the cap), 304, 429 and 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from feedbridge.config import adhoc_source_config
from feedbridge.core.errors import ConfigError, FetchError, ParseError
from feedbridge.core.models import Entry, Page
from feedbridge.fetch.http import HttpClient
from feedbridge.sources import Source, build_source
from feedbridge.sources.collect import Extraction
from feedbridge.sources.hub import next_link, summary_line
from tests.fakehub import FakeHub

NOW = datetime(2026, 5, 8, 12, tzinfo=UTC)
COLLECTION = "Qwen/qwen35-6821a0c3f1e2d3b4a5968778"


@pytest.fixture
def hub(httpserver: HTTPServer) -> FakeHub:
    return FakeHub(httpserver)


def repos(hub: FakeHub, **table: Any) -> Source:
    return build_source(
        adhoc_source_config({"name": "r", "kind": "hf_repos", "base_url": hub.base_url, **table})
    )


def collection(hub: FakeHub, **table: Any) -> Source:
    config = {"name": "c", "kind": "hf_collection", "base_url": hub.base_url, **table}
    return build_source(adhoc_source_config({"collection": COLLECTION, **config}))


async def extraction(source: Source, validators: dict[str, Any] | None = None) -> Extraction | None:
    async with HttpClient() as http:
        fetcher = http.fetcher(source.name, validators if validators is not None else {})
        return await source.poll(fetcher, NOW)


async def poll(source: Source, validators: dict[str, Any] | None = None) -> list[Entry] | None:
    result = await extraction(source, validators)
    return result.entries if result is not None else None


async def test_a_model_entry_carries_what_the_listing_says(hub: FakeHub) -> None:
    entries = await poll(repos(hub, author="deepseek-ai")) or []
    assert [e.key for e in entries] == [
        "deepseek-ai/DeepSeek-V3.2-Exp",
        "deepseek-ai/DeepSeek-Prover-V3-7B",
        "deepseek-ai/DeepSeek-OCR-2",
    ]  # newest first, as `sort = "created"` asks
    first = entries[0]
    assert first.title == "deepseek-ai/DeepSeek-V3.2-Exp"
    assert first.link == f"{hub.base_url}/deepseek-ai/DeepSeek-V3.2-Exp"
    assert first.authors == ("deepseek-ai",)
    assert first.published == datetime(2026, 5, 7, 9, 12, 44, tzinfo=UTC)
    assert first.updated == datetime(2026, 5, 8, 6, 30, 2, tzinfo=UTC)
    assert first.score == 412  # likes, the default score
    x = first.extras
    assert (x["repo_type"], x["likes"], x["downloads"], x["trending_score"]) == (
        "model", 412, 18233, 96,
    )  # fmt: skip
    assert (x["pipeline_tag"], x["library"], x["parameters"]) == (
        "text-generation", "transformers", 685_396_921_632,
    )  # fmt: skip
    assert "arxiv:2605.05242" in x["tags"]
    assert "model · text-generation · transformers · 685.4B params · ♥ 412 · ↓ 18,233" in (
        first.content_html
    )


async def test_the_listing_request_uses_the_documented_parameters(hub: FakeHub) -> None:
    source = repos(
        hub, type="datasets", filter=["task_categories:robotics", "library:lerobot"],
        search="so101", sort="likes", direction="asc", limit=20, expand=["citation"],
    )  # fmt: skip
    await poll(source)
    ((path, args),) = hub.requests
    assert path == "/api/datasets"
    assert args["filter"] == ["task_categories:robotics", "library:lerobot"]
    assert (args["search"], args["sort"], args["direction"], args["limit"]) == (
        ["so101"], ["likes"], ["1"], ["20"],
    )  # fmt: skip
    assert args["expand"][-1] == "citation" and "description" in args["expand"]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"type": "dataset"}, "Dataset Card"),  # a heading line is not the summary
        ({"type": "space"}, "Edit images with instructions"),
    ],
)
async def test_datasets_and_spaces_carry_the_cards_summary_line(
    hub: FakeHub, table: dict[str, str], expected: str
) -> None:
    entries = {e.key: e for e in await poll(repos(hub, **table)) or []}
    if table["type"] == "dataset":
        summary = entries["lerobot/so101-pick-place-cubes"].summary
        assert summary.startswith("This dataset was created using LeRobot")
        assert expected not in summary
        assert entries["lerobot/so101-pick-place-cubes"].link.endswith(
            "/datasets/lerobot/so101-pick-place-cubes"
        )
    else:
        space = entries["Qwen/Qwen-Image-Edit-Demo"]
        assert space.summary == expected
        assert space.link == f"{hub.base_url}/spaces/Qwen/Qwen-Image-Edit-Demo"


@pytest.mark.parametrize(("score", "expected"), [("likes", 2210), ("downloads", 310442),
                                                 ("trending", 410)])  # fmt: skip
async def test_score_is_the_number_the_config_names(
    hub: FakeHub, score: str, expected: int
) -> None:
    entries = await poll(repos(hub, pipeline_tag="text-to-image", sort="trending", score=score))
    assert entries and entries[0].key == "black-forest-labs/FLUX.2-klein"
    assert entries[0].score == expected


async def test_several_authors_cost_one_request_each(hub: FakeHub) -> None:
    entries = await poll(repos(hub, author=["deepseek-ai", "Qwen"])) or []
    assert [args["author"] for _, args in hub.requests] == [["deepseek-ai"], ["Qwen"]]
    assert {e.authors[0] for e in entries} == {"deepseek-ai", "Qwen"}
    assert len(entries) == 6


async def test_pagination_follows_the_link_header_until_the_limit(hub: FakeHub) -> None:
    hub.max_page = 2
    entries = await poll(repos(hub, limit=5)) or []
    assert len(entries) == 5
    cursors = [args.get("cursor") for _, args in hub.requests]
    assert cursors == [None, ["2"], ["4"]]


async def test_pagination_stops_at_the_request_cap(hub: FakeHub) -> None:
    hub.max_page = 2
    entries = await poll(repos(hub, limit=9, max_requests=2)) or []
    assert len(hub.requests) == 2
    assert len(entries) == 4


def test_a_link_header_leading_off_the_hub_is_not_followed() -> None:
    base = "https://huggingface.co"
    here = f"{base}/api/models?author=x"

    def link(value: str) -> str | None:
        return next_link(Page(here, 200, b"[]", headers={"link": value}), base)

    assert link(f'<{base}/api/models?cursor=abc>; rel="next"') == f"{base}/api/models?cursor=abc"
    assert link('<https://evil.example/api/models?cursor=abc>; rel="next"') is None
    assert link(f'<{base}/api/whoami-v2>; rel="next"') is None
    assert link(f'<{base}/api/models?cursor=abc>; rel="prev"') is None
    assert link("garbage <<>>; rel=next") is None


async def test_an_unchanged_listing_is_not_read_again(hub: FakeHub) -> None:
    source, validators = repos(hub, author=["deepseek-ai", "Qwen"]), {}
    assert await poll(source, validators)
    assert await poll(source, validators) is None
    assert len(hub.requests) == 4  # a 304 for each author the second time

    hub.repo("Qwen/Qwen3.5-14B-Instruct")["likes"] = 300
    changed = await poll(source, validators) or []
    assert [e.score for e in changed if e.key == "Qwen/Qwen3.5-14B-Instruct"] == [300]


async def test_429_stops_the_poll_and_carries_the_hubs_wait(hub: FakeHub) -> None:
    hub.fail("/api/models", 429, retry_after="600")
    source = repos(hub, author=["deepseek-ai", "Qwen"])
    with pytest.raises(FetchError) as caught:
        await poll(source)
    assert caught.value.status == 429 and caught.value.retry_after == 600
    assert len(hub.requests) == 1, "no request after the Hub said to wait"


async def test_500_for_one_author_keeps_the_others_and_warns(hub: FakeHub) -> None:
    hub.fail("/api/models", 500)
    source = repos(hub, author=["deepseek-ai", "Qwen"])
    result = await extraction(source)
    assert result is not None
    assert {e.authors[0] for e in result.entries} == {"Qwen"}
    warning = result.warning
    assert warning and "author=deepseek-ai" in warning and "HTTP 500" in warning
    assert "kept from the last poll" in warning


async def test_500_for_the_only_listing_fails_the_poll_naming_the_url(hub: FakeHub) -> None:
    hub.fail("/api/models", 500)
    with pytest.raises(FetchError, match="HTTP 500") as caught:
        await poll(repos(hub, author="Qwen"))
    assert "author=Qwen" in caught.value.url


def test_repos_without_a_usable_id_are_skipped_and_counted() -> None:
    items = [{"id": "../../etc"}, {"id": 7}, "junk", {"id": "ok/model", "likes": True}]
    source = build_source(adhoc_source_config({"name": "r", "kind": "hf_repos"}))
    result = source.analyze(
        Page("https://huggingface.co/api/models", 200, json.dumps(items).encode())
    )
    assert [e.key for e in result.entries] == ["ok/model"]
    assert result.entries[0].score is None, "a boolean is not a number of likes"
    assert sum(result.skipped.values()) == 3


def test_a_listing_that_is_not_a_list_is_a_parse_error_naming_the_url() -> None:
    source = build_source(adhoc_source_config({"name": "r", "kind": "hf_repos"}))
    with pytest.raises(ParseError, match="expected a JSON list of repos") as caught:
        source.extract(Page("https://huggingface.co/api/models", 200, b'{"error": "x"}'))
    assert "https://huggingface.co/api/models" in str(caught.value)


def test_summary_line_skips_headings_and_takes_the_first_sentence() -> None:
    description = "\n\t\n\t\tDataset Card for Foo\n\t\n\nFoo has a hundred robot episodes in it."
    assert summary_line({"description": description}) == "Foo has a hundred robot episodes in it."
    assert summary_line({"cardData": {"short_description": "Chat with it"}}) == "Chat with it"
    assert summary_line({}) == ""


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"type": "space", "score": "downloads"}, "score"),
        ({"type": "space", "sort": "downloads"}, "sort"),
        ({"type": "dataset", "pipeline_tag": "text-generation"}, "pipeline_tag"),
        ({"expand": ["secrets"]}, "expand"),
        ({"author": ["a", "b", "c"], "max_requests": 2}, "author"),
        ({"author": "not a name!"}, "author"),
        ({"type": "papers"}, "type"),
    ],
)
def test_what_the_hub_cannot_answer_is_a_config_error_naming_the_key(
    table: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        adhoc_source_config({"name": "r", "kind": "hf_repos", **table})
    assert any(f"sources[0].{key}" in p for p in caught.value.problems), caught.value.problems


async def test_a_collection_item_is_an_entry_with_its_curators_note(hub: FakeHub) -> None:
    source = collection(hub)
    entries = {e.key: e for e in await poll(source) or []}
    assert list(entries) == [
        "model:Qwen/Qwen3.5-14B-Instruct",
        "model:Qwen/Qwen3.5-14B-Instruct-GGUF",
        "space:Qwen/Qwen-Image-Edit-Demo",
        "dataset:HuggingFaceFW/fineweb-edu-2605",
        "paper:2605.05242",
        "collection:Qwen/qwen3-67dd247413f0e2e4f653967f",
    ]
    model = entries["model:Qwen/Qwen3.5-14B-Instruct"]
    assert model.summary == "The flagship dense model"
    assert model.extras["note"] == "The flagship dense model"
    assert model.extras["collection"] == "Qwen3.5"
    assert model.extras["parameters"] == 14_768_307_200
    assert model.score == 268
    paper = entries["paper:2605.05242"]
    assert paper.title.startswith("Beyond Semantic Similarity")
    assert paper.link == f"{hub.base_url}/papers/2605.05242"
    assert paper.score == 86 and paper.extras["arxiv_pdf"] == "https://arxiv.org/pdf/2605.05242"
    nested = entries["collection:Qwen/qwen3-67dd247413f0e2e4f653967f"]
    assert nested.link == f"{hub.base_url}/collections/Qwen/qwen3-67dd247413f0e2e4f653967f"
    assert nested.summary == "The previous generation"
    assert source.title == "Qwen3.5 (Hugging Face collection)"
    assert hub.paths() == [f"/api/collections/{COLLECTION}"]


async def test_an_unchanged_collection_is_a_304(hub: FakeHub) -> None:
    source, validators = collection(hub), {}
    assert await poll(source, validators)
    assert await poll(source, validators) is None


def test_a_collection_url_is_read_as_its_slug() -> None:
    config = adhoc_source_config(
        {"name": "c", "kind": "hf_collection",
         "collection": f"https://huggingface.co/collections/{COLLECTION}"}
    )  # fmt: skip
    assert build_source(config).url == f"https://huggingface.co/api/collections/{COLLECTION}"
    with pytest.raises(ConfigError, match="namespace/slug-id"):
        adhoc_source_config({"name": "c", "kind": "hf_collection", "collection": "Qwen/qwen3"})
