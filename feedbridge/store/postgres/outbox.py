"""The PostgreSQL store's outbox and targets: one node at a time delivers a target (its lease,
timed by the database's clock), reads a batch of its oldest rows, checks the lease before each
send and settles each attempt only while it still holds the target."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from feedbridge.store.base import (
    FailedRow,
    LeaseLost,
    Notice,
    OutboxCalls,
    OutboxRow,
    TakenOver,
    TargetState,
)
from feedbridge.store.postgres.base import Base
from feedbridge.store.postgres.statements import (
    CLOCK,
    OUTBOX_COLUMNS,
    START,
    enqueue,
    outbox_row,
)

# after a takeover, how long (at most half the lease) the new holder waits before claiming rows:
# the previous holder sees the store back within half a second and settles at once
TAKEOVER_GRACE = 5.0


class Outbox(Base, OutboxCalls):
    """Outbox and targets, under the target's lease."""

    def enqueue(self, notices: Sequence[Notice], now: float) -> int:
        with self._tx() as conn:
            return enqueue(conn, notices, now, now + self.seen_ttl)

    def claim_due(
        self, target: str, now: float, limit: int | None = None, ttl: float = 300.0
    ) -> list[OutboxRow]:
        """Take (or renew) the target's lease, then read its oldest rows. One node delivers a
        target at a time, so its messages keep their order."""
        with self._tx(pipeline=True) as conn:  # one round trip
            conn.execute("INSERT INTO targets (name) VALUES (%s) ON CONFLICT DO NOTHING", (target,))
            # the lease runs `ttl` from the claim's start: a claim that waited past it on a lock
            # takes nothing (CLOCK is when the row is written)
            claim = conn.execute(
                "WITH cur AS (SELECT name, lease_owner AS previous FROM targets WHERE name = %(t)s "
                f"  AND (lease_owner IS NULL OR lease_owner = %(me)s OR lease_until < {CLOCK}) "
                "  FOR UPDATE SKIP LOCKED) "
                f"UPDATE targets t SET lease_owner = %(me)s, lease_until = {START} + %(ttl)s, "
                "  lease_version = t.lease_version + (t.lease_owner IS DISTINCT FROM %(me)s)::int "
                f"FROM cur WHERE t.name = cur.name AND {CLOCK} < {START} + %(ttl)s "
                "RETURNING cur.previous",
                {"me": self.owner, "t": target, "ttl": ttl},
            )
            holder = conn.execute(
                f"SELECT lease_owner, lease_until > {CLOCK} FROM targets WHERE name = %s",
                (target,),
            )
            rows = conn.execute(  # read only by the holder (the claim above made it so or not)
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE target = %(t)s AND EXISTS "
                "(SELECT 1 FROM targets WHERE name = %(t)s AND lease_owner = %(me)s) "
                "ORDER BY id LIMIT %(limit)s",
                {"t": target, "me": self.owner, "limit": limit},
            )
        claimed, (owner, live) = claim.fetchone(), holder.fetchone() or (None, False)
        found = rows.fetchall()
        if claimed is None:
            if owner not in (None, self.owner) and live:
                raise LeaseLost(f"target {target!r} is being delivered by another node")
            return []  # the claim waited past its lease
        if claimed[0] not in (None, self.owner):  # a takeover: the previous holder settles first
            self._takeovers[target] = time.monotonic() + min(ttl / 2, TAKEOVER_GRACE)
        wait = self._takeovers.get(target, 0.0) - time.monotonic()
        if wait > 0:
            raise TakenOver(target, claimed[0] or "this node", round(wait, 2))
        self._takeovers.pop(target, None)
        return [outbox_row(r) for r in found]

    def hold(self, target: str, ttl: float) -> None:
        with self._tx(transaction=False) as conn:
            held = conn.execute(
                f"UPDATE targets SET lease_until = {CLOCK} + %s "
                "WHERE name = %s AND lease_owner = %s RETURNING 1",
                (ttl, target, self.owner),
            ).fetchone()
        if held is None:
            raise LeaseLost(f"lease on target {target!r} lost")

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
        hold: float | None = None,
    ) -> None:
        now = self.clock() if now is None else now
        rest = bool(retry or failed or notices)
        with self._tx(pipeline=True) as conn:  # a `complete`: one round trip
            # delivered rows go even from a node that lost the target: sent again, they repeat
            ids = [int(r.id) for r in done if r.id]
            conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))
            saved = conn.execute(
                "INSERT INTO targets (name, state) VALUES (%(t)s, %(state)s) "
                "ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, "
                # with `hold`: the lease extended (and this node's, should it have been released)
                f"  lease_until = coalesce({CLOCK} + %(hold)s::float8, targets.lease_until), "
                "  lease_owner = CASE WHEN %(hold)s::float8 IS NULL THEN targets.lease_owner "
                "    ELSE %(me)s END "
                "WHERE targets.lease_owner = %(me)s OR targets.lease_owner IS NULL RETURNING 1",
                {"t": target, "state": Jsonb(state.to_dict()), "me": self.owner, "hold": hold},
            )
            if rest and saved.fetchone() is not None:
                self._settle_held(conn, target, retry, failed, reason, notices, now)
                return
        if rest or saved.fetchone() is None:
            raise LeaseLost(f"lease on target {target!r} lost; only its delivered rows removed")

    def _settle_held(
        self,
        conn: psycopg.Connection[Any],
        target: str,
        retry: Sequence[OutboxRow],
        failed: Sequence[OutboxRow],
        reason: str,
        notices: Sequence[Notice],
        now: float,
    ) -> None:
        """What only the target's holder writes: retries, the failed log, notices."""
        until = self.clock() + self.seen_ttl
        with conn.cursor() as cur:
            if retry:
                cur.executemany(
                    "UPDATE outbox SET attempts = %s, first_attempt_at = %s, next_at = %s, "
                    "done_urls = %s, last_error = %s WHERE id = %s",
                    [
                        (r.attempts, r.first_attempt_at, r.next_at, sorted(r.done_urls),
                         r.last_error, int(r.id))
                        for r in retry if r.id
                    ],
                )  # fmt: skip
            if failed:
                cur.executemany(
                    "INSERT INTO failed (target, kind, payload, reason, at, expires, attempts) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (target, r.kind, Jsonb(dict(r.payload)), reason, now, until, r.attempts)
                        for r in failed
                    ],
                )
                ids = [int(r.id) for r in failed if r.id]
                cur.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))
        enqueue(conn, notices, now, until)

    def pending(self, target: str, limit: int | None = None) -> list[OutboxRow]:
        with self._tx() as conn:
            rows = conn.execute(  # read only by the holder (the claim above made it so or not)
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE target = %(t)s AND EXISTS "
                "(SELECT 1 FROM targets WHERE name = %(t)s AND lease_owner = %(me)s) "
                "ORDER BY id LIMIT %(limit)s",
                {"t": target, "me": self.owner, "limit": limit},
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

    def target_state(self, target: str) -> TargetState:
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM targets WHERE name = %s", (target,)).fetchone()
        return TargetState.from_dict(row[0] if row else {})

    def save_target_state(self, target: str, state: TargetState) -> None:
        """The end of a round: the target's state saved, and the target handed back, so that
        any node may take the next round at once (not a takeover: no grace)."""
        with self._tx(transaction=False) as conn:
            saved = conn.execute(
                "INSERT INTO targets (name, state) VALUES (%(t)s, %(state)s) "
                "ON CONFLICT (name) DO UPDATE "
                "SET state = EXCLUDED.state, lease_owner = NULL, lease_until = NULL "
                "WHERE targets.lease_owner = %(me)s OR targets.lease_owner IS NULL RETURNING 1",
                {"t": target, "state": Jsonb(state.to_dict()), "me": self.owner},
            ).fetchone()
        if saved is None:
            raise LeaseLost(f"lease on target {target!r} lost to another node")
