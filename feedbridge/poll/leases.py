"""Polling on a shared store: claim due sources under leases, poll each while renewing its
lease, and load the feeds other nodes rendered. See docs/architecture.md, "The lease protocol".
Every store call runs off the event loop (`store.run`); while the store is down the loops
pause (pause.py) and resume when it answers again.

It drives a `Poller` (one poll) and never the worker: the worker's loops start these.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from feedbridge.core.errors import StoreError
from feedbridge.feeds.board import FeedBoard
from feedbridge.poll.outcome import PollReport
from feedbridge.poll.pause import Sleep, store_back
from feedbridge.poll.poller import Poller
from feedbridge.sources import Source
from feedbridge.store import Lease, LeaseLost, Store, Streak

log = logging.getLogger("feedbridge.worker")

CLAIM_TICK = 1.0  # how often a worker on a shared store looks for due sources
SYNC_TICK = 2.0  # how often a node on a shared store loads feeds other nodes rendered


class LeasedPolls:
    """A worker's polls on a shared store: `ttl` is the lease's length, `width` the polls at
    once, `poll_limit` the seconds a poll may run before its lease is left to lapse."""

    def __init__(
        self,
        poller: Poller,
        store: Store,
        *,
        ttl: float,
        width: int,
        poll_limit: float,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        self.poller = poller
        self.store = store
        self.ttl = ttl
        self.width = max(1, width)
        self.poll_limit = poll_limit
        self.beat = beat  # called on every round: the worker's heartbeat
        self.takeovers = 0  # leases taken from a holder that stopped renewing

    async def claim_loop(
        self, sources: Callable[[], Sequence[Source]], stop: asyncio.Event, sleep: Sleep
    ) -> None:
        """Claim due sources (up to the free poll slots), poll each under its lease; while the
        store is down, claim nothing until it is back.

        `sources` is asked every round (a live reload changes it): a new source is registered
        and claimed, a removed one no longer claimed. Each claim names the config this node
        runs for each source (`Source.fingerprint`): a source made due for a changed config
        is left to the nodes that run it (the others reload within seconds), and one made due
        while a poll held it stays due after that poll (the store sees to both).
        """
        by_name: dict[str, Source] = {}
        streak = Streak("claiming sources")
        running: set[asyncio.Task[PollReport]] = set()
        while not stop.is_set():
            self.beat()
            if not self.store.status.up and await store_back(self.store, stop, sleep):
                break
            current = {s.name: s for s in sources()}
            new = sorted(current.keys() - by_name.keys())
            if new and not await self._registered(new, stop, sleep, streak):
                continue  # registered on a later round
            by_name = current
            free = self.width - len(running)
            for lease in await self._claim(by_name, free, streak) if free > 0 else []:
                source = by_name[lease.source]
                task = asyncio.create_task(self.poll_leased(source, lease))
                running.add(task)
                task.add_done_callback(running.discard)
            waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait()), *running]
            try:
                await asyncio.wait(waiters, timeout=CLAIM_TICK, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiters[0].cancel()
                if stop.is_set():  # polls are cut at once; the leases are released on exit
                    for task in running:
                        task.cancel()

    async def _registered(
        self, names: list[str], stop: asyncio.Event, sleep: Sleep, streak: Streak
    ) -> bool:
        """Register the sources (a row each); True once done or stopping."""
        try:
            await self.store.run(self.store.register_sources, names, time.time())
        except StoreError as exc:
            streak.failed(exc)
            if self.store.status.up:
                return await sleep(stop, CLAIM_TICK)
            return await store_back(self.store, stop, sleep)
        return True

    async def _claim(self, sources: dict[str, Source], free: int, streak: Streak) -> list[Lease]:
        """Up to `free` due sources nobody holds; a claim that fails is logged (once while it
        keeps failing), not raised."""
        names = list(sources)
        fingerprints = [sources[n].fingerprint for n in names]
        try:
            leases = await self.store.run(
                self.store.claim_sources, names, time.time(), free, self.ttl,
                fingerprints=fingerprints,
            )  # fmt: skip
        except StoreError as exc:
            streak.failed(exc)
            return []
        streak.ok()
        for lease in leases:
            if lease.taken_over is not None:
                self.takeovers += 1
                log.warning(
                    "lease taken over", extra={"source": lease.source, "previous": lease.taken_over}
                )
        return leases

    async def poll_leased(self, source: Source, lease: Lease | None) -> PollReport:
        """Poll under `lease`, renewing it every third of its length; a lease lost while
        fetching cancels the poll (the new holder polls instead). A poll still running after
        `poll_limit` seconds (its fetches have deadlines far shorter) is cancelled and its
        lease no longer renewed: it lapses and the source is polled again, by any node."""
        if lease is None:
            return await self.poller.poll(source)
        task = asyncio.create_task(self.poller.poll(source, lease=lease))
        started = time.monotonic()
        while True:
            try:
                done, _ = await asyncio.wait({task}, timeout=self.ttl / 3)
            except asyncio.CancelledError:
                task.cancel()  # a stop cuts the poll itself, not only its renewals
                raise
            if done:
                return task.result()
            if time.monotonic() - started > self.poll_limit:
                task.cancel()  # not awaited: a poll that outran every deadline may not end at once
                log.error("poll overran", extra={"source": source.name, "url": source.url})
                limit = f"{self.poll_limit:g}s"
                message = f"poll still running after {limit}; its lease is left to lapse"
                return PollReport(source.name, ok=False, error=message, lease_lost=True)
            try:
                lease = await self.store.run(self.store.renew, lease, time.time(), self.ttl)
            except LeaseLost:
                if task.done() or source.name in self.poller.writing:
                    return await task  # its own write released the lease (or was fenced)
                log.warning("lease lost while polling", extra={"source": source.name})
                task.cancel()
                return PollReport(source.name, ok=False, error="lease lost", lease_lost=True)
            except StoreError as exc:
                Streak("renewing a lease").failed(exc, source=source.name)


async def sync_loop(
    board: FeedBoard, store: Store, stop: asyncio.Event, sleep: Sleep, beat: Callable[[], None]
) -> None:
    """Serve what other nodes rendered: load feeds whose stored version changed; while the
    store is down, wait until it is back."""
    streak = Streak("loading stored feeds")
    while not await sleep(stop, SYNC_TICK):
        beat()
        if not store.status.up and await store_back(store, stop, sleep):
            return
        try:
            await board.sync(store)
        except StoreError as exc:
            streak.failed(exc)
        else:
            streak.ok()
