"""The embedded store's sources, polls and feeds: a source's state, one poll's batched read
and its write in one transaction (seen keys, marks, feed, notices), the stored feeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store.base import KnownFeed, Lease, PollOutcome, PollView, SourceState, seen_slack
from feedbridge.store.embedded import tables
from feedbridge.store.embedded.base import FAILURES, REMEDY, Base


class Sources(Base):
    """Sources and leases: one process polls every source, so there are no leases."""

    def register_sources(self, names: Sequence[str], now: float) -> None:
        """Nothing to do: one process polls every source on its own schedule."""

    def source_state(self, source: str) -> SourceState:
        return SourceState.from_dict(self._get(f"state:source:{source}", {}))

    def claim_sources(
        self, names: Sequence[str], now: float, limit: int, ttl: float, *, due_only: bool = True
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
        return version


class Feeds(Base):
    """Each source's stored feed and its version (written by `apply_poll`)."""

    def feed_entries(self, source: str) -> list[Entry]:
        with self._failing() as con:
            return tables.feed(con, source)

    def feed_versions(self, known: Mapping[str, int]) -> dict[str, int]:
        with self._failing() as con:
            found = tables.versions(con)
        return {name: v for name, v in found.items() if known.get(name) != v}
