"""Examining large pages in worker processes, so that no page a source sends can stall the
event loop that serves the feeds (feedparser holds the GIL: a thread would not do).

What crosses the process boundary: the source's config and the page (bytes) in, the
`Extraction` out, its entries cut to the newest `keep` there (a 4 MB feed of 3,900 items
would cost the event loop ~100 ms just to unpickle); each worker keeps the sources it
built. Pages below a threshold are examined in-process (measured, README "Serving while
sources send a lot"): for `feed` sources 2 KB, as feedparser costs the event loop ~1 ms
per KB (far more on hostile nesting) and the trip ~0.7 ms; for the others 1 MB, as lexbor
and the JSON parser (C) cost ~13 us per KB, so that the default HF papers source (210 KB
answers) starts no worker (~45 MB). The pool starts on the first large page,
a page that takes longer than `deadline` is abandoned (its worker killed), a worker that
dies is replaced, and `close` stops them all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from feedbridge.core.errors import FeedbridgeError, ParseError
from feedbridge.core.models import Page
from feedbridge.sources.base import Source
from feedbridge.sources.collect import Extraction

log = logging.getLogger("feedbridge.sources.offload")
T = TypeVar("T")

# bytes from which a page is examined in a worker, by source kind ("*": the others)
THRESHOLDS = {"feed": 2 * 1024, "*": 1024 * 1024}
_BUILT_LIMIT = 1024  # sources a worker keeps built
# Workers run this much nicer than the process that serves, so that on a busy machine the
# event loop gets a core first: with 50 hostile sources on 2 cores the reader's p99 went
# from ~70 ms to ~30-45 ms (README "Serving while sources send a lot"). A page then takes
# longer to examine when the machine is busy, which its deadline bounds.
WORKER_NICE = 10


class WorkerLost(FeedbridgeError):
    """A worker process died, or was killed past its deadline, before the work was done."""


def default_processes() -> int:
    """One worker per core but one (for the event loop), at least one."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class ExtractionPool:
    """`Offload` on a pool of worker processes (spawned: nothing of the parent's threads or
    event loop is inherited)."""

    def __init__(
        self,
        *,
        processes: int | None = None,
        threshold: int | None = None,
        deadline: float = 30.0,
    ) -> None:
        self.processes = processes or default_processes()
        self.threshold = threshold  # one for every kind, else THRESHOLDS
        self.deadline = deadline
        self._pool: ProcessPoolExecutor | None = None
        self._free = asyncio.Semaphore(self.processes)  # a page waits here, not in the pool
        self.started = 0  # pools started: 1, plus one per restart after a lost worker

    def wants(self, source: Source, page: Page) -> bool:
        threshold = self.threshold
        if threshold is None:
            threshold = THRESHOLDS.get(source.kind, THRESHOLDS["*"])
        return len(page.body) >= threshold

    async def examine(self, source: Source, page: Page) -> Extraction:
        async with self._free:  # `deadline` counts from a worker taking the page
            return await self._examine(source, page)

    async def _examine(self, source: Source, page: Page) -> Extraction:
        pool = self._pool or self._start()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(pool, _examine, source.fingerprint, source.config, page)
        try:
            return await asyncio.wait_for(job, self.deadline)
        except TimeoutError:
            self._discard(pool)  # the worker may be stuck in the page: kill it
            message = f"extraction took longer than {self.deadline:g} s; abandoned"
            raise ParseError(source.name, page.url, message) from None
        except BrokenProcessPool as exc:
            self._discard(pool)
            message = "the extraction process died (out of memory?); it was restarted"
            raise ParseError(source.name, page.url, message) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this poll is cancelled
            # the pool was stopped under this page (another page's deadline, or closing)
            message = "abandoned: the extraction processes were restarted"
            raise ParseError(source.name, page.url, message) from None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in a worker, for other pure work on large inputs (rendering a feed of
        thousands of entries); raises WorkerLost past the deadline or if the worker died
        (the caller may then do the work itself)."""
        async with self._free:
            pool = self._pool or self._start()
            job = asyncio.get_running_loop().run_in_executor(pool, work, *args)
            try:
                return await asyncio.wait_for(job, self.deadline)
            except (TimeoutError, BrokenProcessPool) as exc:
                self._discard(pool)
                raise WorkerLost(f"worker process lost ({type(exc).__name__})") from exc

    def close(self) -> None:
        """Stop the workers now: a page being examined is abandoned, not waited for."""
        if self._pool is not None:
            self._discard(self._pool)

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            self.processes, mp_context=context, initializer=_worker_started
        )
        self.started += 1
        log.info("extraction processes started", extra={"processes": self.processes})
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        # the executor has no public way to stop a worker mid-task (3.14 adds one)
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.kill()
        for worker in workers:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                worker.join(timeout=5)


def _worker_started() -> None:  # pragma: no cover - runs in the worker
    """Ctrl-C reaches the whole process group: the parent stops the workers itself. A worker
    yields the CPU to the process that serves (`WORKER_NICE`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)


_built: dict[str, Source] = {}


def _examine(fingerprint: str, config: object, page: Page) -> Extraction:  # pragma: no cover
    """In a worker: the page examined by the source `config` describes (built once)."""
    from feedbridge.sources import build_source

    source = _built.get(fingerprint)
    if source is None:
        if len(_built) >= _BUILT_LIMIT:
            _built.clear()
        source = _built[fingerprint] = build_source(config)  # type: ignore[arg-type]
    return source.examine_kept(page)
