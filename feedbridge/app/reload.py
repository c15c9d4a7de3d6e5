"""Live reload: one path for every change of configuration.

The config file changed (SIGHUP, or its modification time moved), a source was made or edited
on the web page, or another node's page changed the shared store's sources: `Reloader.reload`
reads the file and the page-made sources again and validates the whole. Valid, the running
sources and targets are swapped without a restart (`plan` says what changed): new sources are
polled, removed ones stopped and their feeds answered with 410, changed ones polled again with
their seen entries kept. Invalid, the running set stays and the problems go to the log and to
the page (`problems`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedbridge.app.runtime import (
    Runtime,
    all_sources,
    build_sources,
    channels,
    prepare_sources,
    target_rules,
)
from feedbridge.config import Config, load_config, secret_fragments
from feedbridge.core.errors import ConfigError, StoreError
from feedbridge.core.logs import add_secrets
from feedbridge.fetch.browser import BrowserPool, BrowserSettings
from feedbridge.store import PageConflict, Store

log = logging.getLogger("feedbridge.reload")

FILE_TICK = 1.0  # how often the config file's modification time is looked at
VERSION_TICK = 2.0  # how often the store's config version is (another node's page edits)
# applied only by a restart: what the server listens on, the store, the HTTP client...
RESTART_ONLY = ("storage", "server", "http", "worker", "output", "browser")


@dataclass(frozen=True, slots=True)
class Changes:
    """What a reload changes, by name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # their table changed (paused or resumed included)
    targets_added: tuple[str, ...] = ()
    targets_removed: tuple[str, ...] = ()
    targets_changed: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()  # sections that changed but apply only after a restart

    @property
    def targets(self) -> bool:
        return bool(self.targets_added or self.targets_removed or self.targets_changed)

    def fields(self) -> dict[str, str]:
        """The non-empty changes, for a log line."""
        return {k: ",".join(v) for k in self.__slots__ if (v := getattr(self, k))}


def plan(old: Config, new: Config) -> Changes:
    """What applying `new` over the running `old` changes (pure)."""

    Names = tuple[str, ...]

    def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Names, Names, Names]:
        added = tuple(n for n in after if n not in before)
        removed = tuple(n for n in before if n not in after)
        changed = tuple(n for n in after if n in before and after[n] != before[n])
        return added, removed, changed

    added, removed, changed = diff(
        {s.name: s for s in old.sources}, {s.name: s for s in new.sources}
    )
    t_added, t_removed, t_changed = diff(
        {t.name: t for t in old.targets}, {t.name: t for t in new.targets}
    )
    restart = tuple(k for k in RESTART_ONLY if getattr(old, k) != getattr(new, k))
    return Changes(added, removed, changed, t_added, t_removed, t_changed, restart)


def _load(path: Path | None, page: Sequence[Mapping[str, Any]]) -> Config:
    """The file with the page-made sources, validated whole; the file must hold on its own
    too (a restart reads it before the store), so a target may name only the file's sources."""
    if page:
        load_config(path)
    config = load_config(path, page)
    build_sources(config)  # selectors compiled: a bad one is a ConfigError here
    return config


def with_page_sources(
    path: Path | None, config: Config, store: Store
) -> tuple[Config, list[str]]:
    """At start-up: the file's config with the page-made sources from the store. Those that
    make the whole invalid (the file now has a source of the same name, say) are left out
    and their problems returned, so that the rest runs."""
    page = [p.table for p in store.page_sources()]
    if not page:
        return config, []
    try:
        return _load(path, page), []
    except ConfigError as exc:
        problems = exc.problems
    kept: list[Mapping[str, Any]] = []
    for table in page:
        try:
            load_config(path, [*kept, table])
            kept.append(table)
        except ConfigError:
            log.error("page-made source left out", extra={"source": table.get("name")})
    return _load(path, kept), problems


