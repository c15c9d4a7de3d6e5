"""When each source is next due: interval with jitter, backoff after failures, Retry-After."""

from __future__ import annotations

import random

MAX_BACKOFF = 6 * 3600.0


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

    Success: `interval` ± `jitter`·interval. After n failures in a row the wait
    doubles each time (capped at 6 h, never below the interval), and a server's
    Retry-After is honoured when it asks for longer.
    """
    pick = (rng or random).uniform(-jitter, jitter)
    wait = interval * (1 + pick)
    if failures > 0:
        wait = min(max(interval, MAX_BACKOFF), interval * 2 ** (failures - 1)) * (1 + abs(pick))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return now + wait


def first_due(now: float, interval: float, last_poll: float | None) -> float:
    """A source never polled is due now; otherwise one interval after its last poll."""
    if last_poll is None:
        return now
    return min(max(last_poll + interval, now), now + interval)
