"""Persistent state behind one interface (`base.Store`): the embedded diskcache directory by
default, PostgreSQL when `[storage] url` is set (several processes share it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from feedbridge.store.base import (
    FailedRow,
    Kind,
    KnownFeed,
    Lease,
    LeaseLost,
    Notice,
    OutboxRow,
    PageConflict,
    PageSource,
    PollOutcome,
    PollView,
    SourceState,
    Store,
    StoreInfo,
    StoreUnavailable,
    TakenOver,
    TargetState,
)
from feedbridge.store.embedded import EmbeddedStore, open_embedded
from feedbridge.store.notices import entry_notice, health_notice, health_notices, notice_key
from feedbridge.store.status import StoreStatus, Streak

if TYPE_CHECKING:
    from feedbridge.config import StorageConfig

__all__ = [
    "EmbeddedStore",
    "FailedRow",
    "Kind",
    "KnownFeed",
    "Lease",
    "LeaseLost",
    "Notice",
    "OutboxRow",
    "PageConflict",
    "PageSource",
    "PollOutcome",
    "PollView",
    "SourceState",
    "Store",
    "StoreInfo",
    "StoreStatus",
    "StoreUnavailable",
    "Streak",
    "TakenOver",
    "TargetState",
    "entry_notice",
    "health_notice",
    "health_notices",
    "notice_key",
    "open_embedded",
    "open_store",
]


def open_store(storage: StorageConfig, clock: Callable[[], float] = time.time) -> Store:
    """The backend `[storage]` names: PostgreSQL for a `url`, else the embedded directory.
    Raises StoreError (with a remedy) when it cannot be opened."""
    ttl = storage.seen_ttl.total_seconds()
    if storage.url is not None:
        from feedbridge.store.postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(storage.url.get_secret_value(), seen_ttl=ttl, clock=clock)
    return open_embedded(storage.path, seen_ttl=ttl, size_limit=storage.size_limit, clock=clock)
