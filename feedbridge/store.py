"""The only module that touches diskcache: entries, seen keys, delivery marks, outbox, state.

Keys are plain strings with a prefix per kind of record; values are JSON. The
disk never unpickles, so a writable cache directory is not a way to run code.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import diskcache

from feedbridge.errors import StoreError
from feedbridge.models import Entry

_PICKLE_MODE = 4
# Feeds are not read at start-up: the board reads each on its first request (issue 13).
_STARTUP_PREFIXES = ("state:", "outbox:", "meta:")
_REMEDY = (
    "; check that the directory is writable, on a local disk (not NFS) with free space, "
    "and not corrupt (move it away to start afresh)"
)


class JSONOnlyDisk(diskcache.Disk):  # type: ignore[misc]
    """String keys, JSON values, and a refusal to unpickle anything found on disk."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"store keys are strings, not {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise StoreError("refusing to unpickle a key found in the store")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        return super().store(json.dumps(value, separators=(",", ":")), read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == _PICKLE_MODE:
            raise StoreError("refusing to unpickle a value found in the store")
        data = super().fetch(mode, filename, value, read)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise StoreError(f"a value in the store is not JSON ({exc})") from exc


def target_segment(target: str) -> str:
    """The target's name as a key segment: escaped so that it holds no `-` and no `:`.

    Outbox keys are `outbox:{segment}-{counter}`; since no segment contains `-`, the
    prefix `outbox:{segment}-` of one target never matches another's rows, whatever the
    names (`mail` and `mail-digest`, names with `:` or non-ASCII letters).
    """
    return quote(target, safe="").replace("-", "%2D")


@dataclass(frozen=True, slots=True)
class Queued:
    """What the worker or notifier asks to deliver: an entry or a health event, and when."""

    kind: str  # "entry" | "health"
    payload: dict[str, Any]  # Entry.to_dict() or the event's fields
    queued_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row: one entry or health event owed to one target, with its own progress.

    `done_urls` are the indexes of the target's URLs that already took it, so a retry
    (alone or inside a digest) goes only to the URLs still owed.
    """

    id: str  # the outbox key, ordered per target
    target: str
    kind: str
    payload: dict[str, Any]
    queued_at: float
    attempts: int = 0
    first_attempt_at: float | None = None
    next_at: float = 0.0
    last_error: str | None = None
    done_urls: frozenset[int] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "payload": self.payload,
            "queued_at": self.queued_at,
            "attempts": self.attempts,
            "first_attempt_at": self.first_attempt_at,
            "next_at": self.next_at,
            "last_error": self.last_error,
            "done_urls": sorted(self.done_urls),
        }

    @classmethod
    def from_json(cls, key: str, target: str, data: Mapping[str, Any]) -> Delivery:
        if "type" in data:  # a row written before deliveries were typed
            kind = str(data["type"])
            return cls(
                key,
                target,
                kind,
                dict(data["entry"] if kind == "entry" else data["event"]),
                float(data.get("queued_at", 0.0)),
                attempts=int(data.get("attempts", 0)),
                next_at=float(data.get("next_at", 0.0)),
                last_error=data.get("last_error"),
                done_urls=frozenset(data.get("done", ())),
            )
        first = data.get("first_attempt_at")
        return cls(
            key,
            target,
            str(data["kind"]),
            dict(data["payload"]),
            float(data["queued_at"]),
            attempts=int(data.get("attempts", 0)),
            first_attempt_at=None if first is None else float(first),
            next_at=float(data.get("next_at", 0.0)),
            last_error=data.get("last_error"),
            done_urls=frozenset(int(i) for i in data.get("done_urls", ())),
        )


class Store:
    """Persistent state on one diskcache directory."""

    def __init__(self, path: Path, *, seen_ttl: float = 90 * 86400, size_limit: int = 4 << 30):
        self.path = Path(path)
        self.seen_ttl = seen_ttl
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(
                str(self.path),
                disk=JSONOnlyDisk,
                eviction_policy="none",
                size_limit=size_limit,
                timeout=10,
                # diskcache maps 64 MB and caches 32 MB per connection; the store is small
                # and hot, so that memory buys nothing measurable (bench: same ops/s).
                sqlite_mmap_size=0,
                sqlite_cache_size=1024,
            )
            self._migrate_outbox_keys()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}{_REMEDY}") from exc

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land or none does. Raises StoreError when the disk fails."""
        try:
            with self._cache.transact(retry=True):
                yield
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise StoreError(f"store at {self.path} failed: {exc}{_REMEDY}") from exc

    def verify(self, *, deep: bool = False) -> None:
        """Raise StoreError unless the database is intact and the values read as JSON.

        Start-up reads what it needs at once (state, outbox; feeds are read on demand);
        `deep` also reads every feed, seen key and delivery mark (seconds on a large store).
        """
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
        except StoreError as exc:
            if str(self.path) in str(exc):
                raise
            raise StoreError(f"store at {self.path} is corrupt: {exc}{_REMEDY}") from exc
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise StoreError(f"store at {self.path} is corrupt: {exc}{_REMEDY}") from exc

    def check_writable(self) -> None:
        """Raise StoreError unless a write and a read-back succeed."""
        try:
            stamp = time.time()
            self._cache.set("meta:probe", stamp, retry=True)
            if self._cache.get("meta:probe", retry=True) != stamp:
                raise StoreError(f"store at {self.path} did not return what was written")
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise StoreError(f"store at {self.path} is not writable: {exc}{_REMEDY}") from exc

    # --- feed entries -----------------------------------------------------------------

    def feed_entries(self, source: str) -> list[Entry]:
        """The source's current feed, as last saved."""
        rows = self._cache.get(f"feed:{source}", default=[], retry=True)
        return [Entry.from_dict(row) for row in rows]

    def save_feed(self, source: str, entries: Iterable[Entry]) -> None:
        self._cache.set(f"feed:{source}", [e.to_dict() for e in entries], retry=True)

    # --- seen keys ----------------------------------------------------------------------

    def seen_scores(self, source: str, keys: Iterable[str]) -> dict[str, float | None]:
        """For each key seen before, the score it had then (None if it had none)."""
        found: dict[str, float | None] = {}
        for key in keys:
            row = self._cache.get(f"seen:{source}:{key}", default=None, retry=True)
            if row is not None:
                found[key] = row.get("score")
        return found

    def mark_seen(self, source: str, entries: Iterable[Entry]) -> None:
        now = time.time()
        for entry in entries:
            self._cache.set(
                f"seen:{source}:{entry.key}",
                {"score": entry.score, "at": now},
                expire=self.seen_ttl,
                retry=True,
            )

    # --- per-target delivery marks --------------------------------------------------------

    def handed(self, target: str, source: str, keys: Iterable[str]) -> set[str]:
        """The keys of `source` already queued or sent to `target` (or suppressed by a baseline)."""
        return {k for k in keys if f"sent:{target}:{source}:{k}" in self._cache}

    def mark_handed(self, target: str, source: str, keys: Iterable[str], how: str) -> None:
        now = time.time()
        for key in keys:
            self._cache.set(
                f"sent:{target}:{source}:{key}",
                {"how": how, "at": now},
                expire=self.seen_ttl,
                retry=True,
            )

    def target_knows(self, target: str, source: str) -> bool:
        """Whether `target` has had its first cycle for `source` (the first-run policy ran)."""
        return f"tinit:{target}:{source}" in self._cache

    def mark_target_knows(self, target: str, source: str) -> None:
        self._cache.set(f"tinit:{target}:{source}", time.time(), retry=True)

    # --- outbox -------------------------------------------------------------------------

    def enqueue(self, target: str, queued: Queued) -> str:
        """Append a delivery to the target's queue; returns its outbox id."""
        row = Delivery("", target, queued.kind, dict(queued.payload), queued.queued_at)
        key: str = self._cache.push(
            row.to_json(), prefix=f"outbox:{target_segment(target)}", retry=True
        )
        return key

    def _keys_with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        """Keys starting with `prefix`, in key order, from the cache's index (no full scan)."""
        query = "SELECT key FROM Cache WHERE key >= ? AND key < ? AND raw = 1 ORDER BY key"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        rows = self._cache._sql(query, (prefix, prefix + "\U0010ffff")).fetchall()
        return [row[0] for row in rows]

    def _outbox_prefix(self, target: str) -> str:
        return f"outbox:{target_segment(target)}-"

    def pending(self, target: str, limit: int | None = None) -> list[Delivery]:
        """The target's queued deliveries, oldest first."""
        found: list[Delivery] = []
        for key in self._keys_with_prefix(self._outbox_prefix(target), limit):
            data = self._cache.get(key, default=None, retry=True)
            if data is not None:
                found.append(Delivery.from_json(key, target, data))
        return found

    def pending_count(self, target: str) -> int:
        return len(self._keys_with_prefix(self._outbox_prefix(target)))

    def update_delivery(self, delivery: Delivery) -> None:
        """Save a row's progress (attempts, URLs done, next try); its place in line is kept."""
        self._cache.set(delivery.id, delivery.to_json(), retry=True)

    def complete(self, delivery: Delivery) -> None:
        """Remove a delivery after Apprise reported success."""
        self._cache.delete(delivery.id, retry=True)

    def record_failed(self, delivery: Delivery, reason: str) -> None:
        """Move a delivery whose retry window ran out to the failed log."""
        with self.transaction():
            self._cache.set(
                f"failed:{target_segment(delivery.target)}:{delivery.id}",
                {"row": delivery.to_json(), "reason": reason, "at": time.time()},
                expire=self.seen_ttl,
                retry=True,
            )
            self._cache.delete(delivery.id, retry=True)

    def _migrate_outbox_keys(self) -> None:
        """Rename rows queued under the old key scheme (`outbox:{raw name}-N`), once."""
        if self._cache.get("meta:outbox_keys", default=None, retry=True) == 2:
            return
        with self.transaction():
            for key in self._keys_with_prefix("outbox:"):
                if not re.fullmatch(r"-\d{15}", key[-16:]):  # push() appends "-" and 15 digits
                    continue
                target = key[len("outbox:") : -16]
                new = f"outbox:{target_segment(target)}{key[-16:]}"
                if new != key:
                    self._cache.set(new, self._cache.get(key, retry=True), retry=True)
                    self._cache.delete(key, retry=True)
            self._cache.set("meta:outbox_keys", 2, retry=True)

    def failed(self, target: str) -> list[dict[str, Any]]:
        prefix = f"failed:{target_segment(target)}:"
        return [self._cache.get(k, retry=True) for k in self._keys_with_prefix(prefix)]

    # --- source and target state ----------------------------------------------------------

    def state(self, kind: str, name: str) -> dict[str, Any]:
        """Mutable-by-copy state of a source or target (`kind` is "source" or "target")."""
        value: dict[str, Any] = self._cache.get(f"state:{kind}:{name}", default={}, retry=True)
        return value

    def save_state(self, kind: str, name: str, state: Mapping[str, Any]) -> None:
        self._cache.set(f"state:{kind}:{name}", dict(state), retry=True)

    def expire(self) -> int:
        """Drop expired seen keys and delivery marks; returns how many."""
        removed: int = self._cache.expire(retry=True)
        return removed

    def volume(self) -> int:
        size: int = self._cache.volume()
        return size


def open_store(path: Path | str, **kwargs: Any) -> Store:
    """Open the store, turning a read-only or missing directory into a clear StoreError."""
    path = Path(path)
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"store directory {path} is not writable by this user; fix its permissions "
            "or point [storage] path elsewhere"
        )
    return Store(path, **kwargs)
