"""The PostgreSQL store's housekeeping: liveness, the check `feedbridge check` prints (server,
schema version, due sources and their lag), leases handed over at shutdown, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feedbridge.store.base import StoreInfo
from feedbridge.store.postgres import migrations
from feedbridge.store.postgres.base import Base
from feedbridge.store.postgres.statements import CLOCK


class Housekeeping(Base):
    """Checks, release, expiry."""

    def release(self) -> None:
        with self._tx() as conn:
            for table in ("sources", "targets"):
                conn.execute(
                    f"UPDATE {table} SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner = %s",
                    (self.owner,),
                )

    def check(
        self, *, deep: bool = False, now: float | None = None, sources: Sequence[str] = ()
    ) -> StoreInfo:
        now = self.clock() if now is None else now
        with self._tx() as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            version = migrations.current(conn)
            query = "SELECT count(*), coalesce(max(%s - next_due), 0) FROM sources "
            query += f"WHERE next_due <= %s AND (lease_until IS NULL OR lease_until < {CLOCK})"
            query += " AND name = ANY(%s)" if sources else ""
            args: list[Any] = [now, now, *([list(sources)] if sources else [])]
            count, lag = conn.execute(query, args).fetchone()  # type: ignore[misc]
            known = conn.execute(
                "SELECT count(*) FROM sources WHERE name = ANY(%s)", (list(sources),)
            ).fetchone()[0]  # type: ignore[index]
        return StoreInfo(
            "postgresql", self.location, server=str(server), schema_version=version,
            due_sources=int(count), due_lag=float(lag),
            details={"never_polled": len(set(sources)) - int(known)},
        )  # fmt: skip

    def expire(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        removed = 0
        with self._tx() as conn:
            conn.execute("SET LOCAL statement_timeout = '5min'")  # hourly, and may be large
            for table in ("seen", "handed", "failed"):
                removed += conn.execute(f"DELETE FROM {table} WHERE expires < %s", (now,)).rowcount
        return removed
