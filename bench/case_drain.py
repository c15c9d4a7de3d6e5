"""Case: drain, the outbox on PostgreSQL (issue 20).

- 10,000 queued messages (2,500 for each of four `json://` targets) in a fresh PostgreSQL
  database, drained by one node's `Notifier.deliver()` round to `bench.receiver` (a raw asyncio
  server in its own process that answers 200 at once): messages/s. Each message is a lease check
  (`hold`), Apprise's send and a `complete`, each store call in a worker thread; a round reads
  100 rows at a time. Baseline in the same run: the same messages through `TargetChannel.send`
  alone (Apprise, no store), the four targets at once as the round sends them.
- `claim_due` on that queue of 10,000: one batch of 100 (what a round reads) against the whole
  queue (what every round and re-claim read before).
- How a store call reaches the database from the event loop, one round trip each (the lease
  check's UPDATE): blocking the loop, psycopg's sync pool in a worker thread (what the store
  does), psycopg's `AsyncConnectionPool`; one at a time and eight at once.

PostgreSQL is Debian's server in a temp directory (tests/pg.py), fsync off as in the tests.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import LOCAL, ROOT, Row, Stat, free_port, hf_entries, http_get, stop, wait_port

COUNT = 10_000
TARGETS = 4
CALLS = 2000


def _queue(store: Any, entries: list[Any], count: int) -> None:
    """`count` entry notices, spread over the targets, enqueued as polls would."""
    from feedbridge.store import entry_notice

    stamp = time.time()
    per = count // TARGETS
    for t in range(TARGETS):
        notices = [entry_notice(f"t{t}", entries[i], stamp) for i in range(per)]
        for i in range(0, per, 500):
            store.enqueue(notices[i : i + 500], stamp)


def _drain(url: str, port: int, entries: list[Any], count: int) -> float:
    """Messages/s of one round draining `count` queued messages."""
    from feedbridge.notify.channel import TargetChannel
    from feedbridge.notify.outbox import Notifier
    from feedbridge.store.postgres import PostgresStore

    def received() -> int:
        return int(http_get(f"http://{LOCAL}:{port}/count")[2])

    with PostgresStore(url) as store:
        _queue(store, entries, count)
        channels = [TargetChannel(f"t{t}", [f"json://{LOCAL}:{port}/t{t}"]) for t in range(TARGETS)]
        notifier = Notifier(channels, store, lease=60)
        before = received()

        async def go() -> float:
            t = time.perf_counter()
            result = await notifier.deliver(respect_backoff=False)
            elapsed = time.perf_counter() - t
            assert result.sent == count, result
            return elapsed

        elapsed = asyncio.run(go())
        assert received() - before == count
        assert all(store.pending_count(c.name) == 0 for c in channels)
    return count / elapsed


def _apprise(port: int, entries: list[Any], count: int) -> float:
    """Messages/s of the same sends through Apprise alone, the targets at once."""
    from feedbridge.notify.channel import TargetChannel
    from feedbridge.store import OutboxRow

    channels = [TargetChannel(f"t{t}", [f"json://{LOCAL}:{port}/t{t}"]) for t in range(TARGETS)]
    per = count // TARGETS

    async def one(channel: Any) -> None:
        for i in range(per):
            row = OutboxRow("", channel.name, "entry", "", entries[i].to_dict(), 0)
            assert await channel.send(0, channel.message(row, "text")) is None

    async def go() -> float:
        t = time.perf_counter()
        await asyncio.gather(*(one(c) for c in channels))
        return time.perf_counter() - t

    return count / asyncio.run(go())


def _claims(url: str, entries: list[Any], runs: int) -> tuple[list[float], list[float]]:
    """ms of claim_due reading 100 rows, and reading all, of a 10,000-row queue."""
    from feedbridge.store.postgres import PostgresStore

    batch, whole = [], []
    with PostgresStore(url) as store:
        _queue(store, entries, COUNT)
        for _ in range(runs):
            for limit, out in ((100, batch), (None, whole)):
                t = time.perf_counter()
                rows = store.claim_due("t0", time.time(), limit, 60)
                out.append((time.perf_counter() - t) * 1000)
                assert len(rows) == (limit or COUNT // TARGETS)
    return batch, whole


def _calls(url: str) -> dict[str, float]:
    """µs per round trip from the event loop, three ways, one and eight at once."""
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    query = "UPDATE targets SET lease_until = 1 WHERE name = 't0' AND lease_owner IS NULL"
    kwargs = {"autocommit": True}
    pool = ConnectionPool(url, min_size=8, max_size=8, kwargs=kwargs, open=True)
    pool.wait()
    threads = ThreadPoolExecutor(8)

    def call() -> None:
        with pool.connection() as conn:
            conn.execute(query)

    async def go() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        apool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=8, max_size=8, kwargs=kwargs, open=False
        )
        await apool.open(wait=True)

        async def acall() -> None:
            async with apool.connection() as conn:
                await conn.execute(query)

        async def blocking() -> None:
            call()

        async def threaded() -> None:
            await loop.run_in_executor(threads, functools.partial(call))

        async def timed(fn: Any, width: int) -> float:
            async def worker() -> None:
                for _ in range(CALLS // width):
                    await fn()

            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(width)))
            return (time.perf_counter() - t) / CALLS * 1e6

        out = {}
        for width in (1, 8):
            for name, fn in (("blocking", blocking), ("thread", threaded), ("async", acall)):
                await timed(fn, width)  # warm
                out[f"{name} x{width}"] = await timed(fn, width)
        await apool.close()
        return out

    try:
        import uvloop

        return uvloop.run(go())
    finally:
        pool.close()
        threads.shutdown()


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    from tests.pg import pg_server

    count = 2000 if quick else COUNT
    runs = 1 if quick else 3
    entries = hf_entries(count // TARGETS, "papers")
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    drained: list[float] = []
    apprise: list[float] = []
    calls: list[dict[str, float]] = []
    try:
        wait_port(port, proc=receiver)
        with pg_server() as pg:
            _apprise(port, entries, 200)  # warm-up: imports, Apprise's plugins
            for _ in range(runs):
                drained.append(_drain(pg.database(), port, entries, count))
                apprise.append(_apprise(port, entries, count))
            batch, whole = _claims(pg.database(), hf_entries(COUNT // TARGETS, "papers"), 5)
            url = pg.database()
            from feedbridge.store.postgres import PostgresStore

            with PostgresStore(url) as store:
                store.claim_due("t0", time.time(), 1, 60)  # the targets table, one row
            for _ in range(runs):
                calls.append(_calls(url))
    finally:
        stop(receiver)
    rows = [
        Row("drain", f"{count:,} queued → {TARGETS} json:// targets, PostgreSQL", "msg/s",
            Stat(drained), "Apprise alone", Stat(apprise), better="higher"),
        Row("drain", "claim_due on a 10,000-row queue: a batch of 100", "ms", Stat(batch),
            "the whole queue", Stat(whole)),
    ]  # fmt: skip
    for width in (1, 8):
        blocking = Stat([c[f"blocking x{width}"] for c in calls]).median
        rows.append(
            Row("drain", f"a store call from the event loop, {width} at once: thread", "µs/call",
                Stat([c[f"thread x{width}"] for c in calls]), "AsyncConnectionPool",
                Stat([c[f"async x{width}"] for c in calls]),
                note=f"blocking the loop: {blocking:.0f} µs"),
        )  # fmt: skip
    return rows, {"count": count, "targets": TARGETS, "calls": calls}
