"""The poll loop: due sources → fetch → extract → pipeline → store → publish; wakes the notifier.

With the embedded store each source has its own loop; with a shared store the worker
claims due sources under a lease, renews it while polling, and writes the outcome only
while it still holds it (see docs/architecture.md, "The lease protocol").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedbridge.core.errors import FeedbridgeError, FetchError, StoreError
from feedbridge.core.filters import EntryFilter
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.detect.suggest import warning_with_suggestion
from feedbridge.feeds.board import Publisher
from feedbridge.fetch.http import HttpClient
from feedbridge.notify.outbox import Notifier, RoundResult
from feedbridge.poll.decide import TargetView, decide
from feedbridge.poll.leases import claim_loop, poll_leased, sync_loop
from feedbridge.poll.outcome import PollReport, extracted_poll, failed_poll, unchanged_poll
from feedbridge.poll.scheduler import first_due, next_due
from feedbridge.sources import Fetcher, Source
from feedbridge.sources.collect import describe_skipped
from feedbridge.store import KnownFeed, Lease, LeaseLost, PollOutcome, Store

if TYPE_CHECKING:
    from feedbridge.fetch.browser import BrowserPool

log = logging.getLogger("feedbridge.worker")

DELIVERY_TICK = 5.0
EXPIRE_EVERY = 3600.0
STOP_GRACE = 1.0  # after a stop, in-flight deliveries get this long; polls are cut at once
POLL_LIMIT_DEADLINES = 10  # fetch deadlines a poll on a shared store may take (then: lease lapses)


@dataclass(frozen=True, slots=True)
class TargetRule:
    name: str
    filter: EntryFilter


class Worker:
    """Polls sources and feeds the store, the feed board and the outbox."""

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
        self.targets = list(targets)
        self.store = store
        self.http = http
        self.notifier = notifier
        self.publisher = publisher
        self.board = publisher.board
        self.metrics = metrics
        self.failure_threshold = failure_threshold
        self.lease = lease
        # past this, a poll on a shared store gives up its lease (poll_leased)
        self.poll_limit = POLL_LIMIT_DEADLINES * http.settings.timeout
        self.takeovers = 0  # leases this worker took from a holder that stopped renewing
        self.browser = browser
        self.heartbeat = time.time()
        self._wake = asyncio.Event()
        self.polling: set[str] = set()  # sources whose poll is in progress
        # the schedule's clock and wait, replaceable so tests can drive it in fake time
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[asyncio.Event, float], Awaitable[bool]] = _sleep_or_stop
        self.last_round = RoundResult()  # the delivery round of the last run_once
        self._fingerprints: dict[str, str] = {}

    # --- one poll -------------------------------------------------------------------------

    async def poll(
        self, source: Source, now: datetime | None = None, lease: Lease | None = None
    ) -> PollReport:
        """Poll one source; never raises for the source's own failures. With a `lease`, the
        outcome is written only while the lease is held.

        Cancelling it is safe at any point: it only awaits the fetch, and writes the
        store afterwards in one transaction, so a cancelled poll leaves no trace.
        """
        self.polling.add(source.name)
        try:
            report = await self._poll(source, now, lease)
        finally:
            self.polling.discard(source.name)
        if self.metrics is not None:
            live = self.board.feeds.get(source.name)  # not read from the store just for this
            self.metrics.record_poll(
                source.name,
                ok=report.ok,
                seconds=report.seconds,
                new=report.new,
                entries=live.entry_count if live is not None else None,
            )
        return report

    async def _poll(self, source: Source, now: datetime | None, lease: Lease | None) -> PollReport:
        started = time.monotonic()
        now = now or datetime.now(UTC)
        try:
            return await self._poll_stored(source, now, started, lease)
        except LeaseLost as exc:
            log.warning(
                "lease lost, outcome dropped", extra={"source": source.name, "error": str(exc)}
            )
            return PollReport(
                source.name, ok=False, error=str(exc), seconds=time.monotonic() - started,
                lease_lost=True,
            )  # fmt: skip
        except StoreError as exc:
            message = f"source {source.name!r} ({source.url}): {exc}"
            log.error("store failed", extra={"source": source.name, "error": message})
            return PollReport(
                source.name,
                ok=False,
                error=message,
                seconds=time.monotonic() - started,
                failures=1,
            )

    async def _poll_stored(
        self, source: Source, now: datetime, started: float, lease: Lease | None
    ) -> PollReport:
        if lease is not None and lease.state is not None:
            stored = lease.state
        else:
            stored = self.store.source_state(source.name)
        state = stored.to_dict()
        # Validators (and body digests) hold only for the config that read those bodies.
        fingerprint = self._fingerprints.get(source.name) or _fingerprint(source)
        self._fingerprints[source.name] = fingerprint
        validators: dict[str, Any] = {}
        if state.get("config") == fingerprint:
            validators = dict(stored.validators)
        state["config"] = fingerprint
        state["last_poll"] = now.timestamp()
        try:
            entries = await source.poll(self._fetcher(source, validators), now)
        except StoreError:
            raise
        except FeedbridgeError as exc:
            return self._failed(source, state, exc, now, started, lease)
        except Exception as exc:  # a bug in one source must not stop the others
            log.exception("source crashed", extra={"source": source.name, "url": source.url})
            return self._failed(source, state, exc, now, started, lease)
        state["validators"] = validators
        if source.identity():
            state["upstream"] = source.identity()
        if entries is None:
            written = unchanged_poll(source, state, now, self._next_due(source, 0, None))
            self._save(source, written.outcome, written.event, lease)
            log.debug("poll unchanged", extra={"source": source.name})
            written.report.seconds = time.monotonic() - started
            return written.report
        extraction, source.last_extraction = source.last_extraction, None
        warning = await warning_with_suggestion(extraction, source.config)
        report = self._apply(source, entries, state, now, lease, warning)
        report.seconds = time.monotonic() - started
        report.skipped = describe_skipped(extraction.skipped) if extraction else ""
        log.info(
            "poll done",
            extra={
                "source": source.name,
                "entries": report.entries,
                "new": report.new,
                "queued": report.queued,
                "ms": round(report.seconds * 1000),
                **({"skipped": report.skipped} if report.skipped else {}),
            },
        )
        return report

    def _next_due(
        self, source: Source, failures: int, retry_after: float | None
    ) -> float | None:
        """When the store should make the source due again: only a shared store keeps it
        (None otherwise; the source's own loop schedules itself)."""
        if not self.store.shared:
            return None
        return self._schedule(source, failures, retry_after)

    def _schedule(self, source: Source, failures: int, retry_after: float | None) -> float:
        interval = source.config.interval.total_seconds()
        return next_due(
            self.clock(), interval, jitter=source.config.jitter, failures=failures,
            retry_after=retry_after,
        )  # fmt: skip

    def _fetcher(self, source: Source, validators: dict[str, Any]) -> Fetcher:
        """The browser for `fetch = "browser"` sources, else the HTTP client."""
        if getattr(source.config, "fetch", "http") == "browser":
            if self.browser is None:
                raise FetchError(source.name, source.url, "no browser in this process")
            return self.browser.fetcher(source.name, source.config)
        return self.http.fetcher(source.name, validators, source.config.headers)

    def _apply(
        self,
        source: Source,
        entries: Sequence[Entry],
        state: dict[str, Any],
        now: datetime,
        lease: Lease | None,
        warning: str | None = None,
    ) -> PollReport:
        name = source.name
        config = source.config
        keys = [e.key for e in entries]
        wanted = [t for t in self.targets if t.filter.wants_source(name)]
        view = self.store.poll_view(name, keys, [t.name for t in wanted], self._known(name))
        views = [
            TargetView(t.name, t.filter, t.name in view.knows, view.handed.get(t.name, frozenset()))
            for t in wanted
        ]
        decision = decide(
            extracted=entries,
            previous_feed=view.feed,
            seen=view.seen,
            targets=views,
            keep=config.keep,
            first_run=config.first_run_mode,
            first_run_latest=config.first_run_latest,
            now=now,
        )
        written = extracted_poll(
            source, entries, state, view, decision, now,
            due=self._next_due(source, 0, None), changed_at=time.time(), warning=warning,
        )  # fmt: skip
        report = written.report
        version = self._save(source, written.outcome, written.event, lease)
        if decision.empty:
            log.warning(
                "source yielded no entries, keeping last feed",
                extra={"source": name, "url": source.url},
            )
        if report.warning:
            log.warning("poll warning", extra={"source": name, "warning": report.warning})
        if report.changed:
            self.publisher.publish(source, decision.feed, written.state["feed_changed_at"])
            if version is not None:
                self.board.versions[name] = version
        if written.outcome.notices:
            self._wake.set()
        return report

    def _known(self, name: str) -> KnownFeed | None:
        """The feed on the board, when the board knows which stored version it is (this
        process wrote it, or read it after a sync): the store need not read it again."""
        live, version = self.board.feeds.get(name), self.board.versions.get(name)
        return KnownFeed(version, live.entries) if live is not None and version else None

    def _failed(
        self,
        source: Source,
        state: dict[str, Any],
        exc: BaseException,
        now: datetime,
        started: float,
        lease: Lease | None,
    ) -> PollReport:
        written = failed_poll(
            source, state, exc, now, self.failure_threshold,
            lambda failures, retry_after: self._next_due(source, failures, retry_after),
        )  # fmt: skip
        self._save(source, written.outcome, written.event, lease)
        log.warning(
            "poll failed",
            extra={"source": source.name, "url": source.url, "error": written.report.error},
        )
        written.report.seconds = time.monotonic() - started
        return written.report

    def _save(
        self, source: Source, outcome: PollOutcome, event: HealthEvent | None, lease: Lease | None
    ) -> int | None:
        """One transaction: the outcome and the health event it raised."""
        if event is not None:
            notices = [*outcome.notices, *self.notifier.health_notices(event)]
            outcome = replace(outcome, notices=notices)
        version = self.store.apply_poll(source.name, outcome, lease)
        if event is not None:
            self._wake.set()
        return version

    # --- cycles ---------------------------------------------------------------------------

    async def run_once(self) -> list[PollReport]:
        """Poll every source once (on a shared store: every source nobody else holds, due or
        not: whoever runs `once` from cron wants every source polled now),
        then try every queued delivery once.

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

        async def poller() -> None:
            for source, lease in pending:
                reports[source.name] = await poll_leased(self, source, lease)

        width = max(1, min(self.http.settings.concurrency, len(work)))
        await asyncio.gather(*(poller() for _ in range(width)))
        self.heartbeat = time.time()
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
        if self.store.shared:
            pollers = [
                asyncio.create_task(claim_loop(self, stop)),
                asyncio.create_task(sync_loop(self, stop)),
            ]
        else:
            pollers = [asyncio.create_task(self._source_loop(s, stop)) for s in self.sources]
        delivery = asyncio.create_task(self._delivery_loop(stop))
        housekeeping = asyncio.create_task(self._housekeeping_loop(stop))
        try:
            await stop.wait()
        finally:
            self._wake.set()
            for name in sorted(self.polling):
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

    async def _source_loop(self, source: Source, stop: asyncio.Event) -> None:
        interval = source.config.interval.total_seconds()
        state = self.store.source_state(source.name)
        due = first_due(self.clock(), interval, state.last_poll, state.failures)
        while not stop.is_set():
            if await self.sleep(stop, due - self.clock()):
                return
            report = await self.poll(source, datetime.fromtimestamp(self.clock(), UTC))
            now = self.clock()
            due = report.next_due or self._schedule(source, report.failures, report.retry_after)
            if not report.ok:
                log.info("retry scheduled", extra={"source": source.name, "in_s": round(due - now)})

    async def serve_only(self, stop: asyncio.Event) -> None:
        """A node that polls nothing (`[worker] enabled = false`): keep its feeds fresh."""
        await sync_loop(self, stop)

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.heartbeat = time.time()
            try:
                await self.notifier.deliver(stop=stop)
            except Exception:
                log.exception("delivery round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DELIVERY_TICK)

    async def _housekeeping_loop(self, stop: asyncio.Event) -> None:
        while not await _sleep_or_stop(stop, EXPIRE_EVERY):
            removed = await asyncio.to_thread(self.store.expire)
            log.info("expired old keys", extra={"removed": removed})


def _fingerprint(source: Source) -> str:
    """A digest of a source's config: a changed config must re-read an unchanged page."""
    return hashlib.sha256(repr(source.config).encode()).hexdigest()[:16]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True if stopping."""
    if seconds <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
