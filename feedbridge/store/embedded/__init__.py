"""The embedded store: one diskcache directory, the default. The only package that imports
diskcache.

Keys are strings with a prefix per kind of record (names never contain ':', so a
prefix never matches another target's rows); values are JSON. The disk never
unpickles, so a writable cache directory is not a way to run code. Seen keys, delivery
marks and feeds are tables of their own in the same database (`tables.py`): a poll writes
them with a few batched statements. One process owns the directory: leases are not
needed, so `shared` is False.

`EmbeddedStore` is built from one part per domain: `polls.py` (sources, polls and seen keys,
feeds), `outbox.py` (outbox and targets), `pages.py` (sources made on the web page),
`housekeeping.py` (checks, migration, expiry), on
`base.py` (the directory, transactions, queuing notices).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache

from feedbridge.core.errors import StoreError
from feedbridge.store.embedded.base import FAILURES, REMEDY
from feedbridge.store.embedded.diskjson import (
    DIR_MODE,
    FILE_MODE,
    JSONOnlyDisk,
    target_segment,
)
from feedbridge.store.embedded.housekeeping import Housekeeping
from feedbridge.store.embedded.outbox import Outbox
from feedbridge.store.embedded.pages import PageSources
from feedbridge.store.embedded.polls import Feeds, Polls, Sources
from feedbridge.store.status import StoreStatus

__all__ = ["EmbeddedStore", "open_embedded", "target_segment"]


class EmbeddedStore(Sources, Polls, Feeds, Outbox, PageSources, Housekeeping):
    """The Store protocol on one diskcache directory (see feedbridge.store.base)."""

    shared = False

    def __init__(
        self,
        path: Path,
        *,
        seen_ttl: float = 90 * 86400,
        size_limit: int = 4 << 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.seen_ttl = seen_ttl
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.status = StoreStatus(str(self.path))
        try:
            self.path.mkdir(DIR_MODE, parents=True, exist_ok=True)
            _owner_only(self.path)
            self._cache = diskcache.Cache(
                str(self.path),
                disk=JSONOnlyDisk,
                eviction_policy="none",
                cull_limit=0,  # expiry runs in `expire()` on the store's clock, not per write
                size_limit=size_limit,
                timeout=10,
                # diskcache maps 64 MB and caches 32 MB per connection; the store is small
                # and hot, so that memory buys nothing measurable (bench: same ops/s).
                sqlite_mmap_size=0,
                sqlite_cache_size=1024,
            )
            self._migrate()
        except FAILURES as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}{REMEDY}") from exc

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _owner_only(path: Path) -> None:
    """The directory 0700 and its database files 0600: they hold source URLs and outbox
    rows. SQLite gives the -wal and -shm files the database's mode; an empty database file
    made here first is one SQLite then fills."""
    if path.stat().st_uid == os.geteuid():  # another user's directory: theirs to set
        path.chmod(DIR_MODE)
    database = path / "cache.db"
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        with contextlib.suppress(FileNotFoundError):
            if (path / name).stat().st_uid == os.geteuid():
                (path / name).chmod(FILE_MODE)


def open_embedded(path: Path | str, **kwargs: Any) -> EmbeddedStore:
    """Open the store, turning a read-only or missing directory into a clear StoreError."""
    path = Path(path)
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"store directory {path} is not writable by this user; fix its permissions "
            "or point [storage] path elsewhere"
        )
    return EmbeddedStore(path, **kwargs)
