"""One poll of one source: its state → fetch → decide → outcome → store → publish.

`Poller.poll` returns a `PollReport` and never raises for the source's own failures; the
loops that call it (embedded store, shared store, `once`) live in worker.py and leases.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedbridge.config.models import HtmlConfig
from feedbridge.core.errors import FeedbridgeError, FetchError, StoreError
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.detect.suggest import warning_with_suggestion
from feedbridge.feeds.board import Publisher
from feedbridge.fetch.http import HttpClient
from feedbridge.poll.decide import TargetRule, decide_poll, keep_identities
from feedbridge.poll.outcome import PollReport, extracted_poll, failed_poll, unchanged_poll
from feedbridge.poll.scheduler import source_due
from feedbridge.sources import Fetcher, Source
from feedbridge.sources.collect import describe_skipped
from feedbridge.store import (
    KnownFeed,
    Lease,
    LeaseLost,
    PollOutcome,
    SourceState,
    Store,
    StoreUnavailable,
    health_notices,
)

if TYPE_CHECKING:
    from feedbridge.fetch.browser import BrowserPool

log = logging.getLogger("feedbridge.worker")


class Poller:
    """Polls sources for the worker's loops (any number at once, each source once at a
    time); writes each outcome in one transaction and puts a changed feed on the board."""

    def __init__(
        self,
        *,
        targets: Sequence[TargetRule],
        store: Store,
        http: HttpClient,
        publisher: Publisher,
        metrics: Metrics | None = None,
        failure_threshold: int = 3,
        browser: BrowserPool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets = list(targets)
        self.store = store
        self.http = http
        self.publisher = publisher
        self.board = publisher.board
        self.metrics = metrics
        self.failure_threshold = failure_threshold
        self.browser = browser
        self.clock = clock  # the schedule's clock (next due times), replaceable by tests
        self.polling: set[str] = set()  # sources whose poll is in progress
        self.writing: set[str] = set()  # sources whose poll is writing its outcome
        self.queued = asyncio.Event()  # set when a poll queued notices: delivery wakes up

    async def poll(
        self, source: Source, now: datetime | None = None, lease: Lease | None = None
    ) -> PollReport:
        """Poll one source; never raises for the source's own failures. With a `lease`, the
        outcome is written only while the lease is held.

        Cancelling it is safe at any point: it writes the store in one transaction (in a worker
        thread, which finishes it or not at all), so a cancelled poll leaves either no trace or
        its whole outcome, which the next sync puts on the board.
        """
        self.polling.add(source.name)
        try:
            report = await self._poll(source, now, lease)
        finally:
            self.polling.discard(source.name)
        if self.metrics is not None:
            await self.metrics.settle_source(source.name)  # off the loop: it may read the store
            live = self.board.feeds.get(source.name)  # not read from the store just for this
            self.metrics.record_poll(
                source.name,
                ok=report.ok,
                seconds=report.seconds,
                new=report.new,
                entries=live.entry_count if live is not None else None,
            )
        return report

    def schedule(self, source: Source, failures: int, retry_after: float | None) -> float:
        """Epoch seconds of the source's next poll, after `failures` failed polls in a row."""
        return source_due(source.config, self.clock(), failures, retry_after)

    async def _poll(self, source: Source, now: datetime | None, lease: Lease | None) -> PollReport:
        started = time.monotonic()
        try:
            return await self._poll_stored(source, now or datetime.now(UTC), started, lease)
        except LeaseLost as exc:
            error = str(exc)
            log.warning(
                "lease lost, outcome dropped", extra={"source": source.name, "error": error}
            )
            lost = True
        except StoreError as exc:
            error = source.mask(f"source {source.name!r} ({source.url}): {exc}")
            if isinstance(exc, StoreUnavailable):  # the store logged "store down" once
                log.debug("poll not saved", extra={"source": source.name, "error": error})
            else:
                log.error("store failed", extra={"source": source.name, "error": error})
            lost = False
        seconds = time.monotonic() - started
        return PollReport(
            source.name, ok=False, error=error, seconds=seconds, lease_lost=lost,
            failures=0 if lost else 1,
        )  # fmt: skip

    async def _poll_stored(
        self, source: Source, now: datetime, started: float, lease: Lease | None
    ) -> PollReport:
        if lease is not None and lease.state is not None:
            stored = lease.state
        else:
            stored = await self.store.run(self.store.source_state, source.name)
        # upstream state as stored: another node may have polled it since (artifacts follow list)
        source.restore_identity(dict(stored.upstream))
        # Validators (and body digests) hold only for the config that read those bodies.
        fingerprint = source.fingerprint
        validators = dict(stored.validators) if stored.config == fingerprint else {}
        state = replace(stored, config=fingerprint, last_poll=now.timestamp())
        try:
            fetcher = _fetcher(source, self.http, self.browser, validators)
            extraction = await source.poll(fetcher, now)
            if extraction is not None:
                extraction = source.without_secrets(extraction)
        except StoreError:
            raise
        except FeedbridgeError as exc:
            return await self._failed(source, state, exc, now, started, lease)
        except Exception as exc:  # a bug in one source must not stop the others
            log.exception("source crashed", extra={"source": source.name, "url": source.url})
            return await self._failed(source, state, exc, now, started, lease)
        state = replace(state, validators=validators, upstream=source.identity() or state.upstream)
        if extraction is None:
            written = unchanged_poll(source, state, now, self._next_due(source, 0, None))
            await self._save(source, written.outcome, written.event, lease)
            written.report.seconds = time.monotonic() - started
            log.info(  # a healthy `run` says what it does, not only what changed
                "poll unchanged",
                extra={"source": source.name, "ms": round(written.report.seconds * 1000)},
            )
            return written.report
        warning = await warning_with_suggestion(extraction, source.config)
        report = await self._apply(
            source, extraction.entries, state, now, lease, warning, extraction.alternates
        )
        report.seconds = time.monotonic() - started
        report.skipped = describe_skipped(extraction.skipped)
        _log_done(source, report)
        return report

    def _next_due(self, source: Source, failures: int, retry_after: float | None) -> float | None:
        """When the store should make the source due again: only a shared store keeps it
        (None otherwise; the source's own loop schedules itself)."""
        if not self.store.shared:
            return None
        return self.schedule(source, failures, retry_after)

    async def _apply(
        self,
        source: Source,
        entries: Sequence[Entry],
        state: SourceState,
        now: datetime,
        lease: Lease | None,
        warning: str | None = None,
        alternates: Mapping[str, Sequence[Entry]] | None = None,
    ) -> PollReport:
        name = source.name
        keys = [e.key for e in entries]
        wanted = [t for t in self.targets if t.filter.wants_source(name)]
        view = await self.store.run(
            self.store.poll_view, name, keys, [t.name for t in wanted], self._known(name)
        )
        if alternates:
            entries = keep_identities(entries, alternates, view.feed)
        decision = decide_poll(source.config, entries, view, wanted, now)
        changed_at = time.time()
        written = extracted_poll(
            source, entries, state, view, decision, now,
            due=self._next_due(source, 0, None), changed_at=changed_at, warning=warning,
        )  # fmt: skip
        report = written.report
        version = await self._save(source, written.outcome, written.event, lease)
        if decision.empty:
            log.warning(
                "source yielded no entries, keeping last feed",
                extra={"source": name, "url": source.url},
            )
        if report.warning:
            log.warning("poll warning", extra={"source": name, "warning": report.warning})
        if report.changed:
            self.publisher.publish(source, decision.feed, changed_at)
            if version is not None:
                self.board.versions[name] = version
        return report

    def _known(self, name: str) -> KnownFeed | None:
        """The feed on the board, when the board knows which stored version it is (this
        process wrote it, or read it after a sync): the store need not read it again."""
        live, version = self.board.feeds.get(name), self.board.versions.get(name)
        return KnownFeed(version, live.entries) if live is not None and version else None

    async def _failed(
        self,
        source: Source,
        state: SourceState,
        exc: BaseException,
        now: datetime,
        started: float,
        lease: Lease | None,
    ) -> PollReport:
        written = failed_poll(
            source, state, exc, now, self.failure_threshold,
            lambda failures, retry_after: self._next_due(source, failures, retry_after),
        )  # fmt: skip
        await self._save(source, written.outcome, written.event, lease)
        log.warning(
            "poll failed",
            extra={"source": source.name, "url": source.url, "error": written.report.error},
        )
        written.report.seconds = time.monotonic() - started
        return written.report

    async def _save(
        self, source: Source, outcome: PollOutcome, event: HealthEvent | None, lease: Lease | None
    ) -> int | None:
        """One transaction: the outcome and the health event it raised (for every target
        with `health = true`)."""
        if event is not None:
            log.warning(
                "health event",
                extra={"subject": event.subject, "kind": event.kind, "detail": event.message},
            )
            wanted = (t.name for t in self.targets if t.health)
            outcome = replace(outcome, notices=[*outcome.notices, *health_notices(wanted, event)])
        self.writing.add(source.name)
        try:
            version = await self.store.run(self.store.apply_poll, source.name, outcome, lease)
        finally:
            self.writing.discard(source.name)
        if outcome.notices:
            self.queued.set()
        return version


def _fetcher(
    source: Source, http: HttpClient, browser: BrowserPool | None, validators: dict[str, Any]
) -> Fetcher:
    """The browser for `fetch = "browser"` sources, else the HTTP client."""
    config = source.config
    if isinstance(config, HtmlConfig) and config.uses_browser:
        if browser is None:
            raise FetchError(source.name, source.url, "no browser in this process")
        return browser.fetcher(source.name, config)
    return http.fetcher(source.name, validators, config.headers, typed=config.typed)


def _log_done(source: Source, report: PollReport) -> None:
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
