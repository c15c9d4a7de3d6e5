"""The worker's loops while the store is away: they pause until it answers again (probing it on
its backoff schedule) and resume by themselves. The store itself logs "store down" and "store
back" (store/status.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from feedbridge.core.errors import StoreError
from feedbridge.store import Store

Sleep = Callable[[asyncio.Event, float], Awaitable[bool]]  # wait or stop; True if stopping
LEAST_WAIT = 0.05  # seconds between two looks at a store that is down


async def store_back(store: Store, stop: asyncio.Event, sleep: Sleep) -> bool:
    """Wait while the store is down, probing it when its backoff allows; True if stopping."""
    while not store.status.up:
        with contextlib.suppress(StoreError):
            await store.probe()
        if store.status.up:
            break
        if await sleep(stop, max(LEAST_WAIT, store.status.retry_in())):
            return True
    return stop.is_set()
