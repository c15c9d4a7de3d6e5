"""Case 7, shared store: the PostgreSQL backend next to the embedded default, in the same run.

- store operations through the Store interface, both backends on the same data shape:
  `poll_view` (20 keys of a source, half seen) and `apply_poll` (20 new seen keys, their
  notices and delivery marks, the state: one transaction), on a store holding 100k seen keys;
- the no-change poll cycle (every page answers 304) with 1,000 and 5,000 html sources
  through the real Worker (`bench.poll_child`), PostgreSQL vs embedded: wall, CPU/source;
- the same cycle shared by 1, 2 and 4 worker processes on one PostgreSQL (every source
  due, each process claims and polls under leases until none is left): sources/s, scaling.

PostgreSQL is Debian's server in a temp directory (tests/pg.py), fsync off as in the tests:
the figures are the CPU and round trips of the backend, not the disk's.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.case_poll import child
from bench.common import ROOT, Nginx, Row, Stat, interleave
from bench.poll_child import write_pages

SEEN = 100_000
BATCH = 20
SIZES = (1000, 5000)
WORKERS = (1, 2, 4)


def _entries(source: str, start: int, count: int) -> list[Any]:
    from feedbridge.core.models import Entry

    return [
        Entry(source=source, key=f"k{i}", title=f"t{i}", link=f"https://x/{i}", score=float(i))
        for i in range(start, start + count)
    ]


def _store_ops(store: Any, runs: int) -> tuple[list[float], list[float]]:
    """ops/s of poll_view and apply_poll on `store` (populated with SEEN keys first)."""
    from feedbridge.store import PollOutcome, SourceState, notice_key
    from feedbridge.store.base import Notice

    sources = SEEN // 1000
    for s in range(sources):
        store.apply_poll(f"s{s}", PollOutcome(SourceState(), seen=_entries(f"s{s}", 0, 1000)))
    counter = iter(range(10**9))

    def view() -> float:
        t = time.perf_counter()
        for _ in range(200):
            n = next(counter)
            keys = [f"k{(n * 37 + i) % 1000}" for i in range(10)] + [
                f"new{n}-{i}" for i in range(10)
            ]
            store.poll_view(f"s{n % sources}", keys, ["team", "ops"])
        return 200 / (time.perf_counter() - t)

    def apply() -> float:
        t = time.perf_counter()
        for _ in range(100):
            n = next(counter)
            fresh = _entries(f"s{n % sources}", 10_000 + n * BATCH, BATCH)
            notices = [
                Notice("team", "entry", notice_key("entry", e.to_dict()), e.to_dict())
                for e in fresh
            ]
            outcome = PollOutcome(SourceState(last_count=n), seen=fresh, notices=notices)
            store.apply_poll(f"s{n % sources}", outcome)
        return 100 / (time.perf_counter() - t)

    views = [view() for _ in range(runs)]
    applies = [apply() for _ in range(runs)]
    return views, applies


def _scaling(n: int, workers: int, base: str, db: str) -> dict[str, Any]:
    """`workers` processes drain N due sources together; wall from the common start."""
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE sources SET next_due = 0, lease_owner = NULL, lease_until = NULL")
    work = Path(tempfile.mkdtemp(prefix="fb-bench-shared-"))
    go = work / "go"
    procs = []
    try:
        for i in range(workers):
            (work / str(i)).mkdir()
            args = {"mode": "shared", "n": n, "base": base, "db": db, "work": str(work / str(i)),
                    "go": str(go), "index": i}  # fmt: skip
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.poll_child", json.dumps(args)],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 300
        while len(list(work.glob("go.ready.*"))) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("a shared worker did not start")
            time.sleep(0.05)
        go.touch()
        out = [json.loads(p.communicate(timeout=600)[0].decode().splitlines()[-1]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    phases = [o["phases"][0] for o in out]
    wall = max(p["finished"] for p in phases) - min(p["started"] for p in phases)
    polled = sum(p["polled"] for p in phases)
    if polled < n:
        raise RuntimeError(f"{workers} workers polled {polled} of {n} sources")
    return {"wall": wall, "polled": polled, "cpu": sum(p["cpu"] for p in phases)}


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    from feedbridge.store import EmbeddedStore
    from feedbridge.store.postgres import PostgresStore
    from tests.pg import pg_server

    runs = 2 if quick else 3
    sizes = SIZES[:1] if quick else SIZES
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    docroot = Path(tempfile.mkdtemp(prefix="fb-bench-docroot-"))
    tmp = Path(tempfile.mkdtemp(prefix="fb-bench-stores-"))
    try:
        with pg_server() as pg:
            with EmbeddedStore(tmp / "embedded") as emb, PostgresStore(pg.database()) as shared:
                ev, ea = _store_ops(emb, runs)
                pv, pa = _store_ops(shared, runs)
            raw["ops"] = {"embedded": [ev, ea], "postgresql": [pv, pa]}
            rows += [
                Row("shared", "poll_view, 20 keys, 2 targets", "ops/s", Stat(pv),
                    "embedded", Stat(ev), better="higher"),
                Row("shared", f"apply_poll, {BATCH} new keys + notices", "ops/s", Stat(pa),
                    "embedded", Stat(ea), better="higher"),
            ]  # fmt: skip
            write_pages(docroot, max(sizes))
            with Nginx(docroot) as nginx:
                for n in sizes:
                    write_pages(docroot, n, version=0)
                    pg_runs: list[dict[str, Any]] = []
                    emb_runs: list[dict[str, Any]] = []
                    db = pg.database()

                    def pg_cycle(db: str = db, n: int = n, out: list[Any] = pg_runs) -> float:
                        args = {"mode": "feedbridge", "n": n, "base": nginx.base, "db": db}
                        out.append(child({**args, "cycles304": 2}))
                        return 0.0

                    def emb_cycle(n: int = n, out: list[Any] = emb_runs) -> float:
                        args = {"mode": "feedbridge", "n": n, "base": nginx.base}
                        out.append(child({**args, "cycles304": 2}))
                        return 0.0

                    interleave(1 if quick else 2, pg_cycle, emb_cycle, warmup=False)
                    c304 = [p for r in pg_runs for p in r["phases"] if p["phase"].startswith("304")]
                    e304 = [
                        p for r in emb_runs for p in r["phases"] if p["phase"].startswith("304")
                    ]
                    raw[f"cycle_{n}"] = {"postgresql": c304, "embedded": e304}
                    rows += [
                        Row("shared", f"N={n} 304 cycle wall, PostgreSQL", "s",
                            Stat([p["wall"] for p in c304]), "embedded",
                            Stat([p["wall"] for p in e304])),
                        Row("shared", f"N={n} 304 CPU/source, PostgreSQL", "ms",
                            Stat([p["cpu"] / n * 1000 for p in c304]), "embedded",
                            Stat([p["cpu"] / n * 1000 for p in e304])),
                    ]  # fmt: skip
                    one = None
                    for workers in WORKERS:
                        results = [_scaling(n, workers, nginx.base, db) for _ in range(runs)]
                        rate = [n / r["wall"] for r in results]
                        raw[f"scale_{n}_{workers}"] = results
                        one = one or statistics.median(rate)
                        rows.append(
                            Row("shared", f"N={n} due, {workers} worker process(es)", "sources/s",
                                Stat(rate), better="higher",
                                note=f"{statistics.median(rate) / one:.2f}x one worker"),
                        )  # fmt: skip
    finally:
        shutil.rmtree(docroot, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, raw
