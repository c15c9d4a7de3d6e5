"""The feed board: each source's feed, a format rendered on its first request after a change.

The worker publishes a source's entries here after a poll that changed its feed; nothing
is rendered until a reader asks (or `[output] dir` wants files). After a restart the
board reads a feed from the store on its first request (`load`, off the event loop), so
start-up renders nothing. On a shared store the board drops a feed another node changed
(`sync`), and reads it again on its next request: rendering is deterministic, so every node
serves the same bytes and ETag. A feed on the board is served whatever the store does.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import xxhash
from isal import igzip

from feedbridge.core.errors import FeedbridgeError, StoreError
from feedbridge.core.models import Entry, FeedInfo
from feedbridge.feeds.fragments import FragmentCache
from feedbridge.feeds.items import FEED_FORMATS
from feedbridge.sources import Source
from feedbridge.store import Store, StoreUnavailable

log = logging.getLogger("feedbridge.feeds")
T = TypeVar("T")

# ISA-L's level 1: 6x faster than zlib's level 1 (nginx's default), and a smaller body
GZIP_LEVEL = 1
LIMITED_KEPT = 8  # renders of `?limit=N` kept per feed: any N may be asked, few are used
# From this many entries a first render goes to a worker process when the board has one:
# ~35 us an entry here against ~11 us to send them there (measured on a loaded machine:
# 2,000 entries 72 ms against 22 ms); below it the fragment cache makes re-renders cheap.
RENDER_OFFLOAD = 500


class Offload(Protocol):
    """Where pure work on large inputs runs off the event loop (sources.offload); raises a
    FeedbridgeError when the work was lost."""

    async def run(self, work: Callable[..., T], *args: Any) -> T: ...


def render(info: FeedInfo, entries: Sequence[Entry], fmt: str) -> Rendered:
    """A feed in one format, gzipped, with its ETag; the same bytes wherever it runs."""
    data = FragmentCache().render(info, entries, fmt)
    return _rendered(data)


def _rendered(data: bytes) -> Rendered:
    return Rendered(
        gzipped=igzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0),
        etag='"' + xxhash.xxh3_128_hexdigest(data) + '"',
    )


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

    def rendered(self, fmt: str, limit: int | None = None) -> Rendered:
        """`fmt` ("atom", "rss", "json"), rendered now if this is its first request; with
        `limit`, the newest `limit` entries only (the whole feed when it has no more)."""
        if limit is not None and limit >= len(self.entries):
            limit = None
        key = fmt if limit is None else f"{fmt}:{limit}"
        done = self._formats.get(key)
        if done is None:
            if limit is not None:
                limited = [k for k in self._formats if ":" in k]
                if len(limited) >= LIMITED_KEPT:
                    del self._formats[limited[0]]
            data = self._cache.render(self.info, self.entries, fmt, limit)
            done = self._formats[key] = _rendered(data)
        return done

    async def rendered_off_loop(
        self, fmt: str, offload: Offload | None, limit: int | None = None
    ) -> Rendered:
        """`rendered`, in a worker process when the feed is large (`RENDER_OFFLOAD`); here
        when it is small, already rendered, or the worker fails. A `limit`ed render is made
        here from the fragments the whole feed's render left."""
        done = self._formats.get(fmt)
        if limit is not None and limit < len(self.entries):
            return self.rendered(fmt, limit)
        if done is not None or offload is None or len(self.entries) < RENDER_OFFLOAD:
            return self.rendered(fmt)
        try:
            done = await offload.run(render, self.info, list(self.entries), fmt)
        except FeedbridgeError as exc:  # the worker was lost: render here after all
            log.warning("render in a worker failed", extra={"feed": self.info.name, "error": exc})
            return self.rendered(fmt)
        return self._formats.setdefault(fmt, done)

    def body(self, fmt: str) -> bytes:
        return self.rendered(fmt).body()

    @property
    def cache(self) -> FragmentCache:
        """The entry fragments, handed on to the feed that replaces this one."""
        return self._cache


Loader = Callable[[str], "LiveFeed | None"]


class FeedBoard:
    """The live feed per source: the server reads, the worker publishes.

    `loader` reads a feed not yet on the board (after a restart) on its first request, and
    raises StoreError when the store cannot be read; `read_with` runs it off the event loop
    (the store's `run`).
    """

    def __init__(self, loader: Loader | None = None) -> None:
        self.feeds: dict[str, LiveFeed] = {}
        self.offload: Offload | None = None  # `run`'s worker processes, for large renders
        self.loader = loader
        self.read_with: Callable[[Loader, str], Awaitable[LiveFeed | None]] | None = None
        self.versions: dict[str, int] = {}  # the stored feed version each feed on the board has
        self.gone: set[str] = set()  # sources removed from the config: their feeds answer 410

    def drop(self, name: str) -> None:
        """Forget a feed (its source was removed or changed): the next request reads it anew."""
        self.feeds.pop(name, None)
        self.versions.pop(name, None)

    async def sync(self, store: Store) -> int:
        """Drop the feeds whose stored version moved on (another node polled them); the next
        request reads them again. Returns how many."""
        changed = await store.run(store.feed_versions, dict(self.versions))
        for name, version in changed.items():
            self.feeds.pop(name, None)
            self.versions[name] = version
        return len(changed)

    def get(self, name: str) -> LiveFeed | None:
        """The feed on the board, else read now (None when the store cannot be read)."""
        feed = self.feeds.get(name)
        if feed is None and self.loader is not None:
            try:
                feed = self.loader(name)
            except StoreError as exc:  # not cached: the next request tries again
                if not isinstance(exc, StoreUnavailable):  # (the store said "store down")
                    log.error("stored feed unreadable", extra={"source": name, "error": str(exc)})
                return None
            if feed is not None:
                feed = self.feeds.setdefault(name, feed)
        return feed

    async def load(self, name: str) -> LiveFeed | None:
        """The feed on the board, else read from the store off the event loop; None for a
        source that does not exist. Raises StoreError when the store cannot be read."""
        feed = self.feeds.get(name)
        if feed is not None or self.loader is None:
            return feed
        if self.read_with is not None:
            found = await self.read_with(self.loader, name)
        else:
            found = self.loader(name)
        return None if found is None else self.feeds.setdefault(name, found)

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
            author=source.author,
            site_name=source.site_name,
        )

    def publish(self, source: Source, entries: Sequence[Entry], changed_at: float) -> None:
        feed = self.board.publish(self.feed_info(source), entries, changed_at)
        if self.output_dir is not None:
            for fmt, (ext, _) in FEED_FORMATS.items():
                _write_atomic(self.output_dir / f"{source.name}.{ext}", feed.body(fmt))

    def publish_stored(self, sources: Iterable[Source], store: Store) -> None:
        """Serve the stored feeds after a restart: each is read on its first request.

        Only the sources' small states are read here, in one store call (the upstream title
        and site each had, for the index page and OPML); no feed is read or rendered until a
        reader asks for it. A stored feed of a source no longer configured answers 410 (`gone`).
        """
        self.sources = {source.name: source for source in sources}
        states = store.source_states(list(self.sources))  # one read for every source
        for name, source in self.sources.items():
            source.restore_identity(dict(states[name].upstream))

        def load(name: str) -> LiveFeed | None:
            source = self.sources.get(name)
            if source is None:
                return None
            state = store.source_state(name)
            entries = store.feed_entries(name)
            source.restore_identity(dict(state.upstream))  # perhaps learnt by another node
            changed_at = state.feed_changed_at or time.time()
            return LiveFeed(self.feed_info(source), entries, changed_at)

        self.board.loader = load
        self.board.read_with = store.run
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
