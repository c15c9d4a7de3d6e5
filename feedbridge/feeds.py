"""The feed board: every source's feed rendered once per change, gzipped, with validators.

The worker publishes here after a poll that changed a feed; the server reads the
bytes as they are. `[output] dir` also gets each feed as a file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path

from feedbridge import render
from feedbridge.models import Entry, FeedInfo
from feedbridge.sources import Source
from feedbridge.store import Store


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    """A source's feed in every format, gzipped once, with the validators the server sends.

    Only the gzipped bytes are kept (a fifth of the size); `body()` inflates for the
    few clients that do not accept gzip, and keeps the last few it inflated.
    """

    gzipped: dict[str, bytes]
    etags: dict[str, str]
    last_modified: str  # HTTP-date
    entry_count: int
    newest: Entry | None

    def body(self, fmt: str) -> bytes:
        return _inflate(self.gzipped[fmt])


@lru_cache(maxsize=32)
def _inflate(data: bytes) -> bytes:
    return gzip.decompress(data)


@dataclass
class FeedBoard:
    """The latest rendered bytes per source: the server reads, the worker writes."""

    feeds: dict[str, RenderedFeed] = field(default_factory=dict)

    def publish(
        self, name: str, bodies: dict[str, bytes], changed_at: float, entries: Sequence[Entry]
    ) -> None:
        etags = {fmt: '"' + hashlib.sha256(b).hexdigest()[:32] + '"' for fmt, b in bodies.items()}
        self.feeds[name] = RenderedFeed(
            gzipped={fmt: gzip.compress(b, compresslevel=6, mtime=0) for fmt, b in bodies.items()},
            etags=etags,
            last_modified=formatdate(changed_at, usegmt=True),
            entry_count=len(entries),
            newest=entries[0] if entries else None,
        )


class Publisher:
    """Renders a source's entries in every format onto the board (and into `output_dir`)."""

    def __init__(self, board: FeedBoard, base_url: str, output_dir: Path | None = None) -> None:
        self.board = board
        self.base_url = base_url.rstrip("/")
        self.output_dir = output_dir

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
        bodies = render.render_all(self.feed_info(source), entries)
        self.board.publish(source.name, bodies, changed_at, entries)
        if self.output_dir is not None:
            for fmt, body in bodies.items():
                _write_atomic(self.output_dir / f"{source.name}.{render.FORMATS[fmt][0]}", body)

    def publish_stored(self, sources: Iterable[Source], store: Store) -> None:
        """Render every source's stored feed, so a restart serves the last good feeds at once."""
        for source in sources:
            state = store.state("source", source.name)
            source.restore_identity(state.get("upstream") or {})  # upstream title and site
            changed_at = float(state.get("feed_changed_at") or time.time())
            self.publish(source, store.feed_entries(source.name), changed_at)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write then rename, so a web server never serves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
