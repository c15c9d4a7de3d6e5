"""Hugging Face papers as entries: the API's items, a papers page's embedded JSON (else its
cards), and each entry's HTML content. Pure: `HfPapersSource` fetches, this reads."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from feedbridge.core.errors import ParseError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.collect import parse_errors
from feedbridge.sources.decoding import parse_html
from feedbridge.sources.markup import resolve_url
from feedbridge.sources.text import MAX_TAGS

log = logging.getLogger("feedbridge.sources.hf_papers")

_PAPER_LINK = re.compile(r"/papers/(\d{4}\.\d{4,5})(?:v\d+)?(?:[/?#]|$)")
_NUMBER = re.compile(r"\d[\d,]*")


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


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


class PaperReader:
    """Reads one hf_papers source's answers: `name` is the source's, `base_url` the site's
    (links to each paper's page)."""

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.base_url = base_url

    def extract(self, page: Page) -> list[Entry]:
        """Entries from an API response, or from a papers page (embedded JSON, else cards)."""
        if "/api/" not in page.url and page.body.lstrip()[:1] == b"<":
            with parse_errors(self.name, page.url):
                return self._extract_page(page)
        items = self._items(page)
        entries = []
        for item in items:
            entry = self.entry(item)
            if entry is not None:
                entries.append(entry)
        return entries

    def _items(self, page: Page) -> list[Any]:
        """The papers of an API answer (a list, or one under `dailyPapers`/`papers`/...)."""
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

    def _extract_page(self, page: Page) -> list[Entry]:
        """A papers page: the JSON it embeds for its own scripts, else its cards."""
        tree = parse_html(page.body, page.encoding)
        holder = tree.css_first('[data-target="DailyPapers"]')
        props = holder.attributes.get("data-props") if holder is not None else None
        if props:
            try:
                data = json.loads(props)
            except ValueError as exc:
                raise ParseError(self.name, page.url, f"invalid embedded JSON: {exc}") from exc
            items = data.get("dailyPapers") if isinstance(data, Mapping) else None
            if isinstance(items, list):
                return [e for e in map(self.entry, items) if e is not None]
        log.warning(
            "no embedded papers JSON, reading the cards",
            extra={"source": self.name, "url": page.url},
        )
        return self._cards(tree, page.url)

    def _cards(self, tree: LexborHTMLParser, url: str) -> list[Entry]:
        """Last resort: title, link and upvotes from each `article` card."""
        entries: list[Entry] = []
        seen: set[str] = set()
        for card in tree.css("article"):
            anchor = card.css_first("h3 a")
            href = anchor.attributes.get("href") if anchor is not None else None
            found = _PAPER_LINK.search(href or "")
            if anchor is None or not found or found[1] in seen:
                continue
            arxiv_id = found[1]
            seen.add(arxiv_id)
            votes = card.css_first('[class*="upvote"], [aria-label*="upvote" i]')
            number = _NUMBER.search(votes.text(separator=" ") if votes is not None else "")
            if number is None:
                number = next(
                    (
                        m
                        for t in card.text(separator="\n").splitlines()
                        if (m := _NUMBER.fullmatch(t.strip()))
                    ),
                    None,
                )
            score = float(number[0].replace(",", "")) if number else None
            title = _text(anchor.text(separator=" "))
            link = f"{self.base_url}/papers/{arxiv_id}"
            extras = {
                "arxiv_id": arxiv_id,
                "arxiv_abs": f"https://arxiv.org/abs/{arxiv_id}",
                "arxiv_pdf": f"https://arxiv.org/pdf/{arxiv_id}",
                "upvotes": int(score) if score is not None else None,
            }
            entries.append(
                Entry(
                    source=self.name,
                    key=arxiv_id,
                    title=title,
                    link=link,
                    content_html=paper_html("", (), link, extras),
                    score=score,
                    extras=extras,
                )
            )
        return entries

    def _link(self, value: Any) -> str | None:
        """An absolute http(s) URL from a link field (relative ones against the site), else
        None: `javascript:`, `data:` and the like never reach a feed or a message."""
        return resolve_url(value, self.base_url) if isinstance(value, str) else None

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
        listed = paper.get("ai_keywords")
        keywords = [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []
        keywords = keywords[:MAX_TAGS]
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
            "github": self._link(paper.get("githubRepo")),
            "github_stars": paper.get("githubStars")
            if isinstance(paper.get("githubStars"), int)
            else None,
            "project_page": self._link(paper.get("projectPage")),
            "ai_summary": _text(paper.get("ai_summary")) or None,
            "keywords": keywords,
        }
        summary = _text(paper.get("summary")) or _text(item.get("summary"))
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
            image=self._link(item.get("thumbnail")),
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
