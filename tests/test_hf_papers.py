"""The hf_papers source: field mapping from the real API response, listings, pagination."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

import pytest

from feedbridge.config.models import HfPapersConfig
from feedbridge.core.errors import FetchError, ParseError
from feedbridge.core.models import Page
from feedbridge.sources.hf_papers import HfPapersSource
from tests.conftest import hf_items

NOW = datetime(2026, 5, 8, 15, tzinfo=UTC)  # a Friday


def source(**overrides: Any) -> HfPapersSource:
    config = dict(
        name="hf",
        kind="hf_papers",
        title=None,
        listing="daily",
        query=None,
        base_url="https://huggingface.co",
        mode="api",
        limit=100,
        max_pages=10,
        days=2,
        headers={},
    )
    config.update(overrides)
    return HfPapersSource(HfPapersConfig.model_validate(config))


def page(data: object, url: str = "https://huggingface.co/api/daily_papers") -> Page:
    return Page(url=url, status=200, body=json.dumps(data).encode())


class FakeFetcher:
    """Answers `answer(params, url)` (JSON data, or a Page as is; it may raise), recording
    each request's parameters in `calls` and its URL in `urls`."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[dict[str, str]] = []
        self.urls: list[str] = []

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
        validators: MutableMapping[str, Any] | None = None,
    ) -> Page:
        self.calls.append(dict(params or {}))
        self.urls.append(url)
        data = self.answer(dict(params or {}), url)
        return data if isinstance(data, Page) else page(data, url)


def test_fields_are_mapped_as_the_design_says() -> None:
    entries = source().extract(page(hf_items()))
    assert len(entries) == 37
    first = entries[0]
    assert first.key == "2605.05242"
    assert first.link == "https://huggingface.co/papers/2605.05242"
    assert first.title.startswith("Beyond Semantic Similarity")
    assert first.score == 86
    assert first.published == datetime(2026, 5, 3, tzinfo=UTC)
    assert first.updated == datetime(2026, 5, 8, 10, 1, 31, 399000, tzinfo=UTC)
    assert first.authors[:3] == ("Zhuofeng Li", "Haoxiang Zhang", "Cong Wei")
    assert (
        first.image
        == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2605.05242.png"
    )
    x = first.extras
    assert x["organization"] == "TIGER-Lab"
    assert x["submitter"] == "ZhuofengLi"
    assert x["comments"] == 3
    assert x["github"] == "https://github.com/DCI-Agent/DCI-Agent-Lite"
    assert x["github_stars"] == 101
    assert x["arxiv_pdf"] == "https://arxiv.org/pdf/2605.05242"
    assert x["ai_summary"].startswith("Direct corpus interaction")
    assert "agentic search" in x["keywords"]
    assert first.summary.startswith("Modern retrieval systems")
    for text in ("Zhuofeng Li", "▲ 86 upvotes", "arxiv.org/abs/2605.05242", "Code (101 ★)"):
        assert text in first.content_html
    project = next(e for e in entries if e.key == "2605.06548")
    assert project.extras["project_page"] == "https://hongcanguo.github.io/Cola-DLM/"
    assert "Project page" in project.content_html


def test_markup_in_paper_fields_is_escaped_in_content() -> None:
    items = hf_items()[:1]
    items[0]["paper"]["summary"] = "<script>alert(1)</script> & more"
    entry = source().extract(page(items))[0]
    assert "<script>" not in entry.content_html
    assert "&lt;script&gt;" in entry.content_html


async def test_daily_reads_two_papers_days_skipping_empty_ones() -> None:
    papers = hf_items()
    by_day = {"2026-05-08": papers[:3], "2026-05-06": papers[3:5]}  # 05-07 empty
    fetcher = FakeFetcher(lambda p, url: by_day.get(p.get("date", ""), []))
    found = await source().poll(fetcher, NOW)
    assert [c["date"] for c in fetcher.calls] == ["2026-05-08", "2026-05-07", "2026-05-06"]
    assert found is not None and len(found.entries) == found.items == 5


async def test_daily_with_an_empty_week_looks_back_at_most_seven_days() -> None:
    fetcher = FakeFetcher(lambda p, url: [])
    found = await source().poll(fetcher, NOW)
    assert found is not None and found.entries == []
    assert len(fetcher.calls) == 7


async def test_pagination_follows_full_pages() -> None:
    papers = hf_items()

    def answer(p: dict[str, str], url: str) -> list[Any]:
        n, limit = int(p.get("p", 0)), int(p["limit"])
        return papers[n * limit : (n + 1) * limit]

    fetcher = FakeFetcher(answer)
    found = await source(listing="trending", limit=10).poll(fetcher, NOW)
    assert found is not None and len(found.entries) == 37
    assert [c.get("p") for c in fetcher.calls] == [None, "1", "2", "3"]
    assert all(c["sort"] == "trending" for c in fetcher.calls)


