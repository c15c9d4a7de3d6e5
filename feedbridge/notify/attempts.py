"""Pure: what one delivery attempt leaves. Given the rows sent and each URL's answer: which rows
every URL has taken (finished), which wait for a retry and when (backoff), which are past
their retry window (expired, to the failed log), and the error the target's health counts.
Also whether the target's rate limit allows an attempt at all.

No store, no network, no clock: `notify/outbox.py` sends and writes around it, and
tests/test_attempts.py checks it as tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from feedbridge.core.wording import plural
from feedbridge.store import OutboxRow

BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: exponential from 30 s, capped at 1 h, jittered."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return float(delay / 2 + (rng or random).random() * delay / 2)


def allowed(max_per_hour: int | None, state: dict[str, Any], now: float) -> bool:
    """The per-target rate limit: at most `max_per_hour` messages in any hour (the times of
    the last hour's messages kept in `state`)."""
    if max_per_hour is None:
        return True
    recent = [t for t in state.get("sent_times", []) if now - t < 3600]
    state["sent_times"] = recent
    return len(recent) < max_per_hour


def owed(rows: Sequence[OutboxRow], urls: int) -> dict[int, list[OutboxRow]]:
    """Each URL index with the rows it has not taken yet; a URL owed nothing is left out,
    except when there are no rows at all (an empty digest still goes to every URL)."""
    found = {}
    for index in range(urls):
        these = [r for r in rows if index not in r.done_urls]
        if these or not rows:
            found[index] = these
    return found


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt leaves. `retried` are the rows not finished, with their attempt
    counted and their next try set; `expired` are those of them past the retry window."""

    finished: list[OutboxRow]
    retried: list[OutboxRow]
    expired: list[OutboxRow]
    reason: str | None  # the URLs' errors, None when every URL took its rows
    error: str | None  # what the target's health records: the reason, or that rows were given up

    @property
    def retry(self) -> list[OutboxRow]:
        """The rows to keep queued with their progress (stored rows only)."""
        return [r for r in self.retried if r not in self.expired and r.id]

    @property
    def settled(self) -> bool:
        """Nothing waits for a retry: every URL took it, or every row left was given up (so
        later rows may go on)."""
        gone = bool(self.expired) and len(self.expired) == len(self.retried)
        return self.reason is None or gone


def after_attempt(
    rows: Sequence[OutboxRow],
    answers: Mapping[int, str | None],
    urls: int,
    now: float,
    retry_window: float,
    delay: Callable[[int], float] = backoff,
) -> Attempt:
    """The attempt that sent `rows` (one, or a digest's) to the URLs in `answers` (index ->
    None when it took them, else why not) of a target with `urls` URLs, at `now`."""
    owed_ids = {i: {r.id for r in rows if i not in r.done_urls} for i in range(urls)}
    took = {i for i, reason in answers.items() if reason is None}
    updated = [
        replace(r, done_urls=r.done_urls | {i for i in took if r.id in owed_ids[i]}) for r in rows
    ]
    everyone = set(range(urls))
    finished = [r for r in updated if r.done_urls >= everyone]
    errors = [reason for reason in answers.values() if reason is not None]
    if not errors:
        return Attempt(finished, [], [], None, None)
    reason = "; ".join(errors)
    retried = [
        replace(
            r,
            attempts=r.attempts + 1,
            first_attempt_at=now if r.first_attempt_at is None else r.first_attempt_at,
            next_at=now + delay(r.attempts + 1),
            last_error=reason,
        )
        for r in updated
        if r not in finished
    ]
    expired = [
        r
        for r in retried
        if r.first_attempt_at is not None and now - r.first_attempt_at >= retry_window
    ]
    error = reason
    if expired:
        tries = plural(max(r.attempts for r in expired), "try")
        what = f" on {plural(len(expired), 'entry')}" if len(rows) > 1 else ""
        error = f"gave up{what} after {tries}: {reason}"
    return Attempt(finished, retried, expired, reason, error)
