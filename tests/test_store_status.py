"""Whether the store answers (store/status.py): down once, probed on a short backoff, back once;
a loop's repeated failure logged once (Streak). Time is an injected clock."""

from __future__ import annotations

import itertools
import logging

import pytest

from feedbridge.core.errors import StoreError
from feedbridge.store import StoreStatus, StoreUnavailable, Streak


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_store_that_goes_down_is_probed_on_a_capped_backoff_and_logged_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    status = StoreStatus("postgresql://db/feeds", clock)
    assert status.up and status.admit() and status.describe() == ""
    status.failed('connection failed: connection to server at "10.0.0.5", port 5432 failed: ')
    assert not status.up
    admitted = []
    for _ in range(600):  # 6 s in 10 ms steps; every admitted probe fails
        clock.now += 0.01
        if status.admit():
            admitted.append(clock.now - 100)
            status.failed('connection to server at "10.0.0.5" failed: Connection refused')
    # 0.1, 0.2, 0.4, then capped at 0.5 s between probes
    assert admitted[:5] == pytest.approx([0.1, 0.3, 0.7, 1.2, 1.7], abs=0.015)
    gaps = [b - a for a, b in itertools.pairwise(admitted[3:])]
    assert gaps == pytest.approx([0.5] * len(gaps), abs=0.015) and len(gaps) == 9
    assert status.describe() == "store down for 6s: Connection refused", "not the address"
    assert status.answered() and status.up and not status.answered()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["store down", "store back"]
    assert caplog.records[1].down_s == 6.0  # type: ignore[attr-defined]


def test_a_repeated_failure_is_logged_once_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    streak = Streak("claiming sources")
    for _ in range(5):
        streak.failed(StoreError("canceling statement due to lock timeout"))
    streak.failed(StoreUnavailable("store down for 3s"))  # the status says that one
    streak.ok()
    streak.ok()
    assert [r.getMessage() for r in caplog.records] == [
        "claiming sources failed",
        "claiming sources works again",
    ]


async def test_a_call_after_the_store_closed_is_a_store_error_not_a_traceback(pg_url: str) -> None:
    """At a stop the store closes while a poll's last lease renewal may still come: it gets
    a StoreUnavailable (the poll logs and ends), not a RuntimeError from a closed thread pool
    (a traceback in the log of a clean stop)."""
    from feedbridge.store.postgres import PostgresStore

    store = PostgresStore(pg_url)
    store.close()
    with pytest.raises(StoreUnavailable, match="is closed"):
        await store.run(store.register_sources, ["a"], 0.0)
    with pytest.raises(StoreUnavailable, match="is closed"):
        await store.probe()
