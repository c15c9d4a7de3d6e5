"""When a source is next due: jitter, backoff after failures, Retry-After, restarts."""

from __future__ import annotations

import random

import pytest

from feedbridge.scheduler import MAX_BACKOFF, first_due, next_due


def test_healthy_sources_are_spread_by_jitter_within_its_bounds() -> None:
    rng = random.Random(1)
    waits = [next_due(0, 1800, jitter=0.1, rng=rng) for _ in range(500)]
    assert min(waits) >= 1620 and max(waits) <= 1980
    assert max(waits) - min(waits) > 300, "jitter must actually spread the polls"


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 600, 660), (2, 1200, 1320), (4, 4800, 5280), (30, MAX_BACKOFF, MAX_BACKOFF * 1.1)],
)
def test_failures_back_off_exponentially_and_are_capped(
    failures: int, low: float, high: float
) -> None:
    rng = random.Random(2)
    for _ in range(50):
        wait = next_due(0, 600, jitter=0.1, failures=failures, rng=rng)
        assert low <= wait <= high


def test_retry_after_wins_when_it_asks_for_longer() -> None:
    assert next_due(0, 600, failures=1, retry_after=7200) == 7200
    assert next_due(0, 600, jitter=0, retry_after=10) == 600


def test_a_restart_keeps_the_schedule() -> None:
    assert first_due(1000, 600, None) == 1000  # never polled: now
    assert first_due(1000, 600, 900) == 1500  # polled 100 s ago: one interval after that
    assert first_due(1000, 600, 100) == 1000  # overdue: now
    assert first_due(1000, 600, 5000) == 1600  # clock went back: at most one interval away
