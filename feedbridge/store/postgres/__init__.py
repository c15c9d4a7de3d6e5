"""The PostgreSQL store: several feedbridge processes on one database. The only package that
imports psycopg (and only when `[storage] url` is set).

Sources and targets carry leases (owner, until, version) claimed with
`UPDATE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)` and timed by the
database's clock; an outcome is written only while its lease is still held (fencing), so a
worker that stalled past its lease cannot overwrite the worker that took the source over.
Every connection has short timeouts (connect, pool wait, statement, lock); async callers run
the calls in worker threads (`run`), so the event loop never waits on the database.

`PostgresStore` is built from one part per domain: `polls.py` (sources and leases, polls and
seen keys, feeds), `outbox.py` (outbox and targets), `pages.py` (sources made on the web
page), `housekeeping.py` (check, release, expiry), on `base.py` (pool, transactions);
`statements.py` holds the statements several parts share, `migrations.py` and `schema/*.sql`
the schema.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg_pool import ConnectionPool

from feedbridge.core.errors import StoreError
from feedbridge.core.logs import mask_dsn, mask_dsn_in
from feedbridge.store.postgres import migrations
from feedbridge.store.postgres.base import POOL_WAIT, connect_kwargs
from feedbridge.store.postgres.housekeeping import Housekeeping
from feedbridge.store.postgres.outbox import Outbox
from feedbridge.store.postgres.pages import PageSources
from feedbridge.store.postgres.polls import Feeds, Polls, Sources
from feedbridge.store.postgres.statements import why
from feedbridge.store.status import StoreStatus

__all__ = ["PostgresStore"]

# The pool logs every failed reconnection attempt, psycopg each pipeline a lost connection
# ends; the store's status says "store down" and "store back" once each instead.
logging.getLogger("psycopg").setLevel(logging.ERROR)
RECONNECT_TIMEOUT = 2.0  # the pool stops retrying a connection after this; the next call retries


class PostgresStore(Sources, Polls, Feeds, Outbox, PageSources, Housekeeping):
    """The Store protocol on PostgreSQL (see feedbridge.store.base)."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        seen_ttl: float = 90 * 86400,
        clock: Callable[[], float] = time.time,
        pool_size: int = 6,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.location = mask_dsn(url)
        self.seen_ttl = seen_ttl
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.status = StoreStatus(self.location)
        self._lane = None
        self._lane_lock = threading.Lock()
        self._takeovers: dict[str, float] = {}  # target -> monotonic time its grace ends
        try:
            self._kwargs = connect_kwargs(url)
            # one direct connection first: a wrong host or password fails at once, clearly
            with psycopg.connect(url, **{**self._kwargs, "connect_timeout": 10}) as conn:
                if migrate:
                    migrations.migrate(conn)
            # The pool's own reconnection backoff doubles up to `reconnect_timeout`: kept short,
            # so that a call after the database's return connects at once.
            self._pool = ConnectionPool(
                url, min_size=1, max_size=pool_size, open=True, timeout=POOL_WAIT,
                kwargs=self._kwargs, reconnect_timeout=RECONNECT_TIMEOUT,
            )  # fmt: skip
        except (psycopg.Error, OSError) as exc:
            cause = mask_dsn_in(why(exc), url)  # libpq quotes a URL it cannot read
            raise StoreError(
                f"cannot open the store at {self.location}: {cause}; check that "
                "PostgreSQL runs there and accepts this user and password"
            ) from exc
        except StoreError as exc:  # a schema newer than this feedbridge
            raise StoreError(
                f"cannot open the store at {self.location}: {mask_dsn_in(str(exc), url)}"
            ) from exc
        # one thread per connection: a call waits for a thread, then (at most POOL_WAIT) for
        # a connection; pings have a thread (and a connection) of their own
        self._threads = ThreadPoolExecutor(pool_size, thread_name_prefix="store")
        self._lane_thread = ThreadPoolExecutor(1, thread_name_prefix="store-ping")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._lane_thread.shutdown(wait=False, cancel_futures=True)
        with self._lane_lock:
            if self._lane is not None:
                self._lane.close()
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
