"""Prometheus metrics, on a registry of our own (not the process-global one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from feedbridge.core.errors import StoreError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# the named sources' stored last successes, read in one store call
LastSuccesses = Callable[[Sequence[str]], Mapping[str, float | None]]


class _Queued(Collector):
    """Outbox depth per target, read from the store at scrape time; a target whose depth the
    store cannot give now (down, or a locked table) has no sample in that scrape."""

    def __init__(self, targets: Callable[[], Iterable[str]], count: Callable[[str], int]) -> None:
        self.targets = targets  # asked at each scrape: a live reload changes the targets
        self.count = count

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "feedbridge_target_queued", "Deliveries waiting in the outbox", labels=["target"]
        )
        for target in self.targets():
            try:
                family.add_metric([target], self.count(target))
            except StoreError:
                continue
        yield family


class Metrics:
    """Per source: polls, errors, entries, new entries, last success, poll duration.
    Per target: deliveries sent, failed, queued."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("feedbridge_source_polls", "Polls", ["source"], registry=r)
        self.errors = Counter("feedbridge_source_errors", "Failed polls", ["source"], registry=r)
        self.entries = Gauge(
            "feedbridge_source_entries", "Entries in the feed", ["source"], registry=r
        )
        self.new_entries = Counter(
            "feedbridge_source_new_entries",
            "Entries seen for the first time",
            ["source"],
            registry=r,
        )
        self.last_success = Gauge(
            "feedbridge_source_last_success_timestamp_seconds",
            "Time of the last successful poll",
            ["source"],
            registry=r,
        )
        # a gauge per source, not a histogram: 5,000 sources x 12 buckets cost 16 MB (bench)
        self.duration = Gauge(
            "feedbridge_source_poll_duration_seconds",
            "Duration of the last poll",
            ["source"],
            registry=r,
        )
        self.sent = Counter(
            "feedbridge_target_deliveries_sent", "Messages delivered", ["target"], registry=r
        )
        self.failed = Counter(
            "feedbridge_target_deliveries_failed",
            "Failed delivery attempts",
            ["target"],
            registry=r,
        )
        self._unsettled: dict[str, None] = {}  # known sources whose series are not created yet
        self._stored_success: LastSuccesses = lambda names: {}

    def know(
        self,
        sources: Iterable[str],
        targets: Iterable[str],
        last_success: LastSuccesses = lambda names: {},
    ) -> None:
        """Every series of every source and target exists from start-up, at 0 (a source's
        last success: the stored time), so that alerting rules (`increase(errors[1h]) > 0`)
        see the first event. A source's series are created by `settle`, its first poll or the
        first scrape, whichever comes first: for 5,000 sources that is a third of a second,
        which start-up does not wait for. `last_success` reads many sources' stored last
        successes in one store call (absent or None: none)."""
        self._unsettled.update(dict.fromkeys(sources))
        self._stored_success = last_success
        for name in targets:
            self.sent.labels(name)
            self.failed.labels(name)

    def _settle(self, name: str, stored: float | None) -> None:
        """Create a source's series once, its last success at `stored` (no store call: the
        loop and a scrape's thread may both get here; the first one creates them)."""
        if self._unsettled.pop(name, False) is None:
            for family in (self.polls, self.errors, self.entries, self.new_entries):
                family.labels(name)
            self.duration.labels(name)
            child = self.last_success.labels(name)
            if isinstance(stored, int | float):
                child.set(stored)

    def _stored(self, names: Sequence[str]) -> dict[str, float | None]:
        """The sources' stored last successes, in one store call (all None when the store
        cannot give them now: a locked table costs one lock timeout, not one per source)."""
        try:
            found = self._stored_success(names) if names else {}
        except StoreError:  # the store is away: the first successful poll sets it
            found = {}
        return {name: found.get(name) for name in names}

    async def settle(self, batch: int = 200) -> None:
        """Create the series of every known source, `batch` at a time, their stored last
        successes read in a worker thread (the store may be slow)."""
        while self._unsettled:
            names = list(self._unsettled)[:batch]
            for name, stored in (await asyncio.to_thread(self._stored, names)).items():
                self._settle(name, stored)

    async def settle_source(self, name: str) -> None:
        """Create one source's series now if they do not exist yet (its first poll came before
        `settle` reached it), its stored last success read in a worker thread."""
        if name in self._unsettled:
            stored = (await asyncio.to_thread(self._stored, [name]))[name]
            self._settle(name, stored)

    def record_poll(
        self, name: str, *, ok: bool, seconds: float, new: int, entries: int | None
    ) -> None:
        """One poll of source `name` (`entries`: its feed's size, None if not at hand)."""
        self._settle(name, None)
        self.polls.labels(name).inc()
        self.duration.labels(name).set(seconds)
        if ok:
            self.last_success.labels(name).set(time.time())
            self.new_entries.labels(name).inc(new)
            if entries is not None:
                self.entries.labels(name).set(entries)
        else:
            self.errors.labels(name).inc()

    def watch_queues(
        self, targets: Callable[[], Iterable[str]], count: Callable[[str], int]
    ) -> None:
        """Each target's outbox depth, read at every scrape from `count` for `targets()`."""
        self.registry.register(_Queued(targets, count))

    def expose(self) -> bytes:
        """The Prometheus text; reads the store (queue depths, last successes not yet read):
        async code calls it in a worker thread."""
        for name, stored in self._stored(list(self._unsettled)).items():
            self._settle(name, stored)
        return generate_latest(self.registry)