def _stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What tells a changed file: modification time, size, inode (an editor's rename)."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Reloader:
    """Reloads the running config (file and page-made sources) on every kind of change."""

    def __init__(self, path: Path | None, rt: Runtime, problems: Sequence[str] = ()) -> None:
        self.path = path
        self.rt = rt
        self.problems: list[str] = list(problems)  # why the last reload failed; [] if it worked
        self.reloaded_at: float | None = None
        self.version = rt.store.config_version()
        self._applied = _stamp(path)  # the file as last read
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def config(self) -> Config:
        return self.rt.config

    def soon(self, why: str) -> None:
        """Reload as soon as possible (a signal handler's call: it must not wait)."""
        task = asyncio.ensure_future(self.reload(why))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self, why: str) -> Changes | None:
        """Read the file and the page-made sources again and apply them if the whole is valid
        (returns what changed); else keep running what runs (None; `problems` says why)."""
        async with self._lock:
            self._applied = _stamp(self.path)  # before reading: a later write is seen later
            store = self.rt.store
            try:
                version = await asyncio.to_thread(store.config_version)
                page = [p.table for p in await asyncio.to_thread(store.page_sources)]
                config = await asyncio.to_thread(_load, self.path, page)
            except ConfigError as exc:
                self.problems = exc.problems
                log.error(
                    "config reload failed, the running config stays",
                    extra={"why": why, "problems": "; ".join(exc.problems)},
                )
                return None
            except StoreError as exc:
                log.error("config reload failed", extra={"why": why, "error": str(exc)})
                return None
            self.version = version
            changes = plan(self.rt.config, config)
            self._apply(config, changes)
            self.problems = []
            self.reloaded_at = time.time()
            log.info("config reloaded", extra={"why": why, **changes.fields()})
            if changes.restart:
                log.warning(
                    "these settings changed but apply only after a restart",
                    extra={"sections": ",".join(changes.restart)},
                )
            return changes

    def _apply(self, config: Config, changes: Changes) -> None:
        """Swap the running sources and targets for `config`'s; keep the rest as started."""
        rt = self.rt
        running = rt.publisher.sources
        renewed = set(changes.added) | set(changes.changed)
        served = [s if s.name in renewed else running[s.name] for s in all_sources(config)]
        prepare_sources(served, target_rules(config), rt.extraction)
        kept = {k: getattr(rt.config, k) for k in RESTART_ONLY}
        config = config.model_copy(update=kept)
        if config.uses_browser and rt.browser is None:  # started on its first fetch
            rt.browser = BrowserPool(BrowserSettings.from_config(config))
            rt.worker.poller.browser = rt.browser
        for name in rt.publisher.serve(served):
            log.info("source removed, its feed now answers 410", extra={"source": name})
        enabled = {c.name for c in config.sources if c.enabled}
        rt.worker.replace_sources(
            [s for s in served if s.name in enabled],
            repoll=[n for n in changes.changed if n in enabled],
        )
        if changes.targets:
            old = rt.notifier.channels
            fresh = set(changes.targets_added) | set(changes.targets_changed)
            new = [c for c in channels(config) if c.name in fresh]
            by_name = {c.name: c for c in new}
            rt.notifier.replace_channels(
                [by_name.get(t.name) or old[t.name] for t in config.targets]
            )
            rt.worker.replace_targets(target_rules(config))
            for name in changes.targets_removed:
                queued = rt.store.pending_count(name)
                log.info("target removed", extra={"target": name, "left_queued": queued})
        rt.metrics.know(
            changes.added,
            changes.targets_added,
            lambda names: {n: s.last_success for n, s in rt.store.source_states(names).items()},
        )
        add_secrets(secret_fragments(config), config.log_level)
        rt.config = config

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload when the file's modification time moves (once it held still for a tick: an
        editor may write in steps) or the store's config version does (another node's page)."""
        seen = self._applied
        next_version = time.monotonic() + VERSION_TICK
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), FILE_TICK)
                return
            except TimeoutError:
                pass
            stamp = _stamp(self.path)
            if stamp != self._applied and stamp == seen:
                await self.reload("config file changed")
            seen = stamp
            if time.monotonic() >= next_version:
                next_version = time.monotonic() + VERSION_TICK
                await self._check_version()

    async def _check_version(self) -> None:
        try:
            version = await asyncio.to_thread(self.rt.store.config_version)
        except StoreError as exc:
            log.error("reading the config version failed", extra={"error": str(exc)})
            return
        if version != self.version:
            await self.reload("page-made sources changed")

    # --- edits from the web page ---------------------------------------------------------

    async def check_page(self, tables: Sequence[Mapping[str, Any]]) -> list[str]:
        """The problems of the whole config with these page-made sources instead of the
        stored ones ([] when it is valid)."""
        try:
            await asyncio.to_thread(_load, self.path, tables)
        except ConfigError as exc:
            return exc.problems
        return []

    async def save_page_source(
        self, table: Mapping[str, Any], revision: int | None
    ) -> list[str]:
        """Store a page-made source (new, or replacing `revision`) if the whole config stays
        valid with it, then reload; else its problems, nothing stored."""
        stored = await asyncio.to_thread(self.rt.store.page_sources)
        tables = [table if p.name == table["name"] else p.table for p in stored]
        if all(p.name != table["name"] for p in stored):
            tables.append(table)
        problems = await self.check_page(tables)
        if problems:
            return problems
        try:
            await asyncio.to_thread(
                self.rt.store.save_page_source, table, time.time(), revision=revision
            )
        except PageConflict as exc:
            return [str(exc)]
        await self.reload(f"source {table['name']} saved on the web page")
        return list(self.problems)

    async def delete_page_source(self, name: str, revision: int | None) -> list[str]:
        """Remove a page-made source if the config stays valid without it (a target may name
        it), then reload; else why not."""
        stored = await asyncio.to_thread(self.rt.store.page_sources)
        problems = await self.check_page([p.table for p in stored if p.name != name])
        if problems:
            return problems
        try:
            await asyncio.to_thread(
                self.rt.store.delete_page_source, name, time.time(), revision=revision
            )
        except PageConflict as exc:
            return [str(exc)]
        await self.reload(f"source {name} deleted on the web page")
        return list(self.problems)
