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

Pages wait for a worker in a fair queue, not first come first served: 50 hostile sources
whose pages cost ~8 s of CPU each used to hold every other source's large page for minutes.
Each source has at most one page waiting and one in a worker; a free worker takes the
waiting page whose source costs least (`cost`: the CPU seconds its last pages took, the
newest weighing half; for a source not yet seen, an estimate from the page's size), ties in
order of arrival. So a cheap source waits for at most the pages already in the workers, and
a costly one behind the cheaper ones and its peers in turn. Renders (`run`) go first: a
reader waits for them. The waiting pages' bytes are bounded (`queued_bytes`): past it the
waiting page of the costliest source is refused, or the new one if it would cost more.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
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
# What the first page of a source not yet examined is reckoned to cost, in CPU seconds per
# MB, by kind: feedparser ~0.6 s per MB of plain RSS (hostile nesting: ~7 s), the C parsers
# of the others ~0.02 s. After that page, what its pages took (`ExtractionPool.cost`).
PRIOR_SECONDS_PER_MB = {"feed": 0.6, "*": 0.02}
# Bytes of pages that may wait for a worker, all sources together (each page is at most the
# body cap, 10 MB by default); past it the waiting page of the costliest source is refused.
QUEUED_BYTES = 256 * 1024 * 1024
_COSTS_LIMIT = 10_000  # sources whose cost is remembered (the least recently charged go)


class WorkerLost(FeedbridgeError):
    """A worker process died, or was killed past its deadline, before the work was done."""


def default_processes() -> int:
    """One worker per core but one (for the event loop), at least one."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


@dataclass(eq=False)
class _Turn:
    """One page (or render) waiting for a worker, then in one."""

    lane: str | None  # the source's name; None: a render
    url: str
    size: int
    prior: float  # its cost while the source has none
    seq: int
    granted: asyncio.Future[None] = field(repr=False)
    state: str = "waiting"  # then "running", "done"; or "refused"


class ExtractionPool:
    """`Offload` on a pool of worker processes (spawned: nothing of the parent's threads or
    event loop is inherited), fed by a fair queue (the module's docstring)."""

    def __init__(
        self,
        *,
        processes: int | None = None,
        threshold: int | None = None,
        deadline: float = 30.0,
        queued_bytes: int = QUEUED_BYTES,
    ) -> None:
        self.processes = processes or default_processes()
        self.threshold = threshold  # one for every kind, else THRESHOLDS
        self.deadline = deadline
        self.queued_bytes = queued_bytes
        self._pool: ProcessPoolExecutor | None = None
        self.started = 0  # pools started: 1, plus one per restart after a lost worker
        # by source name: the CPU seconds its last pages took, the newest weighing half
        self.cost: dict[str, float] = {}
        self._waiting: dict[str, _Turn] = {}  # a page waits here, not in the pool
        self._renders: deque[_Turn] = deque()
        self._running: set[str] = set()  # sources with a page in a worker
        self._busy = 0  # workers taken
        self._queued = 0  # bytes of the waiting pages
        self._seq = itertools.count()

    def wants(self, source: Source, page: Page) -> bool:
        threshold = self.threshold
        if threshold is None:
            threshold = THRESHOLDS.get(source.kind, THRESHOLDS["*"])
        return len(page.body) >= threshold

    @property
    def waiting(self) -> list[str]:
        """The sources with a page waiting for a worker, in the order they would go."""
        return [t.lane for t in sorted(self._waiting.values(), key=self._rank) if t.lane]

    async def examine(self, source: Source, page: Page) -> Extraction:
        """`source.examine_kept(page)` in a worker, once the fair queue gives it one
        (`deadline` counts from then); raises ParseError naming the source and URL."""
        turn = self._enter(source, page)
        await self._taken(turn)
        try:
            return await self._examine(source, page)
        finally:
            self._leave(turn)

    async def _examine(self, source: Source, page: Page) -> Extraction:
        pool = self._pool or self._start()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(pool, _examine, source.fingerprint, source.config, page)
        started = time.monotonic()
        try:
            extraction, seconds = await asyncio.wait_for(job, self.deadline)
        except TimeoutError:
            self._charge(source.name, self.deadline)
            self._discard(pool)  # the worker may be stuck in the page: kill it
            message = f"extraction took longer than {self.deadline:g} s; abandoned"
            raise ParseError(source.name, page.url, message) from None
        except BrokenProcessPool as exc:
            self._charge(source.name, time.monotonic() - started)
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
        self._charge(source.name, seconds)
        return extraction

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in a worker, for other pure work on large inputs (rendering a feed of
        thousands of entries), ahead of every waiting page; raises WorkerLost past the
        deadline or if the worker died (the caller may then do the work itself)."""
        turn = _Turn(None, "", 0, 0.0, next(self._seq), asyncio.get_running_loop().create_future())
        self._renders.append(turn)
        self._dispatch()
        await self._taken(turn)
        try:
            pool = self._pool or self._start()
            job = asyncio.get_running_loop().run_in_executor(pool, work, *args)
            try:
                return await asyncio.wait_for(job, self.deadline)
            except (TimeoutError, BrokenProcessPool) as exc:
                self._discard(pool)
                raise WorkerLost(f"worker process lost ({type(exc).__name__})") from exc
        finally:
            self._leave(turn)

    def close(self) -> None:
        """Stop the workers now: a page being examined is abandoned, not waited for, and the
        waiting ones are refused."""
        waiting = [*self._waiting.values(), *self._renders]
        self._waiting.clear()
        self._renders.clear()
        self._queued = 0
        for turn in waiting:
            if turn.lane is None:
                self._refuse(turn, WorkerLost("the extraction processes were stopped"))
            else:
                message = "abandoned: the extraction processes were stopped"
                self._refuse(turn, ParseError(turn.lane, turn.url, message))
        if self._pool is not None:
            self._discard(self._pool)

    # the fair queue

    def _enter(self, source: Source, page: Page) -> _Turn:
        """The page's turn, waiting (or taken at once); raises ParseError if the source has a
        page waiting already. Past `queued_bytes` of waiting pages, the turns of the sources
        that cost the most (this one, maybe) are refused: awaiting them raises ParseError."""
        name = source.name
        if name in self._waiting:
            message = "refused: a page of this source already waits for an extraction process"
            raise ParseError(name, page.url, message)
        size = len(page.body)
        per_mb = PRIOR_SECONDS_PER_MB.get(source.kind, PRIOR_SECONDS_PER_MB["*"])
        future = asyncio.get_running_loop().create_future()
        turn = _Turn(name, page.url, size, size / 2**20 * per_mb, next(self._seq), future)
        self._waiting[name] = turn
        self._queued += size
        self._dispatch()
        while self._queued > self.queued_bytes and self._waiting:
            costliest = max(self._waiting.values(), key=self._rank)
            del self._waiting[costliest.lane or ""]
            self._queued -= costliest.size
            mb = self.queued_bytes / 2**20
            message = (
                f"refused: {mb:.3g} MB of pages wait for the extraction processes and this "
                f"source's cost the most (~{self._rank(costliest)[0]:.2g} s of CPU each); "
                "the next poll fetches it again"
            )
            self._refuse(costliest, ParseError(costliest.lane or "", costliest.url, message))
        return turn

    def _rank(self, turn: _Turn) -> tuple[float, int]:
        """Which waiting page goes first: the source that costs least, then the oldest."""
        return (self.cost.get(turn.lane or "", turn.prior), turn.seq)

    def _dispatch(self) -> None:
        """Hand free workers to the waiting renders, then pages (one per source at most)."""
        while self._busy < self.processes:
            turn = self._next()
            if turn is None:
                return
            turn.state = "running"
            self._busy += 1
            if turn.lane is not None:
                self._running.add(turn.lane)
            turn.granted.set_result(None)

    def _next(self) -> _Turn | None:
        while self._renders:
            turn = self._renders.popleft()
            if not turn.granted.done():  # else cancelled while waiting
                return turn
            turn.state = "done"
        ready = [t for t in self._waiting.values() if t.lane not in self._running]
        if not ready:
            return None
        turn = min(ready, key=self._rank)
        del self._waiting[turn.lane or ""]
        self._queued -= turn.size
        if turn.granted.done():  # cancelled while waiting, not yet withdrawn
            turn.state = "done"
            return self._next()
        return turn

    async def _taken(self, turn: _Turn) -> None:
        """Wait for the turn's worker; a cancelled wait gives its place (or worker) back."""
        try:
            await turn.granted
        except BaseException:
            self._leave(turn)
            raise

    def _leave(self, turn: _Turn) -> None:
        if turn.state == "waiting":
            if turn.lane is None:
                with contextlib.suppress(ValueError):
                    self._renders.remove(turn)
            elif self._waiting.get(turn.lane) is turn:
                del self._waiting[turn.lane]
                self._queued -= turn.size
        elif turn.state == "running":
            self._busy -= 1
            if turn.lane is not None:
                self._running.discard(turn.lane)
        turn.state = "done"
        self._dispatch()

    def _refuse(self, turn: _Turn, error: Exception) -> None:
        turn.state = "refused"
        if not turn.granted.done():
            turn.granted.set_exception(error)

    def _charge(self, name: str, seconds: float) -> None:
        """A page of `name` took `seconds` of CPU: its cost moves half way there."""
        before = self.cost.pop(name, None)
        self.cost[name] = seconds if before is None else (before + seconds) / 2
        if len(self.cost) > _COSTS_LIMIT:
            del self.cost[next(iter(self.cost))]

    # the processes

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


def _examine(
    fingerprint: str, config: object, page: Page
) -> tuple[Extraction, float]:  # pragma: no cover
    """In a worker: the page examined by the source `config` describes (built once), and
    the CPU seconds that took (the source's cost in the fair queue)."""
    from feedbridge.sources import build_source

    started = time.process_time()
    source = _built.get(fingerprint)
    if source is None:
        if len(_built) >= _BUILT_LIMIT:
            _built.clear()
        source = _built[fingerprint] = build_source(config)  # type: ignore[arg-type]
    return source.examine_kept(page), time.process_time() - started