@pytest.mark.parametrize(
    ("listing", "query", "expected"),
    [
        ("weekly", None, {"week": "2026-W19"}),
        ("monthly", None, {"month": "2026-05"}),
        ("trending", None, {"sort": "trending"}),
        ("search", "diffusion", {"q": "diffusion"}),
    ],
)
async def test_listings_ask_the_api_for_the_right_period(
    listing: str, query: str | None, expected: dict[str, str]
) -> None:
    fetcher = FakeFetcher(lambda p, url: hf_items()[:2])
    src = source(listing=listing, query=query)
    await src.poll(fetcher, NOW)
    assert fetcher.calls == [{**expected, "limit": "100"}]
    if listing == "search":
        assert src.url == "https://huggingface.co/api/papers/search"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response"),
        (b"<!doctype html><html>", "response is HTML"),
        (b"{not json", "invalid JSON"),
        (b'{"error": "x"}', "expected a JSON list"),
    ],
)
def test_bad_bodies_are_parse_errors_naming_source_and_url(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        source().extract(Page(url="https://hf.test/api/daily_papers", status=200, body=body))
    assert "source 'hf'" in str(caught.value)
    assert "https://hf.test/api/daily_papers" in str(caught.value)


def test_items_without_id_or_title_are_skipped() -> None:
    items = [{"paper": {"title": "no id"}}, {"paper": {"id": "1"}}, "junk", hf_items()[0]]
    assert [e.key for e in source().extract(page(items))] == ["2605.05242"]


def hf_page(items: list[dict[str, Any]], embedded: bool = True) -> bytes:
    """A papers page as the site serves it: JSON in data-props, and one card per paper."""
    props = html.escape(json.dumps({"dailyPapers": items, "dateString": "2026-05-08"}))
    holder = f'<div data-target="DailyPapers" data-props="{props}"></div>' if embedded else ""
    cards = "".join(
        f'<article class="relative flex flex-col"><a href="/papers/{i["paper"]["id"]}">'
        f'<img src="{i["thumbnail"]}"></a><div class="flex"><label class="upvote-button">'
        f'<svg></svg><div class="leading-none">{i["paper"]["upvotes"]}</div></label>'
        f'<h3><a href="/papers/{i["paper"]["id"]}">{html.escape(i["paper"]["title"])}</a></h3>'
        f"<p>{len(i['paper']['authors'])} authors</p></div></article>"
        for i in items
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Daily Papers - Hugging Face"
        f"</title></head><body><main>{holder}<section>{cards}</section></main></body></html>"
    ).encode()


def test_page_fallback_gives_the_same_entries_as_the_api() -> None:
    from_api = source().extract(page(hf_items()))
    html_page = Page(
        url="https://huggingface.co/papers/date/2026-05-08",
        status=200,
        body=hf_page(hf_items()),
        headers={"content-type": "text/html"},
    )
    from_page = source(mode="page").extract(html_page)
    assert len(from_page) == 37
    assert [e.to_dict() for e in from_page] == [e.to_dict() for e in from_api]


def test_page_without_embedded_json_falls_back_to_the_cards() -> None:
    html_page = Page(
        url="https://huggingface.co/papers/date/2026-05-08",
        status=200,
        body=hf_page(hf_items(), embedded=False),
    )
    entries = source().extract(html_page)
    assert len(entries) == 37
    first = entries[0]
    assert first.key == "2605.05242"
    assert first.title.startswith("Beyond Semantic Similarity")
    assert first.link == "https://huggingface.co/papers/2605.05242"
    assert first.score == 86
    assert [e.score for e in entries] == [i["paper"]["upvotes"] for i in hf_items()]


async def test_auto_mode_reads_the_page_when_the_api_fails() -> None:
    def api_down(params: dict[str, str], url: str) -> Page:
        if "/api/" in url:
            raise FetchError("hf", url, "HTTP 502 Bad Gateway", status=502)
        body = hf_page(hf_items()) if url.endswith("2026-05-08") else hf_page([])
        return Page(url=url, status=200, body=body)

    fetcher = FakeFetcher(api_down)
    found = await source(mode="auto").poll(fetcher, NOW)
    assert found is not None and len(found.entries) == 37
    assert fetcher.urls[:2] == [
        "https://huggingface.co/api/daily_papers",
        "https://huggingface.co/papers/date/2026-05-08",
    ]
    with pytest.raises(FetchError, match="502"):
        await source(mode="api").poll(FakeFetcher(api_down), NOW)


async def test_rate_limited_api_is_not_worked_around_through_the_page() -> None:
    def limited(params: dict[str, str], url: str) -> Page:
        raise FetchError("hf", url, "HTTP 429", status=429, retry_after=600)

    fetcher = FakeFetcher(limited)
    with pytest.raises(FetchError):
        await source(mode="auto").poll(fetcher, NOW)
    assert len(fetcher.urls) == 1


@pytest.mark.parametrize(
    ("listing", "query", "url"),
    [
        ("weekly", None, "https://huggingface.co/papers/week/2026-W19"),
        ("monthly", None, "https://huggingface.co/papers/month/2026-05"),
        ("trending", None, "https://huggingface.co/papers/trending"),
        ("search", "diffusion models", "https://huggingface.co/papers?q=diffusion+models"),
    ],
)
def test_each_listing_has_its_page(listing: str, query: str | None, url: str) -> None:
    src = source(listing=listing, query=query)
    assert src.page_url(src.listing_params(NOW)[0]) == url
