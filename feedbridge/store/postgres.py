"""The PostgreSQL store: several feedbridge processes on one database.

Sources and targets carry leases (owner, until, version) claimed with
`UPDATE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)`; an outcome is
written only while its lease is still held (fencing), so a worker that stalled
past its lease cannot overwrite the worker that took the source over.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store import pgschema
from feedbridge.store.base import (
    FailedRow,
    KnownFeed,
    Lease,
    LeaseLost,
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
from feedbridge.store.pgwrite import (
    OUTBOX_COLUMNS,
    enqueue,
    mark,
    mask_dsn,
    outbox_row,
    see,
    why,
    write_source,
)


class PostgresStore(OutboxCalls):
    """The Store protocol on PostgreSQL (see feedbridge.store.base)."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        seen_ttl: float = 90 * 86400,
        clock: Callable[[], float] = time.time,
        pool_size: int = 4,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.location = mask_dsn(url)
        self.seen_ttl = seen_ttl
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        try:
            # one direct connection first: a wrong host or password fails at once, clearly
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                if migrate:
                    pgschema.migrate(conn)
            self._pool = ConnectionPool(
                url, min_size=1, max_size=pool_size, open=True, timeout=15,
                kwargs={"autocommit": True, "connect_timeout": 10},
            )  # fmt: skip
        except (psycopg.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the store at {self.location}: {why(exc)}; check that "
                "PostgreSQL runs there and accepts this user and password"
            ) from exc
        except StoreError as exc:  # a schema newer than this feedbridge
            raise StoreError(f"cannot open the store at {self.location}: {exc}") from exc

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, transaction: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """One connection in one transaction (or autocommit for a single statement);
        database failures become StoreError."""
        try:
            with self._pool.connection() as conn:
                if not transaction:
                    yield conn
                    return
                with conn.transaction():
                    yield conn
        except LeaseLost:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"store at {self.location} failed: {why(exc)}") from exc

    # --- checks ------------------------------------------------------------------------

    def release(self) -> None:
        with self._tx() as conn:
            for table in ("sources", "targets"):
                conn.execute(
                    f"UPDATE {table} SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner = %s",
                    (self.owner,),
                )

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute("SELECT 1")

    def check(
        self, *, deep: bool = False, now: float | None = None, sources: Sequence[str] = ()
    ) -> StoreInfo:
        now = self.clock() if now is None else now
        with self._tx() as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            version = pgschema.current(conn)
            query = "SELECT count(*), coalesce(max(%s - next_due), 0) FROM sources "
            query += "WHERE next_due <= %s AND (lease_until IS NULL OR lease_until < %s)"
            query += " AND name = ANY(%s)" if sources else ""
            args: list[Any] = [now, now, now, *([list(sources)] if sources else [])]
            count, lag = conn.execute(query, args).fetchone()  # type: ignore[misc]
            known = conn.execute(
                "SELECT count(*) FROM sources WHERE name = ANY(%s)", (list(sources),)
            ).fetchone()[0]  # type: ignore[index]
        return StoreInfo(
            "postgresql", self.location, server=str(server), schema_version=version,
            due_sources=int(count), due_lag=float(lag),
            details={"never_polled": len(set(sources)) - int(known)},
        )  # fmt: skip

    # --- sources -----------------------------------------------------------------------

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
        return SourceState.from_dict(row[0] if row else {})

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

    def claim_sources(
        self, names: Sequence[str], now: float, limit: int, ttl: float, *, due_only: bool = True
    ) -> list[Lease]:
        with self._tx() as conn:
            rows = conn.execute(
                "WITH due AS (SELECT name, lease_owner AS previous FROM sources "
                "  WHERE name = ANY(%(names)s) AND (next_due <= %(now)s OR NOT %(due_only)s) "
                "  AND (lease_until IS NULL OR lease_until < %(now)s) "
                "  ORDER BY next_due LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
                "UPDATE sources s SET lease_owner = %(me)s, lease_until = %(until)s, "
                "  lease_version = s.lease_version + 1 FROM due WHERE s.name = due.name "
                "RETURNING s.name, s.lease_version, due.previous, s.state",
                {"names": list(names), "now": now, "limit": limit, "me": self.owner,
                 "until": now + ttl, "due_only": due_only},
            ).fetchall()  # fmt: skip
        return [
            Lease(n, self.owner, v, now + ttl, p, SourceState.from_dict(st)) for n, v, p, st in rows
        ]

    def renew(self, lease: Lease, now: float, ttl: float) -> Lease:
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE sources SET lease_until = %s WHERE name = %s AND lease_owner = %s "
                "AND lease_version = %s RETURNING 1",
                (now + ttl, lease.source, lease.owner, lease.version),
            ).fetchone()
        if row is None:
            raise LeaseLost(f"lease on source {lease.source!r} lost")
        return Lease(lease.source, lease.owner, lease.version, now + ttl)

    # --- outbox ------------------------------------------------------------------------

    def enqueue(self, notices: Sequence[Notice], now: float) -> int:
        with self._tx() as conn:
            return enqueue(conn, notices, now, now + self.seen_ttl)

    def claim_due(
        self, target: str, now: float, limit: int | None = None, ttl: float = 300.0
    ) -> list[OutboxRow]:
        """Take (or renew) the target's lease, then claim its oldest rows. One node delivers a
        target at a time, so its messages keep their order."""
        with self._tx() as conn:
            conn.execute("INSERT INTO targets (name) VALUES (%s) ON CONFLICT DO NOTHING", (target,))
            held = conn.execute(
                "UPDATE targets t SET lease_owner = %(me)s, lease_until = %(until)s, "
                "  lease_version = t.lease_version + (t.lease_owner IS DISTINCT FROM %(me)s)::int "
                "WHERE name IN (SELECT name FROM targets WHERE name = %(t)s AND (lease_owner IS "
                "  NULL OR lease_owner = %(me)s OR lease_until < %(now)s) FOR UPDATE SKIP LOCKED) "
                "RETURNING 1",
                {"me": self.owner, "until": now + ttl, "t": target, "now": now},
            ).fetchone()
            if held is None:
                raise LeaseLost(f"target {target!r} is being delivered by another node")
            rows = conn.execute(
                "UPDATE outbox SET claim_owner = %(me)s, claim_until = %(until)s WHERE id IN "
                "(SELECT id FROM outbox WHERE target = %(t)s ORDER BY id LIMIT %(limit)s "
                f"FOR UPDATE SKIP LOCKED) RETURNING {OUTBOX_COLUMNS}",
                {"me": self.owner, "until": now + ttl, "t": target, "limit": limit},
            ).fetchall()
        return sorted((outbox_row(r) for r in rows), key=lambda r: int(r.id))

    def _fenced(self, conn: psycopg.Connection[Any], target: str) -> None:
        row = conn.execute(
            "SELECT lease_owner FROM targets WHERE name = %s FOR UPDATE", (target,)
        ).fetchone()
        if row is not None and row[0] not in (None, self.owner):
            raise LeaseLost(f"lease on target {target!r} lost to {row[0]}")

    def _save_target(self, conn: psycopg.Connection[Any], target: str, state: TargetState) -> None:
        conn.execute(
            "INSERT INTO targets (name, state) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state",
            (target, Jsonb(state.to_dict())),
        )

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
        until = self.clock() + self.seen_ttl
        now = self.clock() if now is None else now
        with self._tx() as conn:
            self._fenced(conn, target)
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE outbox SET attempts = %s, first_attempt_at = %s, next_at = %s, "
                    "done_urls = %s, last_error = %s WHERE id = %s",
                    [
                        (r.attempts, r.first_attempt_at, r.next_at, sorted(r.done_urls),
                         r.last_error, int(r.id))
                        for r in retry if r.id
                    ],
                )  # fmt: skip
                cur.executemany(
                    "INSERT INTO failed (target, kind, payload, reason, at, expires, attempts) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (target, r.kind, Jsonb(dict(r.payload)), reason, now, until, r.attempts)
                        for r in failed
                    ],
                )
            ids = [int(r.id) for r in (*done, *failed) if r.id]
            conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))
            self._save_target(conn, target, state)
            enqueue(conn, notices, now, until)

    def pending(self, target: str, limit: int | None = None) -> list[OutboxRow]:
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE target = %s ORDER BY id LIMIT %s",
                (target, limit),
            ).fetchall()
        return [outbox_row(r) for r in rows]

    def pending_count(self, target: str) -> int:
        with self._tx() as conn:
            row = conn.execute("SELECT count(*) FROM outbox WHERE target = %s", (target,))
            return int(row.fetchone()[0])  # type: ignore[index]

    def failed(self, target: str) -> list[FailedRow]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT kind, payload, reason, at, attempts FROM failed WHERE target = %s "
                "ORDER BY id",
                (target,),
            ).fetchall()
        return [FailedRow(target, k, p, r, a, n) for k, p, r, a, n in rows]

    # --- targets, feeds, housekeeping ----------------------------------------------------

    def target_state(self, target: str) -> TargetState:
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM targets WHERE name = %s", (target,)).fetchone()
        return TargetState.from_dict(row[0] if row else {})

    def save_target_state(self, target: str, state: TargetState) -> None:
        with self._tx() as conn:
            self._fenced(conn, target)
            self._save_target(conn, target, state)

    def feed_entries(self, source: str) -> list[Entry]:
        with self._tx() as conn:
            row = conn.execute("SELECT feed FROM sources WHERE name = %s", (source,)).fetchone()
        return [Entry.from_dict(e) for e in (row[0] if row else [])]

    def feed_versions(self, known: Mapping[str, int]) -> dict[str, int]:
        with self._tx(transaction=False) as conn:
            rows = conn.execute("SELECT name, feed_version FROM sources WHERE feed_version > 0")
            return {n: int(v) for n, v in rows.fetchall() if known.get(n) != v}

    def expire(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        removed = 0
        with self._tx() as conn:
            for table in ("seen", "handed", "failed"):
                removed += conn.execute(f"DELETE FROM {table} WHERE expires < %s", (now,)).rowcount
        return removed
