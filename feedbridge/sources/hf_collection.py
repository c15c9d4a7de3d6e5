"""One Hugging Face collection as a feed: each item (model, dataset, Space, paper, collection)
an entry with the note its curator gave; one conditional request a poll."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from feedbridge.config.hub import ARXIV_ID, COLLECTION_SLUG
from feedbridge.config.models import HfCollectionConfig
from feedbridge.core.errors import ParseError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.base import Fetcher, Source
from feedbridge.sources.collect import Collector, Extraction, parse_errors
from feedbridge.sources.decoding import load_json
from feedbridge.sources.hub import add_repo, count, hub_time, repo_html, text

_REPO_TYPES = ("model", "dataset", "space")


def _note(item: Mapping[str, Any]) -> str:
    """The curator's note as plain text (the API gives `note: {html, text}`)."""
    note = item.get("note")
    return text(note.get("text"), 500) if isinstance(note, Mapping) else ""


class HfCollectionSource(Source[HfCollectionConfig]):
    """`GET /api/collections/{namespace}/{slug-id}`: the collection with all its items."""

    kind = "hf_collection"

    def __init__(self, config: HfCollectionConfig) -> None:
        super().__init__(config)
        self._upstream_title = ""

    @property
    def base_url(self) -> str:
        return self.config.base_url.rstrip("/")

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/collections/{self.config.collection}"

    @property
    def site_url(self) -> str:
        return f"{self.base_url}/collections/{self.config.collection}"

    @property
    def title(self) -> str:
        """The config's title, else the collection's own (as last polled), else its slug."""
        if self.config.title:
            return self.config.title
        if self._upstream_title:
            return f"{self._upstream_title} (Hugging Face collection)"
        return self.config.display_title

    def identity(self) -> dict[str, str]:
        return {"title": self._upstream_title} if self._upstream_title else {}

    def restore_identity(self, saved: Mapping[str, Any]) -> None:
        self._upstream_title = self._upstream_title or text(saved.get("title"), 200)

    async def poll(self, fetcher: Fetcher, now: datetime) -> Extraction | None:
        page = await fetcher.get(self.url, accept="application/json")
        if page.not_modified:
            return None
        return self.analyze(page)

    def extract(self, page: Page) -> list[Entry]:
        return self.analyze(page).entries

    def analyze(self, page: Page) -> Extraction:
        with parse_errors(self.name, page.url):
            data = load_json(page, self.name)
            items = data.get("items") if isinstance(data, Mapping) else None
            if not isinstance(items, list):
                raise ParseError(self.name, page.url, "expected a collection with a list of items")
            collection = text(data.get("title"), 200) or str(self.config.collection)
            self._upstream_title = collection
            out = Collector(self.name)
            for item in items:
                self._add(out, item, collection)
            out.result.title = collection
            out.result.link = self.site_url
            return out.result

    def _add(self, out: Collector, item: Any, collection: str) -> None:
        if not isinstance(item, Mapping):
            out.skip("not an object")
            return
        kind = item.get("type")
        extra = {
            "note": _note(item) or None,
            "collection": collection,
            "collection_url": self.site_url,
        }
        if kind in _REPO_TYPES:
            add_repo(out, item, kind, self.base_url, self.config.score, extra, f"{kind}:")
        elif kind == "paper":
            self._paper(out, item, extra)
        elif kind == "collection":
            self._collection(out, item, extra)
        else:
            out.skip("unknown item type")

    def _paper(self, out: Collector, item: Mapping[str, Any], extra: dict[str, Any]) -> None:
        arxiv_id = item.get("id")
        if not isinstance(arxiv_id, str) or not ARXIV_ID.fullmatch(arxiv_id):
            out.skip("no valid paper id")
            return
        upvotes = count(item.get("upvotes"))
        link = f"{self.base_url}/papers/{arxiv_id}"
        extras = extra | {
            "repo_type": "paper",
            "arxiv_id": arxiv_id,
            "arxiv_abs": f"https://arxiv.org/abs/{arxiv_id}",
            "arxiv_pdf": f"https://arxiv.org/pdf/{arxiv_id}",
            "upvotes": upvotes,
            "likes": upvotes,  # a paper's likes are its upvotes, for `score = "likes"`
        }
        summary = extras["note"] or ""
        thumbnail = item.get("thumbnailUrl")
        out.add(
            key=f"paper:{arxiv_id}",
            title=text(item.get("title"), 300),
            link=link,
            summary=summary,
            content_html=repo_html(summary, link, extras),
            published=hub_time(item.get("publishedAt")),
            score=float(upvotes) if upvotes is not None and self.config.score == "likes" else None,
            image=thumbnail
            if isinstance(thumbnail, str) and thumbnail.startswith("https://")
            else None,
            extras=extras,
        )

    def _collection(self, out: Collector, item: Mapping[str, Any], extra: dict[str, Any]) -> None:
        slug = item.get("slug")
        if not isinstance(slug, str) or not COLLECTION_SLUG.fullmatch(slug):
            out.skip("no valid collection slug")
            return
        upvotes = count(item.get("upvotes"))
        owner = item.get("owner")
        name = text(owner.get("name"), 100) if isinstance(owner, Mapping) else ""
        link = f"{self.base_url}/collections/{slug}"
        extras = extra | {"repo_type": "collection", "repo_id": slug, "likes": upvotes}
        summary = extras["note"] or text(item.get("description"))
        out.add(
            key=f"collection:{slug}",
            title=text(item.get("title"), 300),
            link=link,
            summary=summary,
            content_html=repo_html(summary, link, extras),
            updated=hub_time(item.get("lastUpdated")),
            authors=[name] if name else [],
            score=float(upvotes) if upvotes is not None and self.config.score == "likes" else None,
            extras=extras,
        )
