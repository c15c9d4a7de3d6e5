"""`detect` on Hugging Face Hub URLs: each form of the Hub's pages mapped to the hf_* table that
reads it (hostile values refused), and that table checked once against a fake Hub
(tests/fakehub.py) without the page itself ever being fetched."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from feedbridge.app.cli import main
from feedbridge.detect import detect_url
from feedbridge.detect.hub import HUB_ENV, hub_table
from tests.conftest import HfApi
from tests.fakehub import FakeHub

COLLECTION = "Qwen/qwen35-6821a0c3f1e2d3b4a5968778"


@pytest.fixture(autouse=True)
def logging_left_as_found() -> Iterator[None]:
    """The command run in process sets up logging on the runner's stderr: undo it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def hub(hf_api: HfApi, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The fake Hub (repos, collections; the papers of `hf_api` on the same server), and the
    detected tables pointed at it."""
    fake = FakeHub(hf_api.server)
    monkeypatch.setenv(HUB_ENV, fake.base_url)
    return fake


def repos(**table: Any) -> dict[str, Any]:
    return {"kind": "hf_repos", **table}


@pytest.mark.parametrize(
    ("url", "table", "words"),
    [
        ("https://huggingface.co/papers", {"kind": "hf_papers", "listing": "daily"}, "Daily"),
        ("https://huggingface.co/papers/date/2026-05-08",
         {"kind": "hf_papers", "listing": "daily"}, "the latest days"),
        ("https://huggingface.co/papers/week/2026-W19",
         {"kind": "hf_papers", "listing": "weekly"}, "week"),
        ("https://huggingface.co/papers/month/2026-05",
         {"kind": "hf_papers", "listing": "monthly"}, "month"),
        ("https://huggingface.co/papers/trending",
         {"kind": "hf_papers", "listing": "trending"}, "trending"),
        ("https://huggingface.co/papers?q=world+models",
         {"kind": "hf_papers", "listing": "search", "query": "world models"}, "'world models'"),
        ("https://hf.co/papers/2505.01234",
         {"kind": "hf_papers", "listing": "daily"}, "a single paper's page has no list"),
        ("https://huggingface.co/models?search=qwen&pipeline_tag=text-generation&sort=likes"
         "&other=conversational&library=transformers,gguf&p=2",
         repos(type="model", search="qwen", pipeline_tag="text-generation",
               filter=["conversational", "transformers", "gguf"], sort="likes"),
         "models matching 'qwen' for text-generation tagged conversational, transformers, gguf"),
        ("https://huggingface.co/models", repos(type="model", sort="trending"), "by trending"),
        ("https://huggingface.co/models?num_parameters=min:0,max:6B&sort=created",
         repos(type="model", sort="created"), "not read: num_parameters"),
        ("https://huggingface.co/datasets?task_categories=task_categories:robotics&sort=downloads",
         repos(type="dataset", filter=["task_categories:robotics"], sort="downloads"),
         "datasets tagged"),
        ("https://huggingface.co/datasets?author=lerobot&sort=created",
         repos(type="dataset", author=["lerobot"], sort="created"), "by lerobot"),
        ("https://huggingface.co/spaces?search=image&sort=likes",
         repos(type="space", search="image", sort="likes"), "Spaces"),
        ("https://huggingface.co/Qwen", repos(type="model", author=["Qwen"], sort="created"),
         "new models by Qwen"),
        ("https://huggingface.co/lerobot/datasets",
         repos(type="dataset", author=["lerobot"], sort="created"), "new datasets by lerobot"),
        ("https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp/tree/main",
         repos(type="model", author=["deepseek-ai"], sort="created"),
         "the author of deepseek-ai/DeepSeek-V3.2-Exp"),
        ("https://hf.co/datasets/HuggingFaceFW/fineweb-edu",
         repos(type="dataset", author=["HuggingFaceFW"], sort="created"), "new datasets"),
        ("https://huggingface.co/spaces/Qwen/Qwen-Image-Edit-Demo",
         repos(type="space", author=["Qwen"], sort="created"), "new Spaces by Qwen"),
        (f"https://huggingface.co/collections/{COLLECTION}",
         {"kind": "hf_collection", "collection": COLLECTION}, "collection"),
    ],
)  # fmt: skip
def test_each_hub_page_maps_to_the_table_that_reads_it(
    url: str, table: dict[str, Any], words: str
) -> None:
    found = hub_table(url, "https://huggingface.co")
    assert found is not None
    assert dict(found.table) == table
    assert words in found.description


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/Qwen",  # not the Hub
        "ftp://huggingface.co/Qwen",
        "https://huggingface.co/",  # the home page: no listing
        "https://huggingface.co/docs/hub/index",
        "https://huggingface.co/papers/not-a-paper",
        "https://huggingface.co/collections/Qwen",  # a user's collections: no API listing
        "https://huggingface.co/collections/Qwen/no-id-here",
        "https://huggingface.co/models?sort=most_params",  # a sort hf_repos does not have
        "https://huggingface.co/spaces?sort=downloads",  # Spaces have no downloads
        "https://huggingface.co/datasets?pipeline_tag=text-generation",  # models only
        "https://huggingface.co/models?search=a%00b",  # a control character
        "https://huggingface.co/models?search=" + "x" * 300,
        "https://huggingface.co/models?author=%3Cscript%3E",
        "https://huggingface.co/models?pipeline_tag=text%20generation%22",
        "https://huggingface.co/models?other=a%22b",
        "https://huggingface.co/models?other=" + ",".join(f"t{n}" for n in range(30)),
        "https://huggingface.co/-bad-name-",
        "https://huggingface.co/papers?q=%24%7BHOME%7D%0A",
    ],
)
def test_other_or_hostile_hub_urls_give_no_table(url: str) -> None:
    assert hub_table(url, "https://huggingface.co") is None


def test_a_search_is_taken_as_typed_never_expanded() -> None:
    found = hub_table("https://huggingface.co/models?search=%24%7BHOME%7D", "https://huggingface.co")
    assert found is not None and found.table["search"] == "${HOME}"


def test_another_hub_is_named_in_the_table_and_its_urls_are_hub_urls() -> None:
    mirror = "https://hf-mirror.example"
    found = hub_table("https://hf-mirror.example/Qwen", mirror)
    assert found is not None and found.table["base_url"] == mirror
    also = hub_table("https://huggingface.co/Qwen", mirror)
    assert also is not None and also.table["base_url"] == mirror
    assert hub_table("https://hf-mirror.example/Qwen", "https://huggingface.co") is None


def test_detect_prints_the_hub_table_checked_with_its_first_titles(hub: FakeHub) -> None:
    url = "https://huggingface.co/models?search=qwen&pipeline_tag=text-generation&sort=created"
    result = CliRunner().invoke(main, ["detect", url, "--name", "qwen"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(
        "# models matching 'qwen' for text-generation sorted by created "
        "(the Hugging Face Hub's API); checked: the source below yields them\n"
        "#    first: Qwen/Qwen3.5-14B-Instruct-GGUF · Qwen/Qwen3.5-14B-Instruct\n"
    ), out
    table = tomllib.loads(out)["sources"][0]
    assert table == {"name": "qwen", "kind": "hf_repos", "type": "model", "search": "qwen",
                     "pipeline_tag": "text-generation", "sort": "created",
                     "base_url": hub.base_url}  # fmt: skip
    assert "found models matching 'qwen'" in result.stderr and "2 entries now" in result.stderr
    assert [path for path, _ in hub.requests] == ["/api/models"], "the page is never fetched"
    (_, args), = hub.requests  # fmt: skip
    assert args["search"] == ["qwen"] and args["pipeline_tag"] == ["text-generation"]


async def test_a_collection_and_the_daily_papers_are_checked_through_the_api(
    hub: FakeHub, hf_api: HfApi
) -> None:
    detection = await detect_url(f"https://huggingface.co/collections/{COLLECTION}")
    (candidate,) = detection.candidates
    assert candidate.method == "hub" and candidate.checked
    assert candidate.source["kind"] == "hf_collection" and len(candidate.entries) == 6
    papers = await detect_url("https://huggingface.co/papers")
    assert papers.best is not None and papers.best.source["kind"] == "hf_papers"
    assert [e.title for e in papers.best.entries] == [i["title"] for i in hf_api.items]
    assert not any(path.endswith("/papers") for path, _ in hub.requests)


async def test_when_the_api_fails_the_table_is_still_offered_with_the_error(
    hub: FakeHub,
) -> None:
    hub.fail("/api/models", 404, times=5)
    detection = await detect_url("https://huggingface.co/Qwen/Qwen3.5-14B-Instruct")
    best = detection.best
    assert best is not None and not best.checked
    assert best.source == {"kind": "hf_repos", "type": "model", "author": ["Qwen"],
                           "sort": "created", "base_url": hub.base_url}  # fmt: skip
    assert best.problem is not None and "404" in best.problem and "/api/models" in best.problem
    assert "not checked:" in detection.message and "new models by Qwen" in detection.message


async def test_a_listing_the_hub_has_nothing_in_says_so(hub: FakeHub) -> None:
    detection = await detect_url("https://huggingface.co/models?search=nothing-like-it")
    best = detection.best
    assert best is not None and best.entries == () and not best.checked
    assert best.problem == "the Hub lists nothing for it now"
