"""The feed board: each source's feed, a format rendered on its first request after a change.

The worker publishes a source's entries here after a poll that changed its feed; nothing
is rendered until a reader asks (or `[output] dir` wants files). After a restart the
board reads a feed from the store on its first request, so start-up renders nothing. On a
shared store the board drops a feed another node changed (`sync`), and reads it again on
its next request: rendering is deterministic, so every node serves the same bytes and ETag.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path

import xxhash
from isal import igzip

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.fragments import FragmentCache
from feedbridge.feeds.items import FEED_FORMATS
from feedbridge.sources import Source
from feedbridge.store import Store

log = logging.getLogger("feedbridge.feeds")

# ISA-L's level 1: 6x faster than zlib's level 1 (nginx's default), and a smaller body
GZIP_LEVEL = 1


@dataclass(frozen=True, slots=True)
class Rendered:
    """One format of a feed, gzipped once, with its ETag (a hash of the bytes: stable)."""

    gzipped: bytes
    etag: str

    def body(self) -> bytes:
        return _inflate(self.gzipped)


@lru_cache(maxsize=32)
def _inflate(data: bytes) -> bytes:
    return gzip.decompress(data)


class LiveFeed:
    """A source's current feed: its entries, and each format rendered on its first request.

    The fragment cache is handed on from the feed it replaces, so a change re-renders
    only the entries that changed.
    """

    __slots__ = ("_cache", "_formats", "entries", "info", "last_modified")

    def __init__(
        self,
        info: FeedInfo,
        entries: Sequence[Entry],
        changed_at: float,
        cache: FragmentCache | None = None,
    ) -> None:
        self.info = info
        self.entries = entries
        self.last_modified = formatdate(changed_at, usegmt=True)  # HTTP-date
        self._cache = cache if cache is not None else FragmentCache()
        self._formats: dict[str, Rendered] = {}

    @property
    def entry_count(self) -> int:
        return len(self.entries)

    @property
    def newest(self) -> Entry | None:
        return self.entries[0] if self.entries else None

    def rendered(self, fmt: str) -> Rendered:
        """`fmt` ("atom", "rss", "json"), rendered now if this is its first request."""
        done = self._formats.get(fmt)
        if done is None:
            data = self._cache.render(self.info, self.entries, fmt)
            done = self._formats[fmt] = Rendered(
                gzipped=igzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0),
                etag='"' + xxhash.xxh3_128_hexdigest(data) + '"',
            )
        return done

    def body(self, fmt: str) -> bytes:
        return self.rendered(fmt).body()

    @property
    def cache(self) -> FragmentCache:
        """The entry fragments, handed on to the feed that replaces this one."""
        return self._cache


class FeedBoard:
    """The live feed per source: the server reads, the worker publishes.

    `loader` reads a feed not yet on the board (after a restart) on its first request.
    """

    def __init__(self, loader: Callable[[str], LiveFeed | None] | None = None) -> None:
        self.feeds: dict[str, LiveFeed] = {}
        self.loader = loader
        self.versions: dict[str, int] = {}  # the stored feed version each feed on the board has
        self.gone: set[str] = set()  # sources removed from the config: their feeds answer 410

    def drop(self, name: str) -> None:
        """Forget a feed (its source was removed or changed): the next request reads it anew."""
        self.feeds.pop(name, None)
        self.versions.pop(name, None)

    def sync(self, store: Store) -> int:
        """Drop the feeds whose stored version moved on (another node polled them); the next
        request reads them again. Returns how many."""
        changed = store.feed_versions(self.versions)
        for name, version in changed.items():
            self.feeds.pop(name, None)
            self.versions[name] = version
        return len(changed)

    def get(self, name: str) -> LiveFeed | None:
        feed = self.feeds.get(name)
        if feed is None and self.loader is not None:
            feed = self.loader(name)
            if feed is not None:
                feed = self.feeds.setdefault(name, feed)
        return feed

    def publish(self, info: FeedInfo, entries: Sequence[Entry], changed_at: float) -> LiveFeed:
        """Put a source's new entries on the board (rendering waits for a request)."""
        previous = self.feeds.get(info.name)
        cache = previous.cache if previous is not None else None
        feed = self.feeds[info.name] = LiveFeed(info, entries, changed_at, cache)
        return feed


class Publisher:
    """Puts a source's entries on the board (and, rendered at once, into `output_dir`)."""

    def __init__(self, board: FeedBoard, base_url: str, output_dir: Path | None = None) -> None:
        self.board = board
        self.base_url = base_url.rstrip("/")
        self.output_dir = output_dir
        self.sources: dict[str, Source] = {}  # every source served (paused ones too)

    def feed_info(self, source: Source) -> FeedInfo:
        return FeedInfo(
            name=source.name,
            title=source.title,
            link=source.site_url,
            self_url=f"{self.base_url}/feeds/{source.name}.atom",
            base_url=self.base_url,
            description=f"{source.title}, via feedbridge",
        )

    def publish(self, source: Source, entries: Sequence[Entry], changed_at: float) -> None:
        feed = self.board.publish(self.feed_info(source), entries, changed_at)
        if self.output_dir is not None:
            for fmt, (ext, _) in FEED_FORMATS.items():
                _write_atomic(self.output_dir / f"{source.name}.{ext}", feed.body(fmt))

    def publish_stored(self, sources: Iterable[Source], store: Store) -> None:
        """Serve the stored feeds after a restart: each is read on its first request.

        Only each source's small state is read here (the upstream title and site it had, for
        the index page and OPML); no feed is read or rendered until a reader asks for it. A
        stored feed of a source no longer configured answers 410 (`gone`).
        """
        self.sources = {source.name: source for source in sources}
        for source in self.sources.values():
            source.restore_identity(dict(store.source_state(source.name).upstream))

        def load(name: str) -> LiveFeed | None:
            source = self.sources.get(name)
            if source is None:
                return None
            try:
                state = store.source_state(name)
                entries = store.feed_entries(name)
                source.restore_identity(dict(state.upstream))  # perhaps learnt by another node
            except StoreError as exc:  # not cached: the next request tries again
                log.error("stored feed unreadable", extra={"source": name, "error": str(exc)})
                return None
            changed_at = state.feed_changed_at or time.time()
            return LiveFeed(self.feed_info(source), entries, changed_at)

        self.board.loader = load
        self.board.gone = set(store.feed_versions({})) - self.sources.keys()

    def serve(self, sources: Iterable[Source]) -> list[str]:
        """Serve these sources from now on (a live reload). A changed source's feed is read
        again on its next request (its title may have changed); a removed one's leaves the
        board and answers 410. Returns the names removed."""
        now = {source.name: source for source in sources}
        removed = [name for name in self.sources if name not in now]
        for name, source in now.items():
            if self.sources.get(name) is not source:
                self.board.drop(name)
        for name in removed:
            self.board.drop(name)
        self.board.gone = (self.board.gone | set(removed)) - now.keys()
        self.sources = now
        return removed


def _write_atomic(path: Path, data: bytes) -> None:
    """Write then rename, so a web server never serves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
