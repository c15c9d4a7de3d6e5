"""The PostgreSQL store's outbox and targets: one node at a time delivers a target (its lease),
claims its oldest rows, and settles each attempt only while it still holds the target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from feedbridge.store.base import FailedRow, LeaseLost, Notice, OutboxCalls, OutboxRow, TargetState
from feedbridge.store.postgres.base import Base
from feedbridge.store.postgres.statements import OUTBOX_COLUMNS, enqueue, outbox_row


class Outbox(Base, OutboxCalls):
    """Outbox and targets, under the target's lease."""

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

    def target_state(self, target: str) -> TargetState:
        with self._tx() as conn:
            row = conn.execute("SELECT state FROM targets WHERE name = %s", (target,)).fetchone()
        return TargetState.from_dict(row[0] if row else {})

    def save_target_state(self, target: str, state: TargetState) -> None:
        with self._tx() as conn:
            self._fenced(conn, target)
            self._save_target(conn, target, state)
