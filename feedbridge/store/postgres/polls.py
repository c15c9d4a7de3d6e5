"""The PostgreSQL store's sources, polls and feeds: registering and leasing sources, one poll's
pipelined read and its fenced write in one transaction, the stored feeds and their versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from feedbridge.core.models import Entry
from feedbridge.store.base import (
    KnownFeed,
    Lease,
    LeaseLost,
    PollOutcome,
    PollView,
    SourceState,
    seen_slack,
    stored_state,
)
from feedbridge.store.postgres.base import Base
from feedbridge.store.postgres.statements import CLOCK, START, enqueue, mark, see, write_source

# how long a source made due for a changed config waits for a node running that config (the
# others reload within seconds) before any node claims it: a node that cannot load the change
# must not keep the source from being polled
MADE_DUE_GRACE = 30.0


class Sources(Base):
    """Sources and leases: a row per source, claimed with `FOR UPDATE SKIP LOCKED` so that
    concurrent claims never return the same source (see docs/architecture.md)."""

    def register_sources(self, names: Sequence[str], now: float) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO sources (name, next_due) SELECT n, %s FROM unnest(%s::text[]) n "
                "ON CONFLICT (name) DO NOTHING",
                (now, list(names)),
            )

    def source_state(self, source: str) -> SourceState:
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM sources WHERE name = %s", (source,)).fetchone()
        return stored_state(self.location, source, row[0] if row else None)

    def source_states(self, names: Sequence[str]) -> dict[str, SourceState]:
        unique = list(dict.fromkeys(names))
        with self._tx(transaction=False) as conn:  # one statement: one round trip
            rows = conn.execute(
                "SELECT name, state FROM sources WHERE name = ANY(%s)", (unique,)
            ).fetchall()
        states = dict.fromkeys(unique, SourceState())
        for name, data in rows:
            states[name] = stored_state(self.location, name, data)
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
        # a lease runs `ttl` from the claim's start, so a claim that waited past it gets nothing
        # (CLOCK is the time of the write, after any wait on a lock); a source made due for a
        # config (`due_pending`) is left, for MADE_DUE_GRACE, to the nodes that run that config
        mine = list(fingerprints) if fingerprints is not None else [None] * len(names)
        with self._tx() as conn:
            rows = conn.execute(
                "WITH due AS (SELECT s.name, s.lease_owner AS previous FROM sources s "
                "  JOIN unnest(%(names)s::text[], %(mine)s::text[]) AS m(name, config) "
                "    ON m.name = s.name "
                "  WHERE (NOT %(due_only)s OR (s.next_due <= %(now)s AND (NOT s.due_pending "
                "    OR s.due_config IS NULL OR m.config IS NULL OR s.due_config = m.config "
                "    OR s.next_due < %(now)s - %(grace)s))) "
                f"  AND (s.lease_until IS NULL OR s.lease_until < {CLOCK}) "
                "  ORDER BY s.next_due LIMIT %(limit)s FOR UPDATE OF s SKIP LOCKED) "
                f"UPDATE sources s SET lease_owner = %(me)s, lease_until = {START} + %(ttl)s, "
                "  lease_version = s.lease_version + 1, due_pending = false FROM due "
                f"WHERE s.name = due.name AND {CLOCK} < {START} + %(ttl)s "
                "RETURNING s.name, s.lease_version, due.previous, s.state, s.lease_until",
                {"names": list(names), "mine": mine, "now": now, "limit": limit,
                 "me": self.owner, "ttl": ttl, "due_only": due_only, "grace": MADE_DUE_GRACE},
            ).fetchall()  # fmt: skip
        return [
            Lease(n, self.owner, v, until, p, SourceState.from_dict(st))
            for n, v, p, st, until in rows
        ]

    def renew(self, lease: Lease, now: float, ttl: float) -> Lease:
        with self._tx(transaction=False) as conn:
            row = conn.execute(
                f"UPDATE sources SET lease_until = {CLOCK} + %s WHERE name = %s "
                "AND lease_owner = %s AND lease_version = %s RETURNING lease_until",
                (ttl, lease.source, lease.owner, lease.version),
            ).fetchone()
        if row is None:
            raise LeaseLost(f"lease on source {lease.source!r} lost")
        return Lease(lease.source, lease.owner, lease.version, float(row[0]))

    def make_due(
        self, names: Sequence[str], now: float, *, fingerprints: Sequence[str | None] | None = None
    ) -> None:
        # with a fingerprint, once per config: the nodes that reload the same change all call
        # this, and only the first call makes the source due
        configs = list(fingerprints) if fingerprints is not None else [None] * len(names)
        with self._tx(transaction=False) as conn:
            conn.execute(
                "UPDATE sources s SET next_due = LEAST(s.next_due, %s), due_config = m.config, "
                "due_pending = true FROM unnest(%s::text[], %s::text[]) AS m(name, config) "
                "WHERE s.name = m.name AND (m.config IS NULL OR s.due_config IS DISTINCT FROM "
                "m.config)",
                (now, list(names), configs),
            )


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
        keys, targets = list(keys), list(targets)
        have = known.version if known is not None else -1
        with self._tx() as conn, conn.pipeline():
            feed = conn.execute(  # the feed only when the caller does not hold this version
                "SELECT feed_version = %s, CASE WHEN feed_version = %s THEN NULL ELSE feed END "
                "FROM sources WHERE name = %s",
                (have, have, source),
            )
            seen = conn.execute(
                "SELECT key, score FROM seen WHERE source = %s AND key = ANY(%s) AND expires > %s",
                (source, keys, now),
            )
            handed = conn.execute(
                "SELECT target, key FROM handed WHERE source = %s AND target = ANY(%s) "
                "AND key = ANY(%s) AND expires > %s",
                (source, targets, keys, now),
            )
            knows = conn.execute(
                "SELECT target FROM target_known WHERE source = %s AND target = ANY(%s)",
                (source, targets),
            )
            feed_row = feed.fetchone()
            seen_rows, handed_rows, knows_rows = (
                seen.fetchall(),
                handed.fetchall(),
                knows.fetchall(),
            )
        marks: dict[str, set[str]] = {t: set() for t in targets}
        for target, key in handed_rows:
            marks[target].add(key)
        same, stored = feed_row if feed_row else (False, [])
        return PollView(
            feed=list(known.entries) if same and known else [Entry.from_dict(e) for e in stored],
            seen={k: s for k, s in seen_rows},
            handed={t: frozenset(k) for t, k in marks.items()},
            knows=frozenset(r[0] for r in knows_rows),
        )

    def apply_poll(
        self, source: str, outcome: PollOutcome, lease: Lease | None = None
    ) -> int | None:
        now = self.clock()
        until = now + self.seen_ttl
        only_state = not (
            outcome.seen or outcome.notices or outcome.suppressed
            or outcome.first_cycle
        )  # fmt: skip
        # an unchanged or failed poll is one statement: no transaction round trips
        with self._tx(transaction=not only_state) as conn:
            version = write_source(conn, source, outcome, lease, now)  # with a lease: the fence
            if only_state:
                return version
            see(conn, source, outcome.seen, until + seen_slack(self.seen_ttl), until)
            suppressed = [(t, source, k) for t, keys in outcome.suppressed.items() for k in keys]
            mark(conn, suppressed, "first_run", until)
            enqueue(conn, outcome.notices, now, until)
            if outcome.first_cycle:
                conn.execute(
                    "INSERT INTO target_known (target, source) SELECT t, %s "
                    "FROM unnest(%s::text[]) t ON CONFLICT DO NOTHING",
                    (source, list(outcome.first_cycle)),
                )
        return version


class Feeds(Base):
    """Each source's stored feed and its version (written by `apply_poll`)."""

    def feed_entries(self, source: str) -> list[Entry]:
        with self._tx() as conn:
            row = conn.execute("SELECT feed FROM sources WHERE name = %s", (source,)).fetchone()
        return [Entry.from_dict(e) for e in (row[0] if row else [])]

    def feed_versions(self, known: Mapping[str, int]) -> dict[str, int]:
        with self._tx(transaction=False) as conn:
            rows = conn.execute("SELECT name, feed_version FROM sources WHERE feed_version > 0")
            return {n: int(v) for n, v in rows.fetchall() if known.get(n) != v}
