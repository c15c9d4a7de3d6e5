"""What the `html` and `json` sources share: a page of items whose fields the config picks
(CSS selectors or JMESPath expressions), its link pattern, dates' timezone and feed title."""

from __future__ import annotations

import re
from abc import abstractmethod
from datetime import tzinfo
from typing import TypeVar

from feedbridge.config.models import HtmlConfig, JsonConfig
from feedbridge.core.errors import ConfigError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.base import Source
from feedbridge.sources.collect import Collector, Extraction, parse_errors
from feedbridge.sources.values import load_timezone

ItemConfig = TypeVar("ItemConfig", bound=HtmlConfig | JsonConfig, covariant=True)


class ItemSource(Source[ItemConfig]):
    """A page or API whose items become entries, one configured field at a time."""

    def __init__(self, config: ItemConfig) -> None:
        super().__init__(config)
        self.where = f"sources.{self.name}"  # the config's key path, for errors
        pattern = config.link_pattern
        try:
            self._link_pattern = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ConfigError([f"{self.where}.link_pattern: invalid regex ({exc})"]) from exc
        self._tz: tzinfo = load_timezone(config.timezone, f"{self.where}.timezone")

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def title(self) -> str:
        """`feed_title`, else the source name: `title` is the item title's field here."""
        return self.config.feed_title or self.name

    def extract(self, page: Page) -> list[Entry]:
        return self.analyze(page).entries

    def examine(self, page: Page) -> Extraction:
        """Extract with details for `preview`: skipped items by reason, matches per field."""
        with parse_errors(self.name, page.url):
            return self._analyze(page)

    @abstractmethod
    def _analyze(self, page: Page) -> Extraction:
        """`analyze` itself; any error but a FeedbridgeError becomes a ParseError."""

    def _collector(self, page_url: str) -> Collector:
        """Entries in page order, at most `limit`, those whose link fits `link_pattern`; an
        item without a link links to `page_url`."""
        return Collector(
            self.name, page=page_url, limit=self.config.limit, link_pattern=self._link_pattern
        )
