"""The worker's loops around one poll (poller.py): `run_once` for `once`, `run_forever` for `run`.

With the embedded store each source has its own loop; with a shared store the worker
claims due sources under leases (leases.py). Beside the polls: the delivery loop (woken when
a poll queued notices), hourly housekeeping, and a serve-only node's feed sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedbridge.core.errors import StoreError
from feedbridge.core.metrics import Metrics
from feedbridge.feeds.board import Publisher
from feedbridge.fetch.http import HttpClient
from feedbridge.notify.outbox import Notifier, RoundResult
from feedbridge.poll.decide import TargetRule
from feedbridge.poll.leases import LeasedPolls, sync_loop
from feedbridge.poll.outcome import PollReport
from feedbridge.poll.pause import store_back
from feedbridge.poll.poller import Poller
from feedbridge.poll.scheduler import first_due
from feedbridge.sources import Source
from feedbridge.store import Lease, Store, StoreUnavailable

if TYPE_CHECKING:
    from feedbridge.fetch.browser import BrowserPool

log = logging.getLogger("feedbridge.worker")

DELIVERY_TICK = 5.0
EXPIRE_EVERY = 3600.0
STOP_GRACE = 1.0  # after a stop, in-flight deliveries get this long; polls are cut at once
POLL_LIMIT_DEADLINES = 10  # fetch deadlines a poll on a shared store may take (then: lease lapses)


class Worker:
    """Polls sources on their schedule and delivers what the polls queued."""

    def __init__(
        self,
        *,
        sources: Sequence[Source],
        targets: Sequence[TargetRule],
        store: Store,
        http: HttpClient,
        notifier: Notifier,
        publisher: Publisher,
        metrics: Metrics | None = None,
        failure_threshold: int = 3,
        lease: float = 60.0,
        browser: BrowserPool | None = None,
    ) -> None:
        self.sources = list(sources)
        self.store = store
        self.http = http
        self.notifier = notifier
        self.board = publisher.board
        self.lease = lease
        self.heartbeat = time.time()
        self.poller = Poller(
            targets=targets, store=store, http=http, publisher=publisher, metrics=metrics,
            failure_threshold=failure_threshold, browser=browser,
        )  # fmt: skip
        # past `poll_limit`, a poll on a shared store gives up its lease
        self.leases = LeasedPolls(
            self.poller, store, ttl=lease, width=http.settings.concurrency,
            poll_limit=POLL_LIMIT_DEADLINES * http.settings.timeout, beat=self._beat,
        )  # fmt: skip
        # the schedule's wait, replaceable (with `clock`) so tests can drive it in fake time
        self.sleep: Callable[[asyncio.Event, float], Awaitable[bool]] = _sleep_or_stop
        self.last_round = RoundResult()  # the delivery round of the last run_once
        self._loops = SourceLoops(self._source_loop)  # the embedded store's, by source

    @property
    def clock(self) -> Callable[[], float]:
        """The schedule's clock, the poller's too (a shared store keeps next due times)."""
        return self.poller.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.poller.clock = clock

    def _beat(self) -> None:
        self.heartbeat = time.time()

    async def poll(
        self, source: Source, now: datetime | None = None, lease: Lease | None = None
    ) -> PollReport:
        """One poll of `source` (see `Poller.poll`)."""
        return await self.poller.poll(source, now, lease)

    def replace_sources(self, sources: Sequence[Source], repoll: Iterable[str] = ()) -> None:
        """Poll `sources` from now on (a live reload): a new one is polled, a removed one
        stopped (a poll in progress is cancelled), and those named in `repoll` (their config
        changed) are polled again at once (on a shared store: once across the nodes, by one
        that runs the new config). Seen entries stay in the store under each name."""
        before = {s.name for s in self.sources}
        self.sources = list(sources)
        now = {s.name for s in self.sources}
        repoll = set(repoll) & now
        if self.store.shared:  # the claim loop reads `sources` on every round
            if repoll:  # once per config, whichever node reloads the change first
                names = sorted(repoll)
                by_name = {s.name: s for s in self.sources}
                self.store.make_due(
                    names, self.clock(), fingerprints=[by_name[n].fingerprint for n in names]
                )
            return
        self._loops.cancel((before - now) | repoll)
        for source in self.sources:
            self._loops.start(source, due_now=source.name in repoll)

    def replace_targets(self, targets: Sequence[TargetRule]) -> None:
        """Apply these targets' filters to the polls from now on (a live reload)."""
        self.poller.targets = list(targets)

    # --- cycles ---------------------------------------------------------------------------

    async def run_once(self, deliver: bool = True) -> list[PollReport]:
        """Poll every source once (on a shared store: every source nobody else holds, due or
        not: whoever runs `once` from cron wants every source polled now),
        then try every queued delivery once (unless `deliver` is False: a `run` beside this
        `once` on the same data directory delivers).

        A fixed pool of pollers takes sources in turn, so that no more polls are
        in progress (state loaded, fetcher built) than can hold a connection.
        """
        by_name = {s.name: s for s in self.sources}
        work: list[tuple[Source, Lease | None]] = [(s, None) for s in self.sources]
        if self.store.shared:
            now = time.time()
            self.store.register_sources(list(by_name), now)
            leases = self.store.claim_sources(
                list(by_name), now, len(by_name), self.lease, due_only=False
            )
            work = [(by_name[lease.source], lease) for lease in leases]
        pending = iter(work)
        reports: dict[str, PollReport] = {}

        async def polls() -> None:
            for source, lease in pending:
                reports[source.name] = await self.leases.poll_leased(source, lease)

        width = max(1, min(self.http.settings.concurrency, len(work)))
        await asyncio.gather(*(polls() for _ in range(width)))
        self.heartbeat = time.time()
        if deliver:
            self.last_round = await self.notifier.deliver(respect_backoff=False)
        return [reports[s.name] for s in self.sources if s.name in reports]

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll each source on its schedule until `stop` is set: one loop per source on the
        embedded store, a claim loop on a shared one.

        Stopping takes at most STOP_GRACE seconds, whatever the peers do: polls in
        progress are cancelled (a poll is idempotent; on a shared store the node then
        releases its leases), a delivery in progress gets the grace to finish and is
        otherwise cancelled, its row left in the outbox.
        """
        pollers: list[asyncio.Task[None]] = []
        if self.store.shared:
            pollers = [
                asyncio.create_task(
                    self.leases.claim_loop(lambda: self.sources, stop, self.sleep)
                ),
                asyncio.create_task(self._sync_loop(stop)),
            ]
        else:  # the sync loop serves what a `once` beside this process wrote (issue 18)
            self._loops.stop = stop
            for source in self.sources:
                self._loops.start(source)
            beside = sync_loop(self.board, self.store, stop, _sleep_or_stop, self._beat)
            pollers = [asyncio.create_task(beside)]  # in real time, whatever the schedule
        delivery = asyncio.create_task(self._delivery_loop(stop))
        housekeeping = asyncio.create_task(self._housekeeping_loop(stop))
        try:
            await stop.wait()
        finally:
            pollers += self._loops.drain()
            self.poller.queued.set()
            for name in sorted(self.poller.polling):
                log.info("poll cancelled", extra={"source": name})
            for task in (*pollers, housekeeping):
                task.cancel()
            await asyncio.wait([delivery], timeout=STOP_GRACE)
            if not delivery.done():
                for item in sorted(self.notifier.sending):
                    log.warning("delivery cancelled, left in the outbox", extra={"item": item})
                delivery.cancel()
            tasks = [*pollers, housekeeping, delivery]
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception():
                    log.error("worker task failed", exc_info=task.exception())

    async def _source_loop(
        self, source: Source, stop: asyncio.Event, due_now: bool = False
    ) -> None:
        interval = source.config.interval.total_seconds()
        state = self.store.source_state(source.name)
        due = first_due(self.clock(), interval, state.last_poll, state.failures)
        if due_now:
            due = self.clock()
        while not stop.is_set():
            if await self.sleep(stop, due - self.clock()):
                return
            report = await self.poll(source, datetime.fromtimestamp(self.clock(), UTC))
            now = self.clock()
            due = report.next_due or self.poller.schedule(
                source, report.failures, report.retry_after
            )
            if not report.ok:
                log.info("retry scheduled", extra={"source": source.name, "in_s": round(due - now)})

    async def serve_only(self, stop: asyncio.Event) -> None:
        """A node that polls nothing (`[worker] enabled = false`): keep its feeds fresh."""
        await self._sync_loop(stop)

    async def _sync_loop(self, stop: asyncio.Event) -> None:
        await sync_loop(self.board, self.store, stop, self.sleep, self._beat)

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        """A round whenever a poll queued something (or every DELIVERY_TICK); while the store
        is down, none until it is back."""
        while not stop.is_set():
            self.heartbeat = time.time()
            if not self.store.status.up and await store_back(self.store, stop, self.sleep):
                return
            try:
                await self.notifier.deliver(stop=stop)
            except StoreUnavailable:
                continue  # the store said "store down"; wait for it above
            except Exception:
                log.exception("delivery round failed")
            self.poller.queued.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.poller.queued.wait(), DELIVERY_TICK)

    async def _housekeeping_loop(self, stop: asyncio.Event) -> None:
        while not await _sleep_or_stop(stop, EXPIRE_EVERY):
            try:  # in a thread even on the embedded store: it may remove many rows
                removed = await asyncio.to_thread(self.store.expire)
            except StoreError as exc:  # tried again in an hour
                log.error("expiring old keys failed", extra={"error": str(exc)})
                continue
            log.info("expired old keys", extra={"removed": removed})


class SourceLoops:
    """The embedded store's one loop per source, by name: started while the worker runs
    (`stop` set), cancelled when a reload removes or changes the source."""

    def __init__(
        self, run: Callable[[Source, asyncio.Event, bool], Coroutine[Any, Any, None]]
    ) -> None:
        self.run = run
        self.stop: asyncio.Event | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, source: Source, due_now: bool = False) -> None:
        if self.stop is None or source.name in self.tasks:
            return
        task = asyncio.create_task(self.run(source, self.stop, due_now))
        self.tasks[source.name] = task
        task.add_done_callback(lambda done: _log_crash(source.name, done))

    def cancel(self, names: Iterable[str]) -> None:
        for name in names:
            task = self.tasks.pop(name, None)
            if task is not None:
                task.cancel()

    def drain(self) -> list[asyncio.Task[None]]:
        """Every loop, handed over for cancelling (the worker stops)."""
        tasks, self.tasks, self.stop = list(self.tasks.values()), {}, None
        return tasks


def _log_crash(name: str, task: asyncio.Task[None]) -> None:
    """A source's loop that ended on an error (a bug) says so; the others keep running."""
    if not task.cancelled() and task.exception() is not None:
        log.error("source loop failed", extra={"source": name}, exc_info=task.exception())


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True if stopping."""
    if seconds <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
