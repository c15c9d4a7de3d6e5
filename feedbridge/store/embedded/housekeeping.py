"""The embedded store's housekeeping: the probe and the integrity check, the move of earlier
layouts at open, expiry of seen keys, marks and failed rows, the directory's size."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from urllib.parse import unquote

from feedbridge.core.errors import StoreError
from feedbridge.store.base import StoreInfo
from feedbridge.store.embedded import tables
from feedbridge.store.embedded.base import DAMAGE, FAILURES, REMEDY, Base
from feedbridge.store.legacy import legacy_row

# Feeds are not read at start-up: the board reads each on its first request.
_STARTUP_PREFIXES = ("state:", "outbox:", "meta:", "page:")


class Housekeeping(Base):
    """Checks, migration, expiry; nothing to release (no leases)."""

    def release(self) -> None:
        """Nothing to release: the embedded store has no leases."""

    def ping(self) -> None:
        try:
            stamp = time.time()
            self._set("meta:probe", stamp)
            if self._cache.get("meta:probe", retry=True) != stamp:
                raise StoreError(f"store at {self.path} did not return what was written")
        except FAILURES as exc:
            raise StoreError(f"store at {self.path} is not writable: {exc}{REMEDY}") from exc

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
                raise StoreError(f"store at {self.path} is corrupt ({result}){REMEDY}")
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
            said = str(exc).removeprefix("corrupt: ")  # a row's own error may say it first
            raise StoreError(f"store at {self.path} is corrupt: {said}{REMEDY}") from exc
        except DAMAGE as exc:
            raise StoreError(f"store at {self.path} is corrupt: {exc}{REMEDY}") from exc
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
