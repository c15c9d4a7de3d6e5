"""Statements the PostgreSQL store sends per poll, and their time: a tool, not a bench case.

    .venv/bin/python -m bench.pg_statements

Starts a throwaway PostgreSQL (tests/pg.py), then for 50 sources each: a first poll of the
37 papers (feed, one target's baseline marks), the same entries again (the page changed),
three re-scored (the feed changes), five notices queued, an unchanged poll (state only), and
`poll_view` with and without the feed the board holds. Counts every statement psycopg is
asked to run (an `executemany` counts one per row; BEGIN/COMMIT not counted). From another
checkout (`cd /tmp/base && /path/to/.venv/bin/python -m bench.pg_statements`, with this file
and bench/case_storepoll.py copied there) it counts that checkout's statements.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bench.case_storepoll import papers_entries

POLLS = 50


def main() -> None:
    import psycopg

    from feedbridge import store as stores
    from feedbridge.store import Notice, PollOutcome, SourceState, notice_key
    from feedbridge.store.postgres import PostgresStore
    from tests.pg import pg_server

    count = [0]
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def counted(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        count[0] += 1
        return execute(self, query, params, **kw)

    def counted_many(self: Any, query: Any, params: Any, **kw: Any) -> Any:
        params = list(params)
        count[0] += len(params)
        return executemany(self, query, params, **kw)

    psycopg.Cursor.execute, psycopg.Cursor.executemany = counted, counted_many  # type: ignore[method-assign]
    entries = papers_entries()
    keys = [e.key for e in entries]
    state = SourceState(last_poll=1.0, status="ok", validators={"etag": '"x"'})
    scores = {e.key: e.score for e in entries}
    rescored = [replace(e, score=(e.score or 0) + 1) for e in entries[:3]] + entries[3:]
    notices = [
        Notice("team", "entry", notice_key("entry", e.to_dict()), e.to_dict()) for e in entries[:5]
    ]
    with pg_server() as server:
        store = PostgresStore(server.database())
        versions: dict[str, int] = {}

        def run(label: str, poll: Callable[[str], Any]) -> None:
            count[0], started = 0, time.perf_counter()
            for i in range(POLLS):
                poll(f"s{i}")
            ms = (time.perf_counter() - started) / POLLS * 1000
            print(f"{label:44s} {count[0] / POLLS:4.1f} statements  {ms:6.2f} ms")

        def first(name: str) -> None:
            outcome = PollOutcome(state, feed=entries, seen=entries,
                                  suppressed={"team": keys}, first_cycle=["team"])  # fmt: skip
            versions[name] = store.apply_poll(name, outcome) or 0

        run("apply_poll: first poll, 37 papers, 1 target", first)
        run("apply_poll: same entries again", lambda n: store.apply_poll(
            n, PollOutcome(state, seen=entries, seen_before=scores)))  # fmt: skip
        run("poll_view: the feed read", lambda n: store.poll_view(n, keys, ["team"]))
        known = getattr(stores, "KnownFeed", None)  # run from an older checkout: no such row
        if known is not None:
            run("poll_view: the board's feed known", lambda n: store.poll_view(
                n, keys, ["team"], known(versions[n], entries)))  # fmt: skip
        run("apply_poll: 3 re-scored (feed changed)", lambda n: store.apply_poll(
            n, PollOutcome(state, feed=rescored, seen=rescored, seen_before=scores)))  # fmt: skip
        run("apply_poll: 5 notices queued", lambda n: store.apply_poll(
            n, PollOutcome(state, seen=entries, seen_before=scores, notices=notices)))  # fmt: skip
        run("apply_poll: unchanged (state only)", lambda n: store.apply_poll(n, PollOutcome(state)))
        store.close()


if __name__ == "__main__":
    main()
