"""Config → runtime objects, built in one place for `run`, `once`, tests and benchmarks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from feedbridge.app.pages import SourceInfo
from feedbridge.config import Config
from feedbridge.core.errors import ConfigError, StoreError
from feedbridge.core.filters import EntryFilter
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import Entry
from feedbridge.feeds.board import FeedBoard, Publisher
from feedbridge.fetch.addresses import AddressPolicy
from feedbridge.fetch.browser import BrowserPool, BrowserSettings
from feedbridge.fetch.http import HttpClient, HttpSettings
from feedbridge.messages.templates import Templates
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier
from feedbridge.poll.decide import TargetRule
from feedbridge.poll.worker import Worker
from feedbridge.sources import Source, build_source
from feedbridge.sources.hf_artifacts import ArtifactPapersSource
from feedbridge.sources.offload import ExtractionPool
from feedbridge.store import Store, open_store


def channels(config: Config) -> list[TargetChannel]:
    """One delivery channel per configured target."""
    return [
        TargetChannel(
            name=t.name,
            urls=t.urls(),
            format=t.format,
            templates=Templates(t.title, t.body, t.digest_title, t.digest_body),
            retry_window=t.retry_window.total_seconds(),
            health=t.health,
            digest=t.digest_spec,
            digest_empty=t.digest_empty,
            top=t.top,
            max_per_hour=t.max_per_hour,
            overflow=t.overflow,
        )
        for t in config.targets
    ]


def target_rules(config: Config) -> list[TargetRule]:
    """Each target's filter (and whether it gets health events), as every poll applies it."""
    return [
        TargetRule(
            t.name,
            EntryFilter.build(
                sources=t.sources,
                min_score=t.min_score,
                include=t.include,
                exclude=t.exclude,
                max_age=t.max_age,
            ),
            health=t.health,
        )
        for t in config.targets
    ]


def follow_what_targets_want(sources: Iterable[Source], rules: Iterable[TargetRule]) -> None:
    """A paper-artifacts source follows the papers one of its targets would be sent (their
    filters); with no target it follows every paper, for the feed's readers."""
    rules = list(rules)
    for source in sources:
        if isinstance(source, ArtifactPapersSource):
            filters = [r.filter for r in rules if r.filter.wants_source(source.name)]
            if filters:
                source.follower.wanted = _any_of(filters)


def prepare_sources(
    sources: Iterable[Source], rules: Iterable[TargetRule], offload: ExtractionPool | None
) -> None:
    """What a runtime gives the sources it built, at start and on a reload: the worker
    processes for large pages, and the papers an artifacts source follows."""
    sources = list(sources)
    follow_what_targets_want(sources, rules)
    for source in sources:
        source.offload = offload


def _any_of(filters: list[EntryFilter]) -> Callable[[Entry, datetime], bool]:
    return lambda entry, now: any(f.matches(entry, now) for f in filters)


def build_sources(config: Config) -> list[Source]:
    """Every configured source built (its selectors compiled), or a ConfigError naming each
    `sources[i]` that fails. Kept on the config for the next runtime, which takes them."""
    built, problems = [], []
    for index, source_config in enumerate(config.sources):
        try:
            built.append(build_source(source_config))
        except ConfigError as exc:
            where = f"sources.{source_config.name}."
            problems += [p.replace(where, f"{config.source_key(index)}.") for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    config._built_sources = built
    return built


def all_sources(config: Config) -> list[Source]:
    """Every configured source, paused ones too: those `build_sources` built (once: a restart
    builds anew), or new."""
    built, config._built_sources = config._built_sources, None
    return built if built is not None else [build_source(c) for c in config.sources]


def sources(config: Config) -> list[Source]:
    """The enabled sources (those polled)."""
    return [s for s in all_sources(config) if s.config.enabled]


def source_infos(sources: Iterable[Source]) -> list[SourceInfo]:
    return [SourceInfo(s.name, s.title, s.kind, s.site_url) for s in sources]


def http_settings(config: Config) -> HttpSettings:
    h = config.http
    return HttpSettings(
        timeout=h.timeout.total_seconds(),
        max_body=h.max_body,
        user_agent=h.user_agent,
        per_host=h.per_host,
        concurrency=h.concurrency,
        max_redirects=h.max_redirects,
        policy=AddressPolicy.build(h.allow_networks, h.allow_private_redirects),
    )


def open_config_store(config: Config) -> Store:
    """Open and verify the configured store (PostgreSQL: migrated to this version's schema);
    raises StoreError with a remedy."""
    store = open_store(config.storage)
    try:
        store.check()
    except BaseException:
        store.close()
        raise
    return store


@dataclass
class Runtime:
    config: Config
    store: Store
    http: HttpClient
    notifier: Notifier
    board: FeedBoard
    worker: Worker
    metrics: Metrics
    publisher: Publisher
    browser: BrowserPool | None = None
    extraction: ExtractionPool | None = None


@contextlib.asynccontextmanager
async def runtime(
    config: Config, store: Store | None = None, *, offload: bool = False
) -> AsyncIterator[Runtime]:
    """Open the store (unless given) and the HTTP client, and assemble the worker; close both
    on exit. Raises StoreError when the store cannot be opened or verified. With `offload`
    (`run`), large pages are examined in worker processes, off the event loop.
    """
    store = store or open_config_store(config)
    http = HttpClient(http_settings(config))
    # started on the first browser fetch, so a config without one costs nothing
    browser = BrowserPool(BrowserSettings.from_config(config)) if config.uses_browser else None
    # started on the first large page, likewise
    processes = config.worker.extraction_processes
    extraction = (
        ExtractionPool(processes=processes, deadline=config.http.timeout.total_seconds())
        if offload and processes != 0
        else None
    )
    try:
        metrics = Metrics()
        lease = config.storage.lease.total_seconds()
        notifier = Notifier(channels(config), store, metrics=metrics, lease=lease)
        board = FeedBoard()
        board.offload = extraction  # a large feed's first render, too
        publisher = Publisher(board, config.server.base_url, config.output.dir)
        served = all_sources(config)  # paused sources are served, not polled
        rules = target_rules(config)
        prepare_sources(served, rules, extraction)
        worker = Worker(
            sources=[s for s in served if s.config.enabled],
            targets=rules,
            store=store,
            http=http,
            notifier=notifier,
            publisher=publisher,
            metrics=metrics,
            lease=lease,
            browser=browser,
        )
        publisher.publish_stored(served, store)
        metrics.know(
            [s.name for s in worker.sources],
            notifier.channels,
            lambda names: {n: s.last_success for n, s in store.source_states(names).items()},
        )
        yield Runtime(
            config, store, http, notifier, board, worker, metrics, publisher, browser, extraction
        )
    finally:
        if extraction is not None:  # a page still being examined is abandoned
            extraction.close()
        if browser is not None:
            await browser.aclose()
        await http.aclose()
        with contextlib.suppress(StoreError):
            store.release()
        store.close()
