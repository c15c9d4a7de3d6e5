"""What one delivery attempt leaves, as tables: no store, no network (notify/attempts.py)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest

from feedbridge.notify.attempts import after_attempt, allowed, backoff, owed
from feedbridge.store import OutboxRow

NOW = 10_000.0
WINDOW = 3600.0


def row(
    id: str, done: Iterable[int] = (), attempts: int = 0, first: float | None = None
) -> OutboxRow:
    return OutboxRow(
        id, "chat", "entry", f"s:{id}", {"key": id}, queued_at=0.0, attempts=attempts,
        first_attempt_at=first, done_urls=frozenset(done),
    )  # fmt: skip


def delay(attempts: int) -> float:
    return 30.0 * attempts


# rows sent, each URL's answer, URLs of the target -> finished ids, retried (id, attempts,
# done URLs, next try), expired ids, the health error, settled (nothing waits for a retry)
CASES: list[tuple[str, list[OutboxRow], dict[int, str | None], int, dict[str, Any]]] = [
    (
        "every URL took it",
        [row("a")], {0: None, 1: None}, 2,
        {"finished": ["a"], "retried": [], "expired": [], "error": None, "settled": True},
    ),
    (
        "one URL of two failed: the row waits, remembering the URL that took it",
        [row("a")], {0: None, 1: "HTTP 500"}, 2,
        {"finished": [], "retried": [("a", 1, {0}, NOW + 30)], "expired": [],
         "error": "HTTP 500", "settled": False},
    ),
    (
        "a retry goes only to the URL still owed, and then the row is finished",
        [row("a", done={0}, attempts=1, first=NOW - 60)], {1: None}, 2,
        {"finished": ["a"], "retried": [], "expired": [], "error": None, "settled": True},
    ),
    (
        "a row failing past its retry window is given up",
        [row("a", attempts=2, first=NOW - WINDOW)], {0: "HTTP 500"}, 1,
        {"finished": [], "retried": [("a", 3, set(), NOW + 90)], "expired": ["a"],
         "error": "gave up after 3 tries: HTTP 500", "settled": True},
    ),
    (
        "a digest gives up only its rows past the window; the others wait",
        [row("a", attempts=1, first=NOW - WINDOW), row("b")], {0: "timeout", 1: "HTTP 502"}, 2,
        {"finished": [], "retried": [("a", 2, set(), NOW + 60), ("b", 1, set(), NOW + 30)],
         "expired": ["a"], "error": "gave up on 1 entry after 2 tries: timeout; HTTP 502",
         "settled": False},
    ),
    (
        "an empty digest that a URL refused leaves nothing but the error",
        [], {0: "down"}, 1,
        {"finished": [], "retried": [], "expired": [], "error": "down", "settled": False},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "answers", "urls", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_what_an_attempt_leaves(
    rows: list[OutboxRow], answers: dict[int, str | None], urls: int, expected: dict[str, Any]
) -> None:
    attempt = after_attempt(rows, answers, urls, NOW, WINDOW, delay)
    assert [r.id for r in attempt.finished] == expected["finished"]
    retried = [(r.id, r.attempts, set(r.done_urls), r.next_at) for r in attempt.retried]
    assert retried == expected["retried"]
    assert [r.id for r in attempt.expired] == expected["expired"]
    assert attempt.error == expected["error"]
    assert attempt.settled is expected["settled"]
    assert {r.id for r in attempt.retry} == {r[0] for r in retried} - set(expected["expired"])
    for r in attempt.retried:
        assert r.last_error == attempt.reason and r.first_attempt_at is not None


def test_each_url_is_sent_only_the_rows_it_has_not_taken() -> None:
    rows = [row("a", done={0}), row("b"), row("c", done={0, 1})]
    assert {i: [r.id for r in these] for i, these in owed(rows, 2).items()} == {
        0: ["b"],
        1: ["a", "b"],
    }
    assert owed([row("a", done={0})], 1) == {}  # nothing owed: no message at all
    assert owed([], 2) == {0: [], 1: []}  # an empty digest still goes to every URL


@pytest.mark.parametrize(
    ("limit", "sent", "ok", "kept"),
    [
        (None, [NOW - 10] * 5, True, [NOW - 10] * 5),
        (2, [NOW - 10], True, [NOW - 10]),
        (2, [NOW - 10, NOW - 20], False, [NOW - 10, NOW - 20]),
        (2, [NOW - 4000, NOW - 20], True, [NOW - 20]),  # older than an hour: forgotten
    ],
)
def test_the_rate_limit_counts_the_last_hour(
    limit: int | None, sent: list[float], ok: bool, kept: list[float]
) -> None:
    state: dict[str, Any] = {"sent_times": list(sent)}
    assert allowed(limit, state, NOW) is ok
    assert state["sent_times"] == kept


def test_backoff_doubles_from_30_s_up_to_an_hour_with_jitter() -> None:
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    low, high = Fixed(0.0), Fixed(1.0)
    assert [backoff(n, low) for n in (1, 2, 3)] == [15.0, 30.0, 60.0]
    assert [backoff(n, high) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]
    assert backoff(20, high) == 3600.0
