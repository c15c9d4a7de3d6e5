"""When each source is next due: interval with jitter, backoff after failures, Retry-After."""

from __future__ import annotations

import random

from feedbridge.config.models import SourceBase

RETRY_FIRST = 60.0  # a failed poll is retried this soon, then twice as late each time


def next_due(
    now: float,
    interval: float,
    *,
    jitter: float = 0.1,
    failures: int = 0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Epoch seconds of the next poll.

    Success: `interval` ± `jitter`·interval. After n failures in a row: 1 min, 2, 4, …
    doubling up to the interval (a dead source costs no more than a healthy one, and a
    brief outage heals in minutes, not a full interval); jitter only ever lengthens a
    retry. A server's Retry-After is honoured when it asks for longer.
    """
    pick = (rng or random).uniform(-jitter, jitter)
    wait = interval * (1 + pick)
    if failures > 0:
        wait = min(interval, RETRY_FIRST * 2 ** min(failures - 1, 32)) * (1 + abs(pick))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return now + wait


def first_due(now: float, interval: float, last_poll: float | None, failures: int = 0) -> float:
    """A source never polled is due now; otherwise one wait (its backoff, if its last
    polls failed) after its last poll, so that a restart keeps the schedule."""
    if last_poll is None:
        return now
    wait = interval if failures <= 0 else min(interval, RETRY_FIRST * 2 ** min(failures - 1, 32))
    return min(max(last_poll + wait, now), now + wait)


def source_due(config: SourceBase, now: float, failures: int, retry_after: float | None) -> float:
    """`next_due` for a source: its interval and jitter as configured."""
    interval = config.interval.total_seconds()
    return next_due(now, interval, jitter=config.jitter, failures=failures, retry_after=retry_after)
