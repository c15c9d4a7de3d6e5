"""The PostgreSQL store: several feedbridge processes on one database. The only package that
imports psycopg (and only when `[storage] url` is set).

Sources and targets carry leases (owner, until, version) claimed with
`UPDATE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)`; an outcome is
written only while its lease is still held (fencing), so a worker that stalled
past its lease cannot overwrite the worker that took the source over.

`PostgresStore` is built from one part per domain: `polls.py` (sources and leases, polls and
seen keys, feeds), `outbox.py` (outbox and targets), `pages.py` (sources made on the web
page), `housekeeping.py` (check, release, expiry), on `base.py` (pool, transactions);
`statements.py` holds the statements several parts share, `migrations.py` and `schema/*.sql`
the schema.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable

import psycopg
from psycopg_pool import ConnectionPool

from feedbridge.core.errors import StoreError
from feedbridge.core.logs import mask_dsn
from feedbridge.store.postgres import migrations
from feedbridge.store.postgres.housekeeping import Housekeeping
from feedbridge.store.postgres.outbox import Outbox
from feedbridge.store.postgres.pages import PageSources
from feedbridge.store.postgres.polls import Feeds, Polls, Sources
from feedbridge.store.postgres.statements import why

__all__ = ["PostgresStore"]


class PostgresStore(Sources, Polls, Feeds, Outbox, PageSources, Housekeeping):
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
                    migrations.migrate(conn)
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
