"""The Hugging Face Hub's JSON API as the Hub sources read it (hf_repos, hf_collection, paper
artifacts): repo ids and links, one listed repo as an entry, `Link: rel="next"` pagination and
the cap on requests per poll. Field names follow `huggingface_hub`'s ModelInfo, DatasetInfo,
SpaceInfo and CollectionItem parsing (see tests/data/hf/README.md)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from feedbridge.config.hub import REPO_ID
from feedbridge.core.errors import ParseError
from feedbridge.core.models import Page
from feedbridge.core.wording import repo_facts
from feedbridge.sources.base import Fetcher
from feedbridge.sources.collect import Collector
from feedbridge.sources.decoding import load_json
from feedbridge.sources.text import MAX_TAGS, clean_text, shorten

log = logging.getLogger("feedbridge.sources.hub")

API_PATH = {"model": "models", "dataset": "datasets", "space": "spaces"}
PAGE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
SORT_PARAM = {
    "created": "createdAt",
    "trending": "trendingScore",
    "likes": "likes",
    "downloads": "downloads",
    "modified": "lastModified",
}
_SUMMARY_LIMIT = 300
_LINK = re.compile(r"<([^<>\s]+)>([^<]*)")
_REL_NEXT = re.compile(r"""(?:^|;)\s*rel\s*=\s*"?([^";]*)"?""")


def repo_link(base_url: str, repo_type: str, repo_id: str) -> str:
    """The repo's page on the Hub: /{id}, /datasets/{id} or /spaces/{id}."""
    return f"{base_url}/{PAGE_PREFIX[repo_type]}{repo_id}"


def hub_time(value: Any) -> datetime | None:
    """An ISO 8601 time as the Hub writes it (`2026-05-08T10:01:31.000Z`), aware; else None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def count(value: Any) -> int | None:
    """A non-negative whole number from the API (likes, downloads, parameters), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return int(value) if 0 <= value < 1e18 else None


def text(value: Any, limit: int = _SUMMARY_LIMIT) -> str:
    """A string field as one clean line, cut at a word; anything else is ''."""
    return shorten(clean_text(value), limit) if isinstance(value, str) else ""


def strings(value: Any, limit: int = MAX_TAGS) -> list[str]:
    """The first `limit` non-empty strings of a JSON list (tags), each cut to 100 characters."""
    if not isinstance(value, list):
        return []
    found = (text(v, 100) for v in value[: limit * 2])
    return [v for v in found if v][:limit]


def summary_line(item: Mapping[str, Any]) -> str:
    """The card's one-line summary where the API gives one: a Space's short description, a
    dataset's description (its first line); models carry none in listings."""
    card = item.get("cardData")
    card_line = card.get("short_description") if isinstance(card, Mapping) else None
    for value in (card_line, item.get("shortDescription"), item.get("ai_short_description")):
        if line := text(value):
            return line
    description = item.get("description")
    if not isinstance(description, str):
        return ""
    # the Hub's description is the card's text with its headings ("Dataset Card for X") as
    # lines of their own: the first line that reads as a sentence is the summary
    lines = [clean_text(line) for line in description[:20_000].splitlines()]
    lines = [line for line in lines if line]
    sentence = next((line for line in lines if len(line.split()) >= 5), None)
    return text(sentence or (lines[0] if lines else ""))


def repo_extras(item: Mapping[str, Any], repo_type: str, repo_id: str) -> dict[str, Any]:
    """The facts of one listed repo, JSON-compatible, under the template variables' names."""
    safetensors = item.get("safetensors")
    total = safetensors.get("total") if isinstance(safetensors, Mapping) else None
    trending = item.get("trendingScore")
    return {
        "repo_id": repo_id,
        "repo_type": repo_type,
        "likes": count(item.get("likes")),
        "downloads": count(item.get("downloads")),
        "trending_score": count(trending),
        "pipeline_tag": text(item.get("pipeline_tag"), 60) or None,
        "library": text(item.get("library_name"), 60) or None,
        "parameters": count(total) or count(item.get("numParameters")),
        "sdk": text(item.get("sdk"), 30) or None,
        "gated": item.get("gated") in ("auto", "manual", True),
        "tags": strings(item.get("tags")),
    }


def score_of(extras: Mapping[str, Any], score: str) -> float | None:
    """The number a target's `min_score` compares: likes, downloads or the trending score."""
    value = extras.get({"trending": "trending_score"}.get(score, score))
    return float(value) if value is not None else None


