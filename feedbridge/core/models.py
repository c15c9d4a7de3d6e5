"""Plain data types passed between layers. Imports nothing of ours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def _dt_to_str(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt_from_str(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a source, identified by `(source, key)`.

    `summary` is plain text (used for filters and chat messages); `content_html`
    is safe HTML for feed readers. Datetimes are timezone-aware. `extras` holds
    JSON-compatible, source-specific fields (authors' affiliations, GitHub repo, ...).
    """

    source: str
    key: str
    title: str
    link: str
    summary: str = ""
    content_html: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    score: float | None = None
    image: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sort_time(self) -> datetime:
        """The time a feed orders by: the later of updated and published, else the epoch."""
        if self.updated and self.published:
            return max(self.updated, self.published)
        return self.updated or self.published or datetime(1970, 1, 1, tzinfo=UTC)

    def with_source(self, source: str) -> Entry:
        return replace(self, source=source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "key": self.key,
            "title": self.title,
            "link": self.link,
            "summary": self.summary,
            "content_html": self.content_html,
            "published": _dt_to_str(self.published),
            "updated": _dt_to_str(self.updated),
            "authors": list(self.authors),
            "score": self.score,
            "image": self.image,
            "extras": dict(self.extras),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        return cls(
            source=data["source"],
            key=data["key"],
            title=data["title"],
            link=data["link"],
            summary=data.get("summary", ""),
            content_html=data.get("content_html", ""),
            published=_dt_from_str(data.get("published")),
            updated=_dt_from_str(data.get("updated")),
            authors=tuple(data.get("authors", ())),
            score=data.get("score"),
            image=data.get("image"),
            extras=dict(data.get("extras", {})),
        )


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched HTTP response, fully read. `not_modified` is a 304 to a conditional GET."""

    url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    encoding: str | None = None
    not_modified: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What a rendered feed says about itself."""

    name: str
    title: str
    link: str  # the site the feed is about
    self_url: str  # absolute URL of the Atom feed
    base_url: str  # the feedbridge server's base URL
    description: str = ""
    updated: datetime | None = None
    author: str = ""  # the upstream feed's own author, if it names one
    site_name: str = ""  # what the upstream site calls itself (Atom's author when none is named)


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A source or target changed health: `kind` is "failing", "empty" or "recovered"."""

    subject: str  # "source:NAME" or "target:NAME"
    kind: str
    message: str
    at: datetime
