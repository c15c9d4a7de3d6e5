"""When a source is next due: jitter, backoff after failures, Retry-After, restarts."""

from __future__ import annotations

import random

import pytest

from feedbridge.poll.scheduler import first_due, next_due


def test_healthy_sources_are_spread_by_jitter_within_its_bounds() -> None:
    rng = random.Random(1)
    waits = [next_due(0, 1800, jitter=0.1, rng=rng) for _ in range(500)]
    assert min(waits) >= 1620 and max(waits) <= 1980
    assert max(waits) - min(waits) > 300, "jitter must actually spread the polls"


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 60, 66), (2, 120, 132), (3, 240, 264), (5, 960, 1056), (6, 1800, 1980), (40, 1800, 1980)],
)
def test_failing_source_is_retried_from_one_minute_doubling_up_to_its_interval(
    failures: int, low: float, high: float
) -> None:
    rng = random.Random(2)
    for _ in range(50):
        wait = next_due(0, 1800, jitter=0.1, failures=failures, rng=rng)
        assert low <= wait <= high


def test_a_dead_source_is_tried_every_minute_or_so_at_first_then_every_interval() -> None:
    """Drive the schedule with a fake clock: poll times of a source that is down for 3 h."""
    clock, polls = 0.0, []
    for failures in range(1, 100):
        polls.append(clock)
        clock = next_due(clock, 1800, jitter=0, failures=failures)
        if clock > 3 * 3600:
            break
    minutes = [round(t / 60) for t in polls]
    assert minutes[:7] == [0, 1, 3, 7, 15, 31, 61]  # 1, 2, 4, 8, 16 min, then capped at 30
    assert minutes[7:] == [91, 121, 151]
    # recovered: back to the interval
    assert next_due(clock, 1800, jitter=0, failures=0) == clock + 1800


def test_retry_after_wins_when_it_asks_for_longer() -> None:
    assert next_due(0, 600, failures=1, retry_after=7200) == 7200
    assert next_due(0, 600, jitter=0, retry_after=10) == 600


def test_a_restart_keeps_the_schedule() -> None:
    assert first_due(1000, 600, None) == 1000  # never polled: now
    assert first_due(1000, 600, 900) == 1500  # polled 100 s ago: one interval after that
    assert first_due(1000, 600, 100) == 1000  # overdue: now
    assert first_due(1000, 600, 5000) == 1600  # clock went back: at most one interval away
    assert first_due(1000, 600, 900, failures=2) == 1020  # failing: its backoff (2 min)
