"""Items to entries: the Collector keys, cleans, dedups and counts what one extract found."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedbridge.core.errors import FeedbridgeError, ParseError
from feedbridge.core.models import Entry, Page
from feedbridge.sources.text import clean_text, shorten

TITLE_LIMIT = 300
MAX_ALTERNATES = 8  # later items kept per duplicated key, for the poll to choose among


def _same(text: str) -> str:
    return text


@dataclass(slots=True)
class Extraction:
    """What one extract found: entries, skipped items by reason, per-field match counts."""

    entries: list[Entry] = field(default_factory=list)
    items: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    matched: dict[str, int] = field(default_factory=dict)
    title: str = ""
    link: str = ""
    author: str = ""  # a feed's own author (feed sources)
    # wrong though not an error (a selector that matched nothing on a page with content):
    # the worker shows it in the source's status and `once` exits 1
    warning: str | None = None
    scripted: bool = False  # the page has <script> elements: its items may come from them
    # the page, kept when the item selector matched nothing on it: `preview` and the poll's
    # warning show what detection finds there now
    page: Page | None = None
    # later items of a key already taken, in document order: the poll keeps the one the
    # stored feed has (a new item that reuses an old guid must not take over its entry)
    alternates: dict[str, list[Entry]] = field(default_factory=dict)
    # keys of the entries without a link of their own, linked to the page they came from
    # (`preview` says so, and how to give those keyed by a hash of their text a stable key)
    unlinked: set[str] = field(default_factory=set)


def keep_newest(extraction: Extraction, keep: int) -> Extraction:
    """At most the `keep` newest entries (by date; undated ones by page order), still in page
    order; the rest counted as skipped. None of them could enter a feed of `keep` entries,
    and a page of thousands then costs a poll (and the trip from a worker process) no more."""
    entries = extraction.entries
    if len(entries) <= keep:
        return extraction
    ranked = sorted(range(len(entries)), key=lambda i: entries[i].sort_time, reverse=True)
    kept = sorted(ranked[:keep])
    extraction.entries = [entries[i] for i in kept]
    extraction.skipped[f"older than the newest {keep} (keep)"] += len(entries) - keep
    return extraction


def content_key(title: str, text: str) -> str:
    """The last-resort key of an item with neither id nor link: a hash of what it says."""
    digest = hashlib.sha256(f"{clean_text(title)}\n{clean_text(text)}".encode("utf-8", "replace"))
    return f"sha256:{digest.hexdigest()[:32]}"


def describe_skipped(skipped: Mapping[str, int]) -> str:
    """Skipped items as words, most common first: "2 no link, 1 duplicate"."""
    ranked = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{count} {reason}" for reason, count in ranked if count)


class Collector:
    """Builds entries in page order, skipping (and counting) items without a title.

    One rule for every source kind: an item is keyed by its id, else its link, else a hash of
    its title and text; one without a link of its own links to `page`, the page it came from.
    `untitled` is the reason an item without a title is skipped under.
    """

    def __init__(
        self,
        source: str,
        *,
        page: str = "",
        limit: int | None = None,
        link_pattern: re.Pattern[str] | None = None,
        untitled: str = "no title",
    ) -> None:
        self.source = source
        self.page = page
        self.limit = limit
        self.link_pattern = link_pattern
        self.untitled = untitled
        self.result = Extraction()
        self._keys: set[str] = set()

    def skip(self, reason: str) -> None:
        """Count one item left out, by reason ("no link", "no title", "duplicate", ...)."""
        self.result.skipped[reason] += 1

    def add(
        self,
        *,
        key: str | None,
        title: str,
        link: str | None,
        summary: str = "",
        content_html: str = "",
        published: datetime | None = None,
        updated: datetime | None = None,
        authors: Iterable[str] = (),
        score: float | None = None,
        image: str | None = None,
        extras: Mapping[str, Any] | None = None,
        cleaned: bool = False,
    ) -> None:
        """Add one item as an Entry, or count why it cannot be one.

        `cleaned`: title, key, summary and authors are already `clean_text`'s output.
        """
        self.result.items += 1
        if self.link_pattern is not None and not self.link_pattern.search(link or ""):
            self.skip("link_pattern")
            return
        clean = _same if cleaned else clean_text
        title = shorten(clean(title), TITLE_LIMIT)
        if not title:
            self.skip(self.untitled)
            return
        key = clean(key or "") or link or ""
        if not key:
            key = content_key(title, summary or content_html)
        duplicate = key in self._keys
        if not duplicate and self.limit is not None and len(self.result.entries) >= self.limit:
            self.skip("limit")
            return
        names = dict.fromkeys(authors if cleaned else map(clean, authors))
        names.pop("", None)
        entry = Entry(
            source=self.source,
            key=key,
            title=title,
            link=link or self.page,
            summary=shorten(clean(summary)),
            content_html=content_html,
            published=published,
            updated=updated,
            authors=tuple(names),
            score=score,
            image=image,
            extras=dict(extras or {}),
        )
        if duplicate:
            self.skip("duplicate")
            alternates = self.result.alternates.setdefault(key, [])
            if len(alternates) < MAX_ALTERNATES:
                alternates.append(entry)
            return
        self._keys.add(key)
        if not link:
            self.result.unlinked.add(key)
        self.result.entries.append(entry)


@contextmanager
def parse_errors(source: str, url: str) -> Iterator[None]:
    """Let FeedbridgeErrors through; anything else raised while parsing becomes a ParseError."""
    try:
        yield
    except FeedbridgeError:
        raise
    except RecursionError as exc:
        raise ParseError(source, url, "document is nested too deeply") from exc
    except Exception as exc:
        message = f"cannot parse response ({type(exc).__name__}: {exc})"
        raise ParseError(source, url, message) from exc
