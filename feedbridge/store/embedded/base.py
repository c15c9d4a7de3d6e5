"""What every part of the embedded store builds on: the diskcache directory, its transactions
(disk failures become StoreError), key-value reads and writes, and queuing notices once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import diskcache

from feedbridge.core.errors import StoreError
from feedbridge.store.base import Notice
from feedbridge.store.embedded import tables
from feedbridge.store.embedded.diskjson import chunks, target_segment
from feedbridge.store.status import StoreStatus

P = ParamSpec("P")
T = TypeVar("T")

REMEDY = (
    "; check that the directory is writable, on a local disk (not NFS) with free space, "
    "and not corrupt (move it away to start afresh)"
)
FAILURES = (OSError, sqlite3.Error, diskcache.Timeout)
DAMAGE = (*FAILURES, ValueError)  # reading: a stored value that is not JSON


class Base:
    """The directory and the calls every part of `EmbeddedStore` uses. Keys are strings with
    a prefix per kind of record; names never contain ':', so a prefix never matches another
    target's rows."""

    path: Path
    seen_ttl: float
    clock: Callable[[], float]
    owner: str
    status: StoreStatus  # always up: the directory is local
    _cache: diskcache.Cache

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Inline: a local directory answers in well under a millisecond, and one process owns
        it (its loops were written for calls that do not interleave)."""
        return call(*args, **kwargs)

    async def probe(self) -> None:
        self.ping()

    def ping(self) -> None:
        raise NotImplementedError

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside land or none does; disk failures become StoreError. Yields this
        thread's connection, in the transaction."""
        with self._failing(FAILURES), self._cache.transact(retry=True):
            yield self._cache._con

    @contextmanager
    def _failing(
        self, failures: tuple[type[Exception], ...] = DAMAGE
    ) -> Iterator[sqlite3.Connection]:
        """Disk failures (and, by default, damaged JSON) inside become StoreError."""
        try:
            yield self._cache._con
        except failures as exc:
            raise StoreError(f"store at {self.path} failed: {exc}{REMEDY}") from exc

    def _saw_version(self, con: object, source: str, version: int) -> None:
        """A feed written by this process (Feeds keeps the versions it read up to date)."""

    def _get(self, key: str, default: Any = None) -> Any:
        try:
            return self._cache.get(key, default=default, retry=True)
        except FAILURES as exc:
            raise StoreError(f"store at {self.path} failed: {exc}{REMEDY}") from exc

    def _set(self, key: str, value: Any) -> None:
        self._cache.set(key, value, retry=True)

    def _sql(self, query: str, args: Sequence[Any] = ()) -> list[Any]:
        return list(self._cache._sql(query, tuple(args)).fetchall())

    def _live(self, keys: Sequence[str], now: float) -> dict[str, Any]:
        """The JSON values of those `keys` present and not expired, in one query per chunk."""
        found: dict[str, Any] = {}
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            rows = self._sql(
                f"SELECT key, value, mode FROM Cache WHERE key IN ({marks}) AND raw = 1 "
                "AND (expire_time IS NULL OR expire_time > ?)",
                [*part, now],
            )
            for key, value, mode in rows:
                found[key] = json.loads(value) if mode == 1 else self._get(key)
        return found

    def _expire_at(self, keys: Sequence[str], at: float) -> None:
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            self._sql(f"UPDATE Cache SET expire_time = ? WHERE key IN ({marks})", [at, *part])

    def _keys_with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        """Keys starting with `prefix`, in key order, from the cache's index (no full scan)."""
        query = "SELECT key FROM Cache WHERE key >= ? AND key < ? AND raw = 1 ORDER BY key"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return [row[0] for row in self._sql(query, (prefix, prefix + "\uffff"))]

    def _push(self, notice: Notice, now: float, extra: Mapping[str, Any] | None = None) -> str:
        row: dict[str, Any] = {"kind": notice.kind, "key": notice.key}
        row["payload"] = dict(notice.payload)
        row.update({"queued_at": now, **(extra or {})})
        prefix = f"outbox:{target_segment(notice.target)}:"
        key: str = self._cache.push(row, prefix=prefix, retry=True)
        self._set(f"obk:{notice.target}:{notice.kind}:{notice.key}", key)
        return key

    def _enqueue(self, con: sqlite3.Connection, notices: Sequence[Notice], now: float) -> int:
        """Queue notices not queued before; entries also get their delivery mark."""
        if not notices:
            return 0
        index = [f"obk:{n.target}:{n.kind}:{n.key}" for n in notices]
        queued = self._live(index, now)
        added = 0
        marks: dict[tuple[str, str], list[str]] = {}
        for notice, key in zip(notices, index, strict=True):
            if key in queued:
                continue
            self._push(notice, now)
            added += 1
            if notice.kind == "entry":
                source, _, entry_key = notice.key.partition(":")
                marks.setdefault((source, notice.target), []).append(entry_key)
        for (source, target), keys in marks.items():
            tables.mark(con, source, target, keys, "queued", now + self.seen_ttl)
        return added
