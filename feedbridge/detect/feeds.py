"""Feeds a page advertises (`<link rel="alternate">` of RSS, Atom or JSON Feed), each read by a
`feed` source to show what it holds."""

from __future__ import annotations

from dataclasses import dataclass

from feedbridge.core.models import Page
from feedbridge.core.wording import plural
from feedbridge.detect.page import PageView
from feedbridge.detect.result import Candidate
from feedbridge.detect.verify import run
from feedbridge.sources.markup import resolve_url

MAX_FEEDS = 3  # advertised feeds fetched
_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS",
}
_LESSER = ("comment", "kommentar", "commentaire")  # a comments feed is not the page's list


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    title: str
    format: str

    @property
    def lesser(self) -> bool:
        return any(word in self.title.lower() for word in _LESSER)


def feed_links(view: PageView) -> list[FeedLink]:
    """Advertised feeds, the page's own first and comments feeds last."""
    out: dict[str, FeedLink] = {}
    for node in view.tree.css("link[rel][href][type]"):
        attrs = node.attributes
        rels = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rels or kind not in _TYPES:
            continue
        url = resolve_url(attrs.get("href"), view.base)
        if url and url not in out:
            out[url] = FeedLink(url, (attrs.get("title") or "").strip(), _TYPES[kind])
    return sorted(out.values(), key=lambda link: link.lesser)[:MAX_FEEDS]


def feed_candidate(link: FeedLink, page: Page | str) -> Candidate:
    """The `feed` source of an advertised feed, with the entries it holds (or why none)."""
    table = {"kind": "feed", "url": link.url}
    named = f" {link.title!r}" if link.title else ""
    if isinstance(page, str):
        return Candidate("feed", f"{link.format} feed{named}", table, (), 0.0, page)
    result = run(table, page)
    if isinstance(result, str):
        return Candidate("feed", f"{link.format} feed{named}", table, (), 0.0, result)
    entries = tuple(result.entries)
    description = f"{link.format} feed{named} with {plural(len(entries), 'entry')}"
    problem = None if entries else "the feed has no entries"
    score = float(len(entries)) * (0.1 if link.lesser else 1.0)
    return Candidate("feed", description, table, entries, score, problem, {}, result.items)
