"""Paste a URL, get a feed: find the lists of entries on a page and write the source for them.

`detect_url` fetches a page (and the feeds it advertises) and returns a `Detection`: every
candidate list, best first, each with the `[[sources]]` table that reads it and the entries
that table yields from the page, checked through the real source kinds. `detect_page` does
the same for a page already fetched, without fetching anything (the web page and `preview`
use it); `as_toml` writes a candidate's table for a config file. A Hugging Face Hub URL is
read from the Hub's API instead of its page (`detect.hub`): its table is the one candidate.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from feedbridge.core.errors import FeedbridgeError
from feedbridge.detect.detector import Fetch, detect_page, detect_view, refused
from feedbridge.detect.feeds import feed_candidate, feed_links
from feedbridge.detect.hub import hub_candidate, hub_detection, hub_table
from feedbridge.detect.page import PageView, TooDeep
from feedbridge.detect.result import Candidate, Detection
from feedbridge.fetch.browser import BrowserFetcher, BrowserPool, BrowserSettings, PageOptions
from feedbridge.fetch.http import HttpClient, HttpSettings
from feedbridge.sources.base import Fetcher

# with nothing named to wait for, the browser waits while links keep appearing: it scrolls
# and waits up to 3 s for more, twice (what `scroll` does for a source's items)
SETTLE_ROUNDS = 2
_FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/feed+json, */*;q=0.5"


async def detect(
    url: str, fetcher: Fetcher, *, feeds: Fetcher | None = None, fetch: Fetch = "http"
) -> Detection:
    """Fetch `url` once with `fetcher`, its advertised feeds with `feeds` (else `fetcher`); a
    Hub URL's table is checked through the API with `feeds` (else `fetcher`), its page unread."""
    hub = hub_table(url)
    if hub is not None:
        return hub_detection(url, await hub_candidate(hub, feeds or fetcher))
    page = await fetcher.get(url, conditional=False)
    try:
        view = PageView.read(page)
    except TooDeep as exc:
        return refused(page, exc, fetch)
    found: list[Candidate] = []
    for link in feed_links(view):
        try:
            feed = await (feeds or fetcher).get(link.url, conditional=False, accept=_FEED_ACCEPT)
        except FeedbridgeError as exc:
            found.append(feed_candidate(link, str(exc)))
        else:
            found.append(feed_candidate(link, feed))
    return detect_view(view, fetch=fetch, more=found)


async def detect_url(
    url: str,
    *,
    fetch: Fetch = "http",
    http: HttpSettings | None = None,
    browser: BrowserSettings | None = None,
    wait_for: str | None = None,
) -> Detection:
    """`detect` with this process's own HTTP client (and browser, for `fetch = "browser"`)."""
    async with HttpClient(http) as client:
        plain = client.fetcher("detect")
        if fetch == "http" or hub_table(url) is not None:  # the Hub's API needs no browser
            return await detect(url, plain)
        async with BrowserPool(browser) as pool:
            options = PageOptions(item="a[href]", wait_for=wait_for, scroll=SETTLE_ROUNDS)
            return await detect(url, BrowserFetcher(pool, "detect", options), feeds=plain,
                                fetch="browser")  # fmt: skip


def source_name(url: str) -> str:
    """A source name from a URL: its host and path as lowercase words ("example-com-blog")."""
    parts = urlsplit(url)
    words = re.findall(r"[a-z0-9]+", f"{parts.hostname or ''} {parts.path}".lower())
    words = [w for w in words if w not in ("www", "html", "htm", "php", "index")]
    return "-".join(words)[:64].strip("-") or "detected"


def as_toml(candidate: Candidate, name: str) -> str:
    """The candidate's `[[sources]]` block, ready for a config file."""
    table: dict[str, Any] = candidate.table(name)  # flat: strings only, no sub-tables
    return "[[sources]]\n" + tomli_w.dumps(table)


__all__ = [
    "Candidate",
    "Detection",
    "as_toml",
    "detect",
    "detect_page",
    "detect_url",
    "source_name",
]
