"""Hugging Face models, datasets or Spaces from the Hub's listing API as a feed: the new repos of
some authors, a search, tags or a task, sorted as the Hub sorts them; a poll makes at most
`max_requests` requests, the first page of each listing conditional."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from feedbridge.config.hub import EXPAND
from feedbridge.config.models import HfReposConfig
from feedbridge.core.errors import FetchError, ParseError, SourceError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.base import Fetcher, Source
from feedbridge.sources.collect import Collector, Extraction, parse_errors
from feedbridge.sources.decoding import load_json
from feedbridge.sources.hub import (
    API_PATH,
    SORT_PARAM,
    Requests,
    add_repo,
    listing_url,
)
from feedbridge.sources.text import clean_text

log = logging.getLogger("feedbridge.sources.hf_repos")

_SCALARS = (str, int, float, bool)


def expanded(item: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """The properties `expand` added, where they are strings, numbers or short lists of them."""
    kept: dict[str, Any] = {}
    for name in names:
        value = item.get(name)
        if isinstance(value, str):
            kept[name] = clean_text(value)[:300]
        elif isinstance(value, _SCALARS):
            kept[name] = value
        elif isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value[:30]):
            kept[name] = [clean_text(v)[:100] if isinstance(v, str) else v for v in value[:30]]
    return kept


class HfReposSource(Source[HfReposConfig]):
    """`/api/models|datasets|spaces` with author(s), search, filter, pipeline_tag, sort."""

    kind = "hf_repos"

    @property
    def base_url(self) -> str:
        return self.config.base_url.rstrip("/")

    @property
    def url(self) -> str:
        return self.listing_url(self.config.author[0] if self.config.author else None)

    @property
    def site_url(self) -> str:
        """The Hub's own page of the same listing (one author's, or the search's)."""
        params = [("author", a) for a in self.config.author[:1] if len(self.config.author) == 1]
        params += [("search", self.config.search)] if self.config.search else []
        params += [("pipeline_tag", self.config.pipeline_tag)] if self.config.pipeline_tag else []
        params.append(("sort", self.config.sort))
        return f"{self.base_url}/{API_PATH[self.config.type]}?{urlencode(params)}"

    @property
    def title(self) -> str:
        return self.config.display_title

    def params(self, author: str | None) -> list[tuple[str, str]]:
        """The listing's query: repeated `filter` and `expand` keys, as huggingface_hub sends."""
        config = self.config
        params = [("author", author)] if author else []
        params += [("search", config.search)] if config.search else []
        params += [("filter", tag) for tag in config.filter]
        params += [("pipeline_tag", config.pipeline_tag)] if config.pipeline_tag else []
        params += [
            ("sort", SORT_PARAM[config.sort]),
            ("direction", "-1" if config.direction == "desc" else "1"),
            ("limit", str(config.limit)),
        ]
        wanted = dict.fromkeys([*EXPAND[config.type], *config.expand])
        return params + [("expand", name) for name in wanted]

    def listing_url(self, author: str | None) -> str:
        return listing_url(self.base_url, self.config.type, self.params(author))

    async def poll(self, fetcher: Fetcher, now: datetime) -> Extraction | None:
        """Every author's listing; one that fails while others answer is a warning and keeps
        its repos from the last poll (429 stops the poll: the Hub asked us to wait)."""
        authors: list[str | None] = list(self.config.author) or [None]
        requests = Requests(fetcher, self.name, self.config.max_requests)
        allowance = max(1, requests.cap // len(authors))
        out = Collector(self.name)
        changed, failed = False, []
        for author in authors:
            url = self.listing_url(author)
            try:
                items = await requests.listing(url, self.base_url, self.config.limit, allowance)
            except SourceError as exc:
                if len(authors) == 1 or (isinstance(exc, FetchError) and exc.status == 429):
                    raise
                failed.append(exc)
                continue
            if items is not None:
                changed = True
                with parse_errors(self.name, url):
                    for item in items:
                        self.add(out, item)
        if failed and (not changed or len(failed) == len(authors)):
            raise failed[0]
        if not changed:
            return None
        if failed:
            out.result.warning = "; ".join(f"{e.url}: {e.message}" for e in failed) + (
                " (their repos are kept from the last poll)"
            )
        log.debug("hub requests", extra={"source": self.name, "requests": requests.made})
        return out.result

    def add(self, out: Collector, item: Any) -> None:
        extra = expanded(item, list(self.config.expand)) if isinstance(item, Mapping) else {}
        add_repo(out, item, self.config.type, self.base_url, self.config.score, extra)

    def extract(self, page: Page) -> list[Entry]:
        return self.analyze(page).entries

    def analyze(self, page: Page) -> Extraction:
        """One listing response as entries (what `preview` and the tests read)."""
        with parse_errors(self.name, page.url):
            data = load_json(page, self.name)
            if not isinstance(data, list):
                raise ParseError(self.name, page.url, "expected a JSON list of repos")
            out = Collector(self.name)
            for item in data:
                self.add(out, item)
            return out.result
