"""What every part of the PostgreSQL store builds on: the connection pool and one transaction
per call, database failures turned into StoreError (LeaseLost passes through)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from feedbridge.core.errors import StoreError
from feedbridge.store.base import LeaseLost
from feedbridge.store.postgres.statements import why


class Base:
    """The pool and the transaction every part of `PostgresStore` uses."""

    url: str
    location: str  # the URL with its password masked
    seen_ttl: float
    clock: Callable[[], float]
    owner: str  # host:pid:random, in every lease this process takes
    _pool: ConnectionPool

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
