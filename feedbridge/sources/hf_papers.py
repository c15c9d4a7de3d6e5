"""The `hf_papers` source: Hugging Face Daily Papers from the JSON API (daily, weekly,
monthly, trending, search), with the papers page as fallback; which requests, in what
order. Reading what they answer is `hf_entries.PaperReader`'s."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from feedbridge.config.models import HfPapersConfig
from feedbridge.core.errors import FetchError, ParseError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.base import Fetcher, Source
from feedbridge.sources.collect import Extraction
from feedbridge.sources.hf_entries import PaperReader

log = logging.getLogger("feedbridge.sources.hf_papers")

_LOOKBACK_DAYS = 7  # daily listing: how far back to look for non-empty papers-days


class HfPapersSource(Source[HfPapersConfig]):
    """Reads `/api/daily_papers` (or `/api/papers/search`) and maps each paper to an entry."""

    kind = "hf_papers"

    def __init__(self, config: HfPapersConfig) -> None:
        super().__init__(config)
        self.papers = PaperReader(self.name, self.base_url)

    @property
    def base_url(self) -> str:
        return self.config.base_url.rstrip("/")

    @property
    def url(self) -> str:
        if self.config.listing == "search":
            return f"{self.base_url}/api/papers/search"
        return f"{self.base_url}/api/daily_papers"

    @property
    def home_url(self) -> str:
        return f"{self.base_url}/papers"

    @property
    def site_name(self) -> str:
        return "Hugging Face"

    @property
    def title(self) -> str:
        if self.config.title:
            return self.config.title
        listing = self.config.listing
        if listing == "search":
            return f"Hugging Face papers: {self.config.query}"
        return f"Hugging Face {listing.capitalize()} Papers"

    def page_url(self, params: Mapping[str, str]) -> str:
        """The papers page that shows the same listing as an API request's parameters."""
        if "date" in params:
            return f"{self.base_url}/papers/date/{params['date']}"
        if "week" in params:
            return f"{self.base_url}/papers/week/{params['week']}"
        if "month" in params:
            return f"{self.base_url}/papers/month/{params['month']}"
        if params.get("sort") == "trending":
            return f"{self.base_url}/papers/trending"
        return f"{self.base_url}/papers?{urlencode({'q': params.get('q', '')})}"

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

    async def poll(self, fetcher: Fetcher, now: datetime) -> Extraction | None:
        """Every listing request (days back, pages on) as one extraction; never unchanged."""
        entries: list[Entry] = []
        days_found = 0
        for params in self.listing_params(now):
            batch = await self._listing(fetcher, params)
            entries.extend(batch)
            if self.config.listing != "daily":
                break
            if batch:
                days_found += 1
            if days_found >= self.config.days:
                break
        return Extraction(entries=entries, items=len(entries))

    async def _listing(self, fetcher: Fetcher, params: Mapping[str, str]) -> list[Entry]:
        """The API's answer; in `auto` mode the page's when the API fails (but not on 429)."""
        mode = self.config.mode
        if mode == "page":
            return await self._from_page(fetcher, params)
        try:
            return await self._paginate(fetcher, params)
        except (FetchError, ParseError) as exc:
            unreachable = isinstance(exc, FetchError) and exc.message.startswith("connection")
            if mode == "api" or unreachable or (isinstance(exc, FetchError) and exc.status == 429):
                raise  # the page is on the same host: no point, or not polite
            log.warning(
                "api failed, reading the papers page",
                extra={"source": self.name, "url": exc.url, "error": exc.message},
            )
            try:
                return await self._from_page(fetcher, params)
            except (FetchError, ParseError) as fallback:
                message = f"{exc.message} (page fallback {fallback.url}: {fallback.message})"
                status = exc.status if isinstance(exc, FetchError) else None
                raise FetchError(self.name, exc.url, message, status=status) from fallback

    async def _from_page(self, fetcher: Fetcher, params: Mapping[str, str]) -> list[Entry]:
        page = await fetcher.get(self.page_url(params), conditional=False, accept="text/html")
        return (await self.read(page)).entries

    async def _paginate(self, fetcher: Fetcher, params: Mapping[str, str]) -> list[Entry]:
        limit = self.config.limit
        entries: list[Entry] = []
        for number in range(self.config.max_pages):
            query = {**params, "limit": str(limit)}
            if number:
                query["p"] = str(number)
            page = await fetcher.get(
                self.url, params=query, conditional=False, accept="application/json"
            )
            batch = (await self.read(page)).entries
            entries.extend(batch)
            if len(batch) < limit:
                break
        return entries

    def extract(self, page: Page) -> list[Entry]:
        """Entries from an API response, or from a papers page (embedded JSON, else cards)."""
        return self.papers.extract(page)
