"""The worker on a shared store: claim due sources under leases, poll each while renewing its
lease, and load the feeds other nodes rendered. See docs/architecture.md, "The lease protocol"."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from feedbridge.core.errors import StoreError
from feedbridge.poll.outcome import PollReport
from feedbridge.sources import Source
from feedbridge.store import Lease, LeaseLost

if TYPE_CHECKING:
    from feedbridge.poll.worker import Worker

log = logging.getLogger("feedbridge.worker")

CLAIM_TICK = 1.0  # how often a worker on a shared store looks for due sources
SYNC_TICK = 2.0  # how often a node on a shared store loads feeds other nodes rendered


async def claim_loop(worker: Worker, stop: asyncio.Event) -> None:
    """Claim due sources (up to the free poll slots), poll each under its lease."""
    by_name = {s.name: s for s in worker.sources}
    worker.store.register_sources(list(by_name), time.time())
    width = max(1, worker.http.settings.concurrency)
    running: set[asyncio.Task[PollReport]] = set()
    while not stop.is_set():
        worker.heartbeat = time.time()
        free = width - len(running)
        if free > 0:
            try:
                leases = worker.store.claim_sources(list(by_name), time.time(), free, worker.lease)
            except StoreError as exc:
                log.error("claiming sources failed", extra={"error": str(exc)})
                leases = []
            for lease in leases:
                if lease.taken_over is not None:
                    worker.takeovers += 1
                    log.warning(
                        "lease taken over",
                        extra={"source": lease.source, "previous": lease.taken_over},
                    )
                task = asyncio.create_task(poll_leased(worker, by_name[lease.source], lease))
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


async def poll_leased(worker: Worker, source: Source, lease: Lease | None) -> PollReport:
    """Poll under `lease`, renewing it every third of its length; a lease lost while
    fetching cancels the poll (the new holder polls instead). A poll still running after
    `worker.poll_limit` seconds (its fetches have deadlines far shorter) is cancelled and its
    lease no longer renewed: it lapses and the source is polled again, by any node."""
    if lease is None:
        return await worker.poll(source)
    task = asyncio.create_task(worker.poll(source, lease=lease))
    started = time.monotonic()
    while True:
        try:
            done, _ = await asyncio.wait({task}, timeout=worker.lease / 3)
        except asyncio.CancelledError:
            task.cancel()  # a stop cuts the poll itself, not only its renewals
            raise
        if done:
            return task.result()
        if time.monotonic() - started > worker.poll_limit:
            task.cancel()  # not awaited: a poll that outran every deadline may not end at once
            message = f"poll still running after {worker.poll_limit:g}s; its lease is left to lapse"
            log.error("poll overran", extra={"source": source.name, "url": source.url})
            return PollReport(source.name, ok=False, error=message, lease_lost=True)
        try:
            lease = worker.store.renew(lease, time.time(), worker.lease)
        except LeaseLost:
            log.warning("lease lost while polling", extra={"source": source.name})
            task.cancel()
            return PollReport(source.name, ok=False, error="lease lost", lease_lost=True)
        except StoreError as exc:
            log.error("renewing a lease failed", extra={"source": source.name, "error": str(exc)})


async def sync_loop(worker: Worker, stop: asyncio.Event) -> None:
    """Serve what other nodes rendered: load feeds whose stored version changed."""
    while not await worker.sleep(stop, SYNC_TICK):
        worker.heartbeat = time.time()
        try:
            worker.board.sync(worker.store)
        except StoreError as exc:
            log.error("loading stored feeds failed", extra={"error": str(exc)})
