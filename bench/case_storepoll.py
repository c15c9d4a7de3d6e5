"""Store case, per poll (rows of case 6): what one poll of the papers page costs the embedded
store, on the store case's 1,000,000 keys.

- first poll: `poll_view` then `apply_poll` of a new source: 37 papers (the html source's
  entries from bench/common.py `papers_page`), their seen keys, one target's 37 baseline
  marks, the feed and the state. Baseline: the same rows in one transaction of a bare sqlite3
  database (WAL), the values already serialized: the floor under the store.
- same entries: a later poll whose page changed but whose entries did not (body digest
  differs): `poll_view` and `apply_poll` with the seen keys only.
- unchanged: `apply_poll` of a poll that wrote nothing but its state (a 304, an identical body).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from bench.common import Row, Stat, interleave, papers_page

POLLS = 40  # polls per measured run


def papers_entries() -> list[Any]:
    from bench.case_extract import HTML_CONFIG, PAGE_URL
    from feedbridge.config import HtmlConfig
    from feedbridge.models import Page
    from feedbridge.sources import build_source

    source = build_source(HtmlConfig.model_validate(HTML_CONFIG))
    page = Page(url=PAGE_URL, status=200, body=papers_page(), encoding="utf-8",
                headers={"content-type": "text/html; charset=utf-8"})  # fmt: skip
    entries = source.extract(page)
    assert len(entries) == 37, len(entries)
    return entries


def _floor(db: sqlite3.Connection, entries: list[Any]) -> Callable[[str], None]:
    db.execute("CREATE TABLE IF NOT EXISTS s (source, key, score, expires, PRIMARY KEY "
               "(source, key)) WITHOUT ROWID")  # fmt: skip
    db.execute("CREATE TABLE IF NOT EXISTS m (source, target, key, how, expires, PRIMARY KEY "
               "(source, target, key)) WITHOUT ROWID")  # fmt: skip
    db.execute("CREATE TABLE IF NOT EXISTS f (source PRIMARY KEY, version, entries)")
    db.execute("CREATE TABLE IF NOT EXISTS st (source PRIMARY KEY, state)")
    feed = json.dumps([e.to_dict() for e in entries]).encode()
    state = json.dumps({"last_poll": 1.0, "status": "ok", "validators": {"etag": '"x"'}})

    def write(name: str) -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO s VALUES (?, ?, ?, ?)",
                       [(name, e.key, e.score, 2e9) for e in entries])  # fmt: skip
        db.executemany("INSERT INTO m VALUES (?, 'team', ?, 'first_run', ?)",
                       [(name, e.key, 2e9) for e in entries])  # fmt: skip
        db.execute("INSERT INTO f VALUES (?, 1, ?)", (name, feed))
        db.execute("INSERT OR REPLACE INTO st VALUES (?, ?)", (name, state))
        db.execute("COMMIT")

    return write


def poll_rows(store: Any, db: sqlite3.Connection, runs: int) -> list[Row]:
    from feedbridge.store import PollOutcome, SourceState

    entries = papers_entries()
    keys = [e.key for e in entries]
    state = SourceState(last_poll=1.0, status="ok", validators={"etag": '"x"'})
    batches = itertools.count()
    written: list[list[str]] = []
    floor = _floor(db, entries)

    def timed(fn: Callable[[str], None], names: list[str]) -> float:
        t = time.perf_counter()
        for name in names:
            fn(name)
        return (time.perf_counter() - t) / len(names) * 1000

    def first_poll(name: str) -> None:
        view = store.poll_view(name, keys, ["team"])
        store.apply_poll(name, PollOutcome(
            state, feed=entries, seen=entries, seen_before=view.seen,
            suppressed={"team": keys}, first_cycle=["team"],
        ))  # fmt: skip

    def same_entries(name: str) -> None:
        view = store.poll_view(name, keys, ["team"])
        store.apply_poll(name, PollOutcome(state, seen=entries, seen_before=view.seen))

    def unchanged(name: str) -> None:
        store.apply_poll(name, PollOutcome(state))

    def first() -> float:
        names = [f"poll{next(batches)}-{i}" for i in range(POLLS)]
        written.append(names)
        return timed(first_poll, names)

    def floor_first() -> float:
        return timed(floor, [f"floor{next(batches)}-{i}" for i in range(POLLS)])

    a, b = interleave(runs, first, floor_first)
    again = [timed(same_entries, written[i % len(written)]) for i in range(runs + 1)][1:]
    still = [timed(unchanged, written[i % len(written)]) for i in range(runs + 1)][1:]
    note = "poll_view + apply_poll"
    return [
        Row("store", "first poll: 37 papers, feed, 1 target's marks", "ms/poll", Stat(a),
            "sqlite3, same rows", Stat(b), note=note),
        Row("store", "same 37 entries again (page changed)", "ms/poll", Stat(again), note=note),
        Row("store", "unchanged poll (state only)", "ms/poll", Stat(still), note="apply_poll"),
    ]  # fmt: skip
