"""Case 6, store: seen-check and mark operations with 1,000,000 keys already present.

Populates a fresh embedded store with 1,000,000 seen keys (1,000 sources x 1,000 keys,
`apply_poll` with 1,000 seen entries each), then measures, per key, through the Store interface:
`poll_view` of seen keys (half hits, half misses), `apply_poll` writing new seen keys,
`poll_view` of a target's delivery marks, `apply_poll` writing marks (20 keys a call, each
call one transaction: how a poll writes them). (Before the Store interface these rows were
`seen_scores`, `mark_seen`, `handed`, `mark_handed`.)
Baseline in the same run: the same reads and writes on a bare sqlite3 table holding as many
rows (`key TEXT PRIMARY KEY, value TEXT`, WAL): the floor under diskcache.
Size on disk: the store's directory after populating, and bytes per key.
Then, on that store, what one poll of the papers page costs (bench/case_storepoll.py).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.case_storepoll import poll_rows
from bench.common import Row, Stat, du, interleave

KEYS = 1_000_000
PER_SOURCE = 1000
BATCH = 20  # keys per call, like one poll of one source
OPS = 5000  # keys per measured run


def _E(key: str, score: float | None) -> Any:
    from feedbridge.core.models import Entry

    return Entry(source="s", key=key, title="", link="", score=score)


def arxiv(i: int) -> str:
    return f"{2600 + i // 100000}.{i % 100000:05d}"


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    from feedbridge.store import EmbeddedStore, PollOutcome, SourceState

    empty = SourceState()

    total = 100_000 if quick else KEYS
    runs = 3 if quick else 5
    sources = total // PER_SOURCE
    work = Path(tempfile.mkdtemp(prefix="fb-bench-store-"))
    extra: dict[str, Any] = {"keys": total}
    try:
        store = EmbeddedStore(work / "store")
        t = time.perf_counter()
        for s in range(sources):
            batch = [_E(arxiv(s * PER_SOURCE + k), float(k % 50)) for k in range(PER_SOURCE)]
            store.apply_poll(f"src{s:04d}", PollOutcome(empty, seen=batch))
        populate = time.perf_counter() - t
        extra["populate_s"] = populate
        extra["populate_keys_per_s"] = total / populate
        size = du(work / "store")
        extra["size_bytes"] = size
        extra["bytes_per_key"] = size / total

        db = sqlite3.connect(str(work / "floor.sqlite"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO kv VALUES (?, ?)",
            (
                (f"seen:src{i // PER_SOURCE:04d}:{arxiv(i)}", json.dumps({"score": 1.0, "at": 0}))
                for i in range(total)
            ),
        )
        db.execute("COMMIT")

        counter = iter(range(10**9))

        def keys_for(run_no: int, hits: bool) -> tuple[str, list[str]]:
            s = (run_no * 7) % sources
            if hits:
                return f"src{s:04d}", [arxiv(s * PER_SOURCE + k) for k in range(OPS)][:PER_SOURCE]
            return f"src{s:04d}", [f"new-{run_no}-{k}" for k in range(OPS)]

        def rate(fn: Callable[[], int]) -> Callable[[], float]:
            def go() -> float:
                t = time.perf_counter()
                done = fn()
                return done / (time.perf_counter() - t)

            return go

        def seen_scores() -> int:
            n = next(counter)
            src, hits = keys_for(n, True)
            _, misses = keys_for(n, False)
            keys = (hits * (OPS // 2 // len(hits) + 1))[: OPS // 2] + misses[: OPS // 2]
            found = store.poll_view(src, keys, []).seen
            assert len(found) == len(set(keys[: OPS // 2]))
            return len(keys)

        def floor_get() -> int:
            n = next(counter)
            src, hits = keys_for(n, True)
            _, misses = keys_for(n, False)
            keys = (hits * (OPS // 2 // len(hits) + 1))[: OPS // 2] + misses[: OPS // 2]
            q = "SELECT value FROM kv WHERE key = ?"
            for k in keys:
                row = db.execute(q, (f"seen:{src}:{k}",)).fetchone()
                if row is not None:
                    json.loads(row[0])
            return len(keys)

        def mark_seen() -> int:
            n = next(counter)
            src, keys = keys_for(n, False)
            items = [_E(k, 1.0) for k in keys]
            for i in range(0, len(items), BATCH):
                store.apply_poll(src, PollOutcome(empty, seen=items[i : i + BATCH]))
            return len(items)

        def floor_put() -> int:
            n = next(counter)
            src, keys = keys_for(n, False)
            q = "INSERT OR REPLACE INTO kv VALUES (?, ?)"
            for i in range(0, len(keys), BATCH):
                db.execute("BEGIN")
                for k in keys[i : i + BATCH]:
                    db.execute(q, (f"seen:{src}:{k}", json.dumps({"score": 1.0, "at": 0})))
                db.execute("COMMIT")
            return len(keys)

        marked: list[tuple[str, list[str]]] = []

        def mark_handed() -> int:
            n = next(counter)
            src, keys = keys_for(n, False)
            for i in range(0, len(keys), BATCH):
                marks = {"team": keys[i : i + BATCH]}
                store.apply_poll(src, PollOutcome(empty, suppressed=marks))
            marked.append((src, keys))
            return len(keys)

        def handed() -> int:
            src, keys = marked[next(counter) % len(marked)]
            half = keys[: OPS // 2] + [f"absent-{k}" for k in range(OPS // 2)]
            got = store.poll_view(src, half, ["team"]).handed["team"]
            assert len(got) == OPS // 2
            return len(half)

        rows: list[Row] = []
        label = f"{total // 1000:,}k keys"
        a, b = interleave(runs, rate(seen_scores), rate(floor_get))
        rows.append(
            Row(
                "store",
                f"poll_view seen, {label} (½ hits)",
                "keys/s",
                Stat(a),
                "sqlite3 SELECT",
                Stat(b),
                better="higher",
            )
        )
        a, b = interleave(runs, rate(mark_seen), rate(floor_put))
        rows.append(
            Row(
                "store",
                f"apply_poll seen, {label}, {BATCH}/txn",
                "keys/s",
                Stat(a),
                "sqlite3 INSERT",
                Stat(b),
                better="higher",
            )
        )
        a, b = interleave(runs, rate(mark_handed), rate(floor_put))
        rows.append(
            Row(
                "store",
                f"apply_poll marks, {label}, {BATCH}/txn",
                "keys/s",
                Stat(a),
                "sqlite3 INSERT",
                Stat(b),
                better="higher",
            )
        )
        a, b = interleave(runs, rate(handed), rate(floor_get))
        rows.append(
            Row(
                "store",
                f"poll_view marks, {label} (½ hits)",
                "keys/s",
                Stat(a),
                "sqlite3 SELECT",
                Stat(b),
                better="higher",
            )
        )
        rows.append(
            Row(
                "store",
                f"populate {label} (apply_poll 1000/txn)",
                "keys/s",
                Stat([total / populate]),
            )
        )
        rows.append(
            Row(
                "store",
                f"size on disk, {label}",
                "MB",
                Stat([size / 1e6]),
                note=f"{size / total:.0f} bytes/key",
            )
        )
        rows += poll_rows(store, db, runs)
        store.close()
        db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, extra