def repo_html(summary: str, link: str, extras: Mapping[str, Any]) -> str:
    """A repo entry's feed content: facts, summary or the curator's note, tags, links; escaped."""
    parts = [f"<p>{escape(repo_facts(extras))}</p>"]
    if extras.get("note"):
        parts.append(f"<p><em>Note:</em> {escape(extras['note'])}</p>")
    if summary and summary != extras.get("note"):
        parts.append(f"<p>{escape(summary)}</p>")
    if extras.get("tags"):
        parts.append(f"<p>Tags: {escape(', '.join(extras['tags']))}</p>")
    anchors = [(link, "Hugging Face")]
    if extras.get("paper_link"):
        anchors.append((extras["paper_link"], f"Paper: {extras.get('paper_title') or ''}"))
    if extras.get("collection_url"):
        anchors.append((extras["collection_url"], f"Collection: {extras.get('collection')}"))
    parts.append(
        "<p>" + " · ".join(f'<a href="{escape(u)}">{escape(t)}</a>' for u, t in anchors) + "</p>"
    )
    return "\n".join(parts)


def add_repo(
    out: Collector,
    item: Any,
    repo_type: str,
    base_url: str,
    score: str,
    extra: Mapping[str, Any] | None = None,
    key_prefix: str = "",
) -> None:
    """One listed repo (ModelInfo/DatasetInfo/SpaceInfo shape) into `out`, or counted as skipped."""
    if not isinstance(item, Mapping):
        out.skip("not an object")
        return
    repo_id = item.get("id") or item.get("modelId")
    if not isinstance(repo_id, str) or not REPO_ID.fullmatch(repo_id):
        out.skip("no valid repo id")
        return
    extras = repo_extras(item, repo_type, repo_id) | dict(extra or {})
    link = repo_link(base_url, repo_type, repo_id)
    namespace, slash, _ = repo_id.partition("/")
    author = text(item.get("author"), 100) or (namespace if slash else "")
    summary = summary_line(item) or str(extras.get("note") or "")
    out.add(
        key=f"{key_prefix}{repo_id}",
        title=repo_id,
        link=link,
        summary=summary,
        content_html=repo_html(summary, link, extras),
        published=hub_time(item.get("createdAt")),
        updated=hub_time(item.get("lastModified")),
        authors=[author] if author else [],
        score=score_of(extras, score),
        extras=extras,
    )


def listing_url(base_url: str, repo_type: str, params: Sequence[tuple[str, str]]) -> str:
    """`/api/models|datasets|spaces?…`; repeated keys (filter, expand) as the Hub reads them."""
    return f"{base_url}/api/{API_PATH[repo_type]}?{urlencode(list(params))}"


def next_link(page: Page, base_url: str) -> str | None:
    """The `Link: <…>; rel="next"` URL, only if it stays on the Hub and on the same API path:
    a hostile header must not send the poll anywhere else."""
    header = page.headers.get("link", "")
    for found in _LINK.finditer(header[:8192]):
        url, params = found.groups()
        if not any(m.group(1).strip() == "next" for m in _REL_NEXT.finditer(params)):
            continue
        target, here, hub = urlsplit(url), urlsplit(page.url), urlsplit(base_url)
        if (target.scheme, target.netloc) != (hub.scheme, hub.netloc) or target.path != here.path:
            log.warning("pagination link ignored", extra={"url": page.url, "link": url[:200]})
            return None
        return url
    return None


class Requests:
    """One poll's requests to the Hub: each counted against the source's `max_requests`."""

    def __init__(self, fetcher: Fetcher, source: str, cap: int) -> None:
        self.fetcher = fetcher
        self.source = source
        self.cap = cap
        self.made = 0

    @property
    def left(self) -> int:
        return self.cap - self.made

    async def get(self, url: str, *, conditional: bool) -> Page:
        """One counted GET (callers stay within `left`); FetchError as the fetcher raises it."""
        self.made += 1
        return await self.fetcher.get(url, conditional=conditional, accept="application/json")

    async def listing(
        self, url: str, base_url: str, limit: int, allowance: int
    ) -> list[Any] | None:
        """Up to `limit` items of a paginated listing in at most `allowance` requests; None
        when its first page is unchanged since the last poll (304 or the same body)."""
        items: list[Any] = []
        next_url: str | None = url
        for number in range(max(1, min(allowance, self.left))):
            if next_url is None or len(items) >= limit:
                break
            page = await self.get(next_url, conditional=number == 0)
            if page.not_modified:
                return None
            data = load_json(page, self.source)
            if not isinstance(data, list):
                raise ParseError(self.source, page.url, "expected a JSON list of repos")
            items.extend(data)
            next_url = next_link(page, base_url)
        else:
            if next_url is not None and len(items) < limit:
                log.info(
                    "request cap reached, listing cut",
                    extra={"source": self.source, "items": len(items), "url": url},
                )
        return items[:limit]
