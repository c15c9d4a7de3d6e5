"""The embedded store: one diskcache directory, the default. The only module that imports diskcache.

Keys are strings with a prefix per kind of record (names never contain ':', so a
prefix never matches another target's rows); values are JSON. The disk never
unpickles, so a writable cache directory is not a way to run code. Seen keys, delivery
marks and feeds are tables of their own in the same database (`tables.py`): a poll writes
them with a few batched statements. One process owns the directory: leases are not
needed, so `shared` is False.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import diskcache

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store import tables
from feedbridge.store.base import (
    FailedRow,
    KnownFeed,
    Lease,
    Notice,
    OutboxCalls,
    OutboxRow,
    PollOutcome,
    PollView,
    SourceState,
    StoreInfo,
    TargetState,
    seen_slack,
)
from feedbridge.store.diskjson import (
    JSONOnlyDisk,
    chunks,
    row_from_json,
    row_to_json,
    target_segment,
)
from feedbridge.store.legacy import legacy_row

# Feeds are not read at start-up: the board reads each on its first request.
_STARTUP_PREFIXES = ("state:", "outbox:", "meta:")
_REMEDY = (
    "; check that the directory is writable, on a local disk (not NFS) with free space, "
    "and not corrupt (move it away to start afresh)"
)
_FAILURES = (OSError, sqlite3.Error, diskcache.Timeout)
_DAMAGE = (*_FAILURES, ValueError)  # reading: a stored value that is not JSON


class EmbeddedStore(OutboxCalls):
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
        try:
            self.path.mkdir(parents=True, exist_ok=True)
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
        except _FAILURES as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}{_REMEDY}") from exc

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside land or none does; disk failures become StoreError. Yields this
        thread's connection, in the transaction."""
        with self._failing(_FAILURES), self._cache.transact(retry=True):
            yield self._cache._con

    @contextmanager
    def _failing(
        self, failures: tuple[type[Exception], ...] = _DAMAGE
    ) -> Iterator[sqlite3.Connection]:
        """Disk failures (and, by default, damaged JSON) inside become StoreError."""
        try:
            yield self._cache._con
        except failures as exc:
            raise StoreError(f"store at {self.path} failed: {exc}{_REMEDY}") from exc

    def _get(self, key: str, default: Any = None) -> Any:
        try:
            return self._cache.get(key, default=default, retry=True)
        except _FAILURES as exc:
            raise StoreError(f"store at {self.path} failed: {exc}{_REMEDY}") from exc

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

    # --- checks ------------------------------------------------------------------------

    def release(self) -> None:
        """Nothing to release: the embedded store has no leases."""

    def ping(self) -> None:
        try:
            stamp = time.time()
            self._set("meta:probe", stamp)
            if self._cache.get("meta:probe", retry=True) != stamp:
                raise StoreError(f"store at {self.path} did not return what was written")
        except _FAILURES as exc:
            raise StoreError(f"store at {self.path} is not writable: {exc}{_REMEDY}") from exc

    def check(
        self, *, deep: bool = False, now: float | None = None, sources: Sequence[str] = ()
    ) -> StoreInfo:
        """Raise StoreError unless the database is intact, reads as JSON and takes a write.

        Start-up reads what it needs at once (feeds, state, outbox); `deep` also reads
        every seen key and delivery mark, which takes seconds on a large store.
        """
        self.ping()
        try:
            (result,) = self._cache._sql("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise StoreError(f"store at {self.path} is corrupt ({result}){_REMEDY}")
            if deep:
                keys: Iterable[str] = self._cache.iterkeys()
            else:
                keys = [k for p in _STARTUP_PREFIXES for k in self._keys_with_prefix(p)]
            for key in keys:
                self._cache.get(key, retry=True)
            tables.check(self._cache._con, deep)
        except StoreError as exc:
            if str(self.path) in str(exc):
                raise
            raise StoreError(f"store at {self.path} is corrupt: {exc}{_REMEDY}") from exc
        except _DAMAGE as exc:
            raise StoreError(f"store at {self.path} is corrupt: {exc}{_REMEDY}") from exc
        return StoreInfo("embedded", str(self.path), details={"bytes": self._cache.volume()})

    def _migrate(self) -> None:
        """Create the tables, and move rows of earlier layouts into them (once)."""
        con = self._cache._con
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'Feeds'").fetchone():
            with self._transaction():
                tables.create(con)
        if tables.legacy_keys(con):
            feeds = {k: self._cache.get(k, retry=True) for k in self._keys_with_prefix("feed:")}
            with self._transaction():
                files = tables.migrate_keys(con, feeds, self.clock() + self.seen_ttl)
            for name in files:
                self._cache.disk.remove(name)
        old = [k for k in self._keys_with_prefix("outbox:") if k.count(":") == 1]
        if not old:
            return
        with self._transaction():
            for key in old:
                target = unquote(key[len("outbox:") :].rsplit("-", 1)[0])
                notice, extra = legacy_row(target, self._cache.get(key, retry=True))
                self._push(notice, float(extra.pop("queued_at")), extra)
                self._cache.delete(key, retry=True)

    # --- sources -----------------------------------------------------------------------

    def register_sources(self, names: Sequence[str], now: float) -> None:
        """Nothing to do: one process polls every source on its own schedule."""

    def source_state(self, source: str) -> SourceState:
        return SourceState.from_dict(self._get(f"state:source:{source}", {}))

    def poll_view(
        self,
        source: str,
        keys: Sequence[str],
        targets: Sequence[str],
        known: KnownFeed | None = None,
    ) -> PollView:
        now = self.clock()
        with self._failing() as con:
            if known is not None and tables.version(con, source) == known.version:
                feed = list(known.entries)
            else:
                feed = tables.feed(con, source)
            seen = tables.seen_scores(con, source, keys, now)
            handed = tables.handed(con, source, targets, keys, now)
        knows = self._live([f"tinit:{t}:{source}" for t in targets], now)
        cut = len("tinit:")
        return PollView(feed, seen, handed, frozenset(k[cut:].split(":")[0] for k in knows))

    def apply_poll(
        self, source: str, outcome: PollOutcome, lease: Lease | None = None
    ) -> int | None:
        now = self.clock()
        until = now + self.seen_ttl
        if not (
            outcome.feed is not None or outcome.seen or outcome.notices
            or outcome.suppressed or outcome.first_cycle
        ):  # fmt: skip
            try:  # an unchanged or failed poll writes its state: one atomic set
                self._set(f"state:source:{source}", outcome.state.to_dict())
            except _FAILURES as exc:
                raise StoreError(f"store at {self.path} failed: {exc}{_REMEDY}") from exc
            return None
        version = None
        with self._transaction() as con:
            if outcome.feed is not None:
                version = tables.save_feed(con, source, outcome.feed)
            # written when new or re-scored, or when their expiry is nearer than the ttl
            tables.see(con, source, outcome.seen, until + seen_slack(self.seen_ttl), until)
            for target, keys in outcome.suppressed.items():
                tables.mark(con, source, target, keys, "first_run", until)
            self._enqueue(con, outcome.notices, now)
            for target in outcome.first_cycle:
                self._set(f"tinit:{target}:{source}", now)
            self._set(f"state:source:{source}", outcome.state.to_dict())
        return version

    def claim_sources(
        self, names: Sequence[str], now: float, limit: int, ttl: float, *, due_only: bool = True
    ) -> list[Lease]:
        raise StoreError("the embedded store is not shared: it has no source leases")

    def renew(self, lease: Lease, now: float, ttl: float) -> Lease:
        raise StoreError("the embedded store is not shared: it has no source leases")

    # --- outbox ------------------------------------------------------------------------

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

    def enqueue(self, notices: Sequence[Notice], now: float) -> int:
        with self._transaction() as con:
            return self._enqueue(con, notices, now)

    def claim_due(
        self, target: str, now: float, limit: int | None = None, ttl: float = 300.0
    ) -> list[OutboxRow]:
        rows = []
        for key in self._keys_with_prefix(f"outbox:{target_segment(target)}:", limit):
            value = self._get(key)
            if value is not None:
                rows.append(row_from_json(key, target, value))
        return rows

    def _remove(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            if row.id:
                self._cache.delete(row.id, retry=True)
                self._cache.delete(f"obk:{row.target}:{row.kind}:{row.key}", retry=True)

    def settle(
        self,
        target: str,
        state: TargetState,
        *,
        done: Sequence[OutboxRow] = (),
        retry: Sequence[OutboxRow] = (),
        failed: Sequence[OutboxRow] = (),
        reason: str = "",
        notices: Sequence[Notice] = (),
        now: float | None = None,
    ) -> None:
        now = self.clock() if now is None else now
        with self._transaction() as con:
            self._remove(done)
            for row in retry:
                if row.id and row.id in self._cache:
                    self._set(row.id, row_to_json(row))
            for row in failed:
                value: dict[str, Any] = {"kind": row.kind, "payload": dict(row.payload)}
                value.update(reason=reason, attempts=row.attempts)
                key = f"failed:{target_segment(target)}:{row.id or 'digest'}:{now}"
                self._set(key, {**value, "at": now})
                self._expire_at([key], self.clock() + self.seen_ttl)
            self._remove(failed)
            self._set(f"state:target:{target}", state.to_dict())
            self._enqueue(con, notices, now)

    def pending(self, target: str, limit: int | None = None) -> list[OutboxRow]:
        return self.claim_due(target, self.clock(), limit)

    def pending_count(self, target: str) -> int:
        return len(self._keys_with_prefix(f"outbox:{target_segment(target)}:"))

    def failed(self, target: str) -> list[FailedRow]:
        found = []
        keys = self._keys_with_prefix(f"failed:{target_segment(target)}:")
        for value in self._live(keys, self.clock()).values():
            if value is not None:
                kind = value.get("kind") or value["payload"].get("type", "entry")
                attempts = int(value.get("attempts", 0))
                payload, reason, at = value["payload"], value["reason"], value["at"]
                found.append(FailedRow(target, kind, payload, reason, at, attempts))
        return found

    # --- targets, feeds, housekeeping ----------------------------------------------------

    def target_state(self, target: str) -> TargetState:
        return TargetState.from_dict(self._get(f"state:target:{target}", {}))

    def save_target_state(self, target: str, state: TargetState) -> None:
        with self._transaction():
            self._set(f"state:target:{target}", state.to_dict())

    def feed_entries(self, source: str) -> list[Entry]:
        with self._failing() as con:
            return tables.feed(con, source)

    def feed_versions(self, known: Mapping[str, int]) -> dict[str, int]:
        with self._failing() as con:
            found = tables.versions(con)
        return {name: v for name, v in found.items() if known.get(name) != v}

    def expire(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        with self._failing() as con:
            removed: int = self._cache.expire(now=now, retry=True)
            stale = tables.expired(con, now)
        with self._transaction() as con:
            return removed + tables.delete(con, stale)

    def volume(self) -> int:
        size: int = self._cache.volume()
        return size


def open_embedded(path: Path | str, **kwargs: Any) -> EmbeddedStore:
    """Open the store, turning a read-only or missing directory into a clear StoreError."""
    path = Path(path)
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"store directory {path} is not writable by this user; fix its permissions "
            "or point [storage] path elsewhere"
        )
    return EmbeddedStore(path, **kwargs)
