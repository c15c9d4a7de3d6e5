"""Store case, per poll (rows of case 6): what one poll of the papers page costs the embedded
store, on the store case's 1,000,000 keys.

- first poll: `apply_poll` of a new source: 37 papers (the html source's entries from
  bench/common.py `papers_page`), their seen keys, one target's 37 baseline marks, the feed
  and the state. Baseline: the same rows in one transaction of a bare sqlite3 database (WAL),
  the values already serialized: the floor under the store. The `poll_view` before it
  (nothing stored yet) is timed on its own row.
- same entries: a later poll whose page changed but whose entries did not (body digest
  differs): `apply_poll` with the seen keys only, and the `poll_view` before it: reading the
  stored feed (after a restart), and given the feed the board holds (`KnownFeed`, as the
  worker does once it has published that version).
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
    from feedbridge.core.models import Page
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
    from feedbridge.store import KnownFeed, PollOutcome, SourceState

    entries = papers_entries()
    keys = [e.key for e in entries]
    state = SourceState(last_poll=1.0, status="ok", validators={"etag": '"x"'})
    batches = itertools.count()
    written: list[list[str]] = []
    floor = _floor(db, entries)

    views: dict[str, list[float]] = {"first": [], "same": [], "known": []}
    versions: dict[str, int] = {}

    def timed(fn: Callable[[str], float], names: list[str], kind: str = "") -> float:
        """ms per apply_poll; the poll_views' ms go to `views[kind]`."""
        spent, t = 0.0, time.perf_counter()
        for name in names:
            spent += fn(name)
        if kind:
            views[kind].append(spent / len(names) * 1000)
        return (time.perf_counter() - t - spent) / len(names) * 1000

    def view_of(name: str, known: Any = None) -> tuple[Any, float]:
        t = time.perf_counter()
        return store.poll_view(name, keys, ["team"], known), time.perf_counter() - t

    def first_poll(name: str) -> float:
        view, spent = view_of(name)
        versions[name] = store.apply_poll(name, PollOutcome(
            state, feed=entries, seen=entries, seen_before=view.seen,
            suppressed={"team": keys}, first_cycle=["team"],
        ))  # fmt: skip
        return spent

    def same_entries(name: str) -> float:
        view, spent = view_of(name)
        store.apply_poll(name, PollOutcome(state, seen=entries, seen_before=view.seen))
        return spent

    def same_known(name: str) -> float:
        view, spent = view_of(name, KnownFeed(versions[name], entries))
        store.apply_poll(name, PollOutcome(state, seen=entries, seen_before=view.seen))
        return spent

    def unchanged(name: str) -> float:
        store.apply_poll(name, PollOutcome(state))
        return 0.0

    def first() -> float:
        names = [f"poll{next(batches)}-{i}" for i in range(POLLS)]
        written.append(names)
        return timed(first_poll, names, "first")

    def floor_first(name: str) -> float:
        floor(name)
        return 0.0

    a, b = interleave(
        runs, first, lambda: timed(floor_first, [f"floor{next(batches)}-{i}" for i in range(POLLS)])
    )
    views["first"] = views["first"][1:]  # the warm-up run's
    again = [timed(same_entries, written[i % len(written)], "same") for i in range(runs)]
    for i in range(runs):
        timed(same_known, written[i % len(written)], "known")
    still = [timed(unchanged, written[i % len(written)]) for i in range(runs)]
    return [
        Row("store", "first poll: apply_poll of 37 papers, feed, 1 target's marks", "ms/poll",
            Stat(a), "sqlite3, same rows", Stat(b)),
        Row("store", "first poll: poll_view before it", "ms/poll", Stat(views["first"])),
        Row("store", "same 37 entries again (page changed): apply_poll", "ms/poll", Stat(again)),
        Row("store", "same 37 entries again: poll_view (reads the feed)", "ms/poll",
            Stat(views["same"])),
        Row("store", "same 37 entries again: poll_view, the board's feed known", "ms/poll",
            Stat(views["known"])),
        Row("store", "unchanged poll (state only): apply_poll", "ms/poll", Stat(still)),
    ]  # fmt: skip
