"""The embedded store's sources, polls and feeds: a source's state, one poll's batched read
and its write in one transaction (seen keys, marks, feed, notices), the stored feeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store.base import (
    KnownFeed,
    Lease,
    PollOutcome,
    PollView,
    SourceState,
    seen_slack,
    stored_state,
)
from feedbridge.store.embedded import tables
from feedbridge.store.embedded.base import FAILURES, REMEDY, Base


class Sources(Base):
    """Sources and leases: one process polls every source, so there are no leases."""

    def register_sources(self, names: Sequence[str], now: float) -> None:
        """Nothing to do: one process polls every source on its own schedule."""

    def source_state(self, source: str) -> SourceState:
        return stored_state(str(self.path), source, self._get(f"state:source:{source}"))

    def source_states(self, names: Sequence[str]) -> dict[str, SourceState]:
        # one query per 500 names over diskcache's own table (`_live`), not a read per name
        unique = list(dict.fromkeys(names))
        with self._failing():  # a raw value that is not JSON: StoreError
            found = self._live([f"state:source:{n}" for n in unique], self.clock())
        cut = len("state:source:")
        states = dict.fromkeys(unique, SourceState())
        for key, data in found.items():
            states[key[cut:]] = stored_state(str(self.path), key[cut:], data)
        return states

    def claim_sources(
        self,
        names: Sequence[str],
        now: float,
        limit: int,
        ttl: float,
        *,
        due_only: bool = True,
        fingerprints: Sequence[str | None] | None = None,
    ) -> list[Lease]:
        raise StoreError("the embedded store is not shared: it has no source leases")

    def renew(self, lease: Lease, now: float, ttl: float) -> Lease:
        raise StoreError("the embedded store is not shared: it has no source leases")


class Polls(Base):
    """Polls and seen keys: what a poll reads before deciding and what it writes after."""

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
            except FAILURES as exc:
                raise StoreError(f"store at {self.path} failed: {exc}{REMEDY}") from exc
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
        if version is not None:
            self._saw_version(con, source, version)
        return version


class Feeds(Base):
    """Each source's stored feed and its version (written by `apply_poll`)."""

    def feed_entries(self, source: str) -> list[Entry]:
        with self._failing() as con:
            return tables.feed(con, source)

    # Every feed's version as last read, and (connection, its data_version) then: while no
    # other connection (a `once` beside `run`) committed, the versions are not read again;
    # this process's own writes on that connection update them (`_saw_version`).
    _versions: dict[str, int] | None = None
    _versions_mark: tuple[int, int] | None = None

    def feed_versions(self, known: Mapping[str, int]) -> dict[str, int]:
        with self._failing() as con:
            (data_version,) = con.execute("PRAGMA data_version").fetchone()
            mark = (id(con), int(data_version))
            if self._versions is None or mark != self._versions_mark:
                self._versions, self._versions_mark = tables.versions(con), mark
            found = self._versions
        return {name: v for name, v in found.items() if known.get(name) != v}

    def _saw_version(self, con: object, source: str, version: int) -> None:
        """A feed this process wrote itself: its connection's data_version does not show it."""
        if self._versions is not None and self._versions_mark is not None:
            if id(con) == self._versions_mark[0]:
                self._versions[source] = version
            else:  # another thread's connection: read them all next time
                self._versions = None
