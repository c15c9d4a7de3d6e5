"""The seam every source kind implements: `Source`, generic over the kind's config model,
and the `Fetcher` it fetches through."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, MutableMapping
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Generic, Protocol

from typing_extensions import TypeVar

from feedbridge.config.models import SourceBase
from feedbridge.core.models import Entry, Page
from feedbridge.sources.collect import Extraction, keep_newest

# The kind's config model (`HtmlConfig`, ...); a bare `Source` is any kind's.
C = TypeVar("C", bound=SourceBase, covariant=True, default=SourceBase)


class Fetcher(Protocol):
    """What a source may use to fetch: feedbridge.fetch.http.Fetcher in production.

    `get` raises FetchError (status >= 400 once retries for 429/503 are spent,
    timeouts, size cap). With `conditional=True` a stored ETag/Last-Modified is
    sent and a 304 comes back as `Page(not_modified=True)`. `validators`: the
    URL's ETag, Last-Modified and body digest kept by the caller instead (a URL
    the source's stored state would not keep): sent, then replaced in place by
    the response's; a 304 or the same body is `not_modified` too. A fetcher with
    no conditional GET (a browser, a snapshot) ignores them.
    """

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
        validators: MutableMapping[str, Any] | None = None,
    ) -> Page: ...


class Offload(Protocol):
    """Where large pages are examined off the event loop (feedbridge.sources.offload)."""

    def wants(self, source: Source, page: Page) -> bool:
        """Whether this page is worth the trip to another process."""
        ...

    async def examine(self, source: Source, page: Page) -> Extraction:
        """`source.examine_kept(page)`, in another process."""
        ...


class Source(ABC, Generic[C]):
    """One configured source. `examine` and `extract` are pure; `poll` does the fetching."""

    kind: ClassVar[str]
    # set by `feedbridge run`: pages it wants are examined in another process
    offload: Offload | None = None

    def __init__(self, config: C) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the config: a changed config must re-read an unchanged page."""
        return hashlib.sha256(repr(self.config).encode()).hexdigest()[:16]

    @property
    @abstractmethod
    def url(self) -> str:
        """The page or API URL this source reads, for logs, errors and the index page."""

    @property
    def title(self) -> str:
        """Human title of the feed."""
        return self.config.title or self.name

    @property
    def home_url(self) -> str:
        """The site the feed is about, as the source knows it (secrets and all)."""
        return self.url

    @property
    def site_name(self) -> str:
        """What the upstream site calls itself, when the source knows (else its host is used)."""
        return ""

    @property
    def author(self) -> str:
        """The upstream feed's own author, when it names one."""
        return ""

    @property
    def site_url(self) -> str:
        """The site the feed is about, as published (the feed's alternate link, the index
        page, OPML): `home_url` without what came from `${ENV}` or a `*_file`."""
        return self.config.secrets.public_url(self.home_url)

    def mask(self, text: str) -> str:
        """`text` (an error, a warning naming the URL) with the config's secrets as `***`."""
        return self.config.secrets.mask(text)

    def without_secrets(self, extraction: Extraction) -> Extraction:
        """The extraction with no secret in what entries publish: a link resolved against a
        URL that holds one (`href="#x"` keeps the page's `?api_key=...`) loses it."""
        secrets = self.config.secrets
        if not secrets:
            return extraction
        entries = []
        for entry in extraction.entries:
            if secrets.hides(entry.link) or secrets.hides(entry.image or ""):
                entry = replace(
                    entry,
                    link=secrets.public_url(entry.link),
                    image=secrets.public_url(entry.image) if entry.image else entry.image,
                )
            texts = (entry.key, entry.content_html, entry.summary)
            if any(map(secrets.hides, texts)):  # a key made of the link is published too
                entry = replace(
                    entry,
                    key=secrets.mask(entry.key),
                    content_html=secrets.mask(entry.content_html),
                    summary=secrets.mask(entry.summary),
                )
            entries.append(entry)
        return replace(extraction, entries=entries)

    def identity(self) -> dict[str, str]:
        """What the last poll learnt of the upstream (its title, its site), for the stored state."""
        return {}

    def restore_identity(self, saved: Mapping[str, Any]) -> None:
        """Take back `identity()` from the stored state, so a restart serves the same titles."""
        return None

    async def poll(self, fetcher: Fetcher, now: datetime) -> Extraction | None:
        """Fetch and extract: the entries with what was skipped and any warning; None means
        unchanged since the last poll (304, or the very same body)."""
        page = await fetcher.get(self.url)
        if page.not_modified:
            return None
        return await self.read(page)

    @abstractmethod
    def extract(self, page: Page) -> list[Entry]:
        """Turn one fetched page into entries; raises ParseError naming source and URL."""

    def examine(self, page: Page) -> Extraction:
        """`extract` with what `preview` shows (kinds with selectors add match counts); pure,
        so that it can run in another process, and `learn` takes in the rest."""
        entries = self.extract(page)
        return Extraction(entries=entries, items=len(entries))

    def learn(self, extraction: Extraction) -> None:
        """Keep what an extraction says of the upstream (its title, its site)."""
        return None

    def examine_kept(self, page: Page) -> Extraction:
        """`examine`, its entries cut to the newest `keep`: what a poll takes of a page."""
        return keep_newest(self.examine(page), self.config.keep)

    def analyze(self, page: Page) -> Extraction:
        """`examine_kept`, then `learn`: one page read here, on this thread."""
        extraction = self.examine_kept(page)
        self.learn(extraction)
        return extraction

    async def read(self, page: Page) -> Extraction:
        """`analyze`, off the event loop when `offload` wants the page (a large one)."""
        if self.offload is None or not self.offload.wants(self, page):
            return self.analyze(page)
        extraction = await self.offload.examine(self, page)
        self.learn(extraction)
        return extraction
