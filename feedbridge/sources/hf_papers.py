"""Hugging Face Daily Papers: the JSON API (daily, weekly, monthly, trending, search)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from feedbridge.errors import ParseError
from feedbridge.models import Entry, Page
from feedbridge.sources.base import Fetcher, Source

log = logging.getLogger("feedbridge.sources.hf_papers")

_SPACES = re.compile(r"\s+")
_LOOKBACK_DAYS = 7  # daily listing: how far back to look for non-empty papers-days


def _text(value: Any) -> str:
    return _SPACES.sub(" ", value).strip() if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _name(person: Any) -> str | None:
    if not isinstance(person, Mapping):
        return None
    return _text(person.get("fullname")) or _text(person.get("name")) or None


class HfPapersSource(Source):
    """Reads `/api/daily_papers` (or `/api/papers/search`) and maps each paper to an entry."""

    kind = "hf_papers"

    @property
    def base_url(self) -> str:
        return str(self.config.base_url).rstrip("/")

    @property
    def url(self) -> str:
        if self.config.listing == "search":
            return f"{self.base_url}/api/papers/search"
        return f"{self.base_url}/api/daily_papers"

    @property
    def site_url(self) -> str:
        return f"{self.base_url}/papers"

    @property
    def title(self) -> str:
        if self.config.title:
            return str(self.config.title)
        listing = self.config.listing
        if listing == "search":
            return f"Hugging Face papers: {self.config.query}"
        return f"Hugging Face {listing.capitalize()} Papers"

    def listing_params(self, now: datetime) -> list[dict[str, str]]:
        """Query parameters of each listing request, before pagination."""
        listing = self.config.listing
        today = now.astimezone(UTC).date()
        if listing == "daily":
            return [
                {"date": (today - timedelta(days=n)).isoformat()} for n in range(_LOOKBACK_DAYS)
            ]
        if listing == "weekly":
            year, week, _ = today.isocalendar()
            return [{"week": f"{year}-W{week:02d}"}]
        if listing == "monthly":
            return [{"month": f"{today.year}-{today.month:02d}"}]
        if listing == "trending":
            return [{"sort": "trending"}]
        return [{"q": str(self.config.query)}]

    async def poll(self, fetcher: Fetcher, now: datetime) -> list[Entry] | None:
        entries: list[Entry] = []
        days_found = 0
        for params in self.listing_params(now):
            batch = await self._paginate(fetcher, params)
            entries.extend(batch)
            if self.config.listing != "daily":
                break
            if batch:
                days_found += 1
            if days_found >= self.config.days:
                break
        return entries

    async def _paginate(self, fetcher: Fetcher, params: Mapping[str, str]) -> list[Entry]:
        limit = int(self.config.limit)
        entries: list[Entry] = []
        for number in range(int(self.config.max_pages)):
            query = {**params, "limit": str(limit)}
            if number:
                query["p"] = str(number)
            page = await fetcher.get(
                self.url, params=query, conditional=False, accept="application/json"
            )
            batch = self.extract(page)
            entries.extend(batch)
            if len(batch) < limit:
                break
        return entries

    def extract(self, page: Page) -> list[Entry]:
        items = self._items(page)
        entries = []
        for item in items:
            entry = self.entry(item)
            if entry is not None:
                entries.append(entry)
        return entries

    def _items(self, page: Page) -> list[Any]:
        body = page.body.lstrip()
        if not body:
            raise ParseError(self.name, page.url, "empty response, expected JSON")
        if body[:1] == b"<":
            raise ParseError(self.name, page.url, "response is HTML, expected JSON")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(self.name, page.url, f"invalid JSON: {exc}") from exc
        if isinstance(data, Mapping):
            data = data.get("dailyPapers", data.get("papers", data.get("results")))
        if not isinstance(data, list):
            raise ParseError(self.name, page.url, "expected a JSON list of papers")
        return data

    def entry(self, item: Any) -> Entry | None:
        """One API item (`{paper: {...}, ...}` or a bare paper) as an entry; None if unusable."""
        if not isinstance(item, Mapping):
            return None
        nested = item.get("paper")
        paper: Mapping[str, Any] = nested if isinstance(nested, Mapping) else item
        arxiv_id = _text(paper.get("id"))
        title = _text(paper.get("title")) or _text(item.get("title"))
        if not arxiv_id or not title:
            return None
        authors = tuple(
            name
            for a in paper.get("authors") or ()
            if isinstance(a, Mapping) and not a.get("hidden") and (name := _text(a.get("name")))
        )
        upvotes = paper.get("upvotes")
        score = float(upvotes) if isinstance(upvotes, int | float) else None
        published = _time(paper.get("publishedAt"))
        updated = _time(paper.get("submittedOnDailyAt")) or published
        link = f"{self.base_url}/papers/{arxiv_id}"
        organization = item.get("organization") or paper.get("organization")
        keywords = [k for k in paper.get("ai_keywords") or () if isinstance(k, str)]
        extras: dict[str, Any] = {
            "arxiv_id": arxiv_id,
            "arxiv_abs": f"https://arxiv.org/abs/{arxiv_id}",
            "arxiv_pdf": f"https://arxiv.org/pdf/{arxiv_id}",
            "upvotes": int(score) if score is not None else None,
            "num_authors": len(authors),
            "organization": _name(organization),
            "submitter": _name(item.get("submittedBy")) or _name(paper.get("submittedOnDailyBy")),
            "comments": item.get("numComments")
            if isinstance(item.get("numComments"), int)
            else None,
            "github": _text(paper.get("githubRepo")) or None,
            "github_stars": paper.get("githubStars")
            if isinstance(paper.get("githubStars"), int)
            else None,
            "project_page": _text(paper.get("projectPage")) or None,
            "ai_summary": _text(paper.get("ai_summary")) or None,
            "keywords": keywords,
        }
        summary = _text(paper.get("summary")) or _text(item.get("summary"))
        thumbnail = item.get("thumbnail")
        return Entry(
            source=self.name,
            key=arxiv_id,
            title=title,
            link=link,
            summary=summary,
            content_html=paper_html(summary, authors, link, extras),
            published=published,
            updated=updated,
            authors=authors,
            score=score,
            image=thumbnail if isinstance(thumbnail, str) and thumbnail else None,
            extras=extras,
        )


def paper_html(summary: str, authors: tuple[str, ...], link: str, extras: Mapping[str, Any]) -> str:
    """The entry's feed content: facts line, links, AI summary and abstract, all escaped."""
    facts = []
    if extras.get("upvotes") is not None:
        facts.append(f"▲ {extras['upvotes']} upvotes")
    if extras.get("comments"):
        facts.append(f"{extras['comments']} comments")
    if extras.get("organization"):
        facts.append(f"Organization: {extras['organization']}")
    if extras.get("submitter"):
        facts.append(f"Submitted by {extras['submitter']}")
    links = [
        (link, "Hugging Face"),
        (extras["arxiv_abs"], "arXiv"),
        (extras["arxiv_pdf"], "PDF"),
    ]
    if extras.get("github"):
        stars = extras.get("github_stars")
        links.append((extras["github"], f"Code ({stars} ★)" if stars else "Code"))
    if extras.get("project_page"):
        links.append((extras["project_page"], "Project page"))
    parts = []
    if authors:
        shown = ", ".join(authors[:12]) + (
            f" and {len(authors) - 12} more" if len(authors) > 12 else ""
        )
        parts.append(f"<p><strong>Authors:</strong> {escape(shown)}</p>")
    if facts:
        parts.append(f"<p>{escape(' · '.join(facts))}</p>")
    anchors = " · ".join(f'<a href="{escape(url)}">{escape(label)}</a>' for url, label in links)
    parts.append(f"<p>{anchors}</p>")
    if extras.get("ai_summary"):
        parts.append(f"<p><em>AI summary:</em> {escape(extras['ai_summary'])}</p>")
    if summary:
        parts.append(f"<p>{escape(summary)}</p>")
    return "\n".join(parts)
