"""The pure decisions, as tables: what is new, what each target is owed, first-run policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedbridge.core.filters import EntryFilter
from feedbridge.core.health import health_after_failure, health_after_success
from feedbridge.core.models import Entry
from feedbridge.poll.decide import TargetView, decide, merge_feed
from feedbridge.store import SourceState

NOW = datetime(2026, 5, 8, 12, tzinfo=UTC)


def e(key: str, score: float | None = None, hours_ago: int = 0, title: str = "") -> Entry:
    return Entry(
        source="s",
        key=key,
        title=title or f"paper {key}",
        link=f"https://x/{key}",
        score=score,
        updated=NOW - timedelta(hours=hours_ago),
    )


def target(
    name: str = "t", knows: bool = True, handed: set[str] | None = None, **filters: object
) -> TargetView:
    return TargetView(name, EntryFilter.build(**filters), knows, frozenset(handed or ()))  # type: ignore[arg-type]


def keys(entries: list[Entry]) -> list[str]:
    return [x.key for x in entries]


def test_new_and_updated_are_told_apart_by_seen_scores() -> None:
    d = decide(
        extracted=[e("a", 5), e("b", 7), e("c", 1)],
        previous_feed=[],
        seen={"a": 5, "b": 3},
        targets=[],
        keep=10,
        now=NOW,
    )
    assert keys(d.new) == ["c"]
    assert keys(d.updated) == ["b"]


def test_entry_below_threshold_is_sent_when_upvotes_rise() -> None:
    t = target(min_score=10)
    first = decide(extracted=[e("a", 3)], previous_feed=[], seen={}, targets=[t], keep=10, now=NOW)
    assert first.deliveries == {}
    later = decide(
        extracted=[e("a", 10)],
        previous_feed=first.feed,
        seen={"a": 3},
        targets=[t],
        keep=10,
        now=NOW,
    )
    assert keys(later.deliveries["t"]) == ["a"]
    again = decide(
        extracted=[e("a", 12)],
        previous_feed=later.feed,
        seen={"a": 10},
        targets=[target(min_score=10, handed={"a"})],
        keep=10,
        now=NOW,
    )
    assert again.deliveries == {}


@pytest.mark.parametrize(
    ("mode", "latest", "sent", "suppressed"),
    [
        ("baseline", None, [], ["c", "b", "a"]),
        ("notify", None, ["c", "b", "a"], []),
        ("latest", 2, ["b", "a"], ["c"]),
        ("latest", 9, ["c", "b", "a"], []),
    ],
)
def test_first_cycle_of_a_target_applies_the_first_run_policy(
    mode: str, latest: int | None, sent: list[str], suppressed: list[str]
) -> None:
    entries = [e("a", hours_ago=1), e("b", hours_ago=2), e("c", hours_ago=3)]
    d = decide(
        extracted=entries,
        previous_feed=[],
        seen={},
        targets=[target(knows=False)],
        keep=10,
        first_run=mode,
        first_run_latest=latest,
        now=NOW,
    )  # type: ignore[arg-type]
    assert keys(d.deliveries.get("t", [])) == sent  # oldest first
    assert sorted(d.suppressed.get("t", [])) == sorted(suppressed)
    assert d.first_cycle == ["t"]


def test_targets_filter_by_words_regex_and_exclusions() -> None:
    entries = [
        e("a", title="Diffusion for agents"),
        e("b", title="A survey of diffusion"),
        e("c", title="Agentic search"),
        e("d", title="Something else"),
    ]
    t = target(include=["diffusion", "/agent(ic)?/i"], exclude=["survey"])
    d = decide(extracted=entries, previous_feed=[], seen={}, targets=[t], keep=10, now=NOW)
    assert sorted(keys(d.deliveries["t"])) == ["a", "c"]


def test_max_age_skips_old_entries() -> None:
    t = target(max_age=timedelta(days=2))
    old = Entry(source="s", key="old", title="x", link="l", published=NOW - timedelta(days=5))
    fresh = Entry(source="s", key="new", title="y", link="l", published=NOW - timedelta(hours=1))
    d = decide(extracted=[old, fresh], previous_feed=[], seen={}, targets=[t], keep=10, now=NOW)
    assert keys(d.deliveries["t"]) == ["new"]


def test_empty_poll_keeps_the_last_feed_and_sends_nothing() -> None:
    previous = [e("a"), e("b")]
    d = decide(
        extracted=[], previous_feed=previous, seen={"a": None}, targets=[target()], keep=10, now=NOW
    )
    assert d.empty
    assert d.feed == previous
    assert d.deliveries == {}


def test_feed_is_newest_first_trimmed_and_fresh_entries_replace_stored_ones() -> None:
    previous = [e("a", 1, hours_ago=5), e("b", 1, hours_ago=4)]
    fresh = [e("b", 9, hours_ago=4), e("c", 1, hours_ago=1), e("d", 1, hours_ago=2)]
    feed = merge_feed(previous, fresh, keep=3)
    assert keys(feed) == ["c", "d", "b"]
    assert feed[2].score == 9


def test_duplicate_keys_in_one_poll_count_once() -> None:
    d = decide(
        extracted=[e("a", 1), e("a", 2)],
        previous_feed=[],
        seen={},
        targets=[target()],
        keep=10,
        now=NOW,
    )
    assert keys(d.deliveries["t"]) == ["a"]
    assert len(d.feed) == 1


def test_health_raises_one_failing_event_after_threshold_and_one_recovery() -> None:
    state = SourceState()
    events = []
    for _ in range(5):
        h = health_after_failure(state, "source s", "HTTP 500", NOW, threshold=3)
        state = h.state
        events.append(h.event.kind if h.event else None)
    assert events == [None, None, "failing", None, None]
    h = health_after_success(state, "source s", NOW)
    assert h.event is not None and h.event.kind == "recovered"
    assert health_after_success(h.state, "source s", NOW).event is None


def test_sudden_emptiness_is_one_event_and_recovers() -> None:
    h = health_after_success(SourceState(), "source s", NOW, empty=True)
    assert h.event is not None and h.event.kind == "empty"
    assert health_after_success(h.state, "source s", NOW, empty=True).event is None
    back = health_after_success(h.state, "source s", NOW)
    assert back.event is not None and back.event.kind == "recovered"


def test_entries_of_one_time_keep_page_order_in_the_feed_and_are_sent_oldest_first() -> None:
    page = [e("top"), e("middle"), e("bottom"), e("older", hours_ago=5)]  # one day, no times
    d = decide(extracted=page, previous_feed=[], seen={}, targets=[target()], keep=10, now=NOW)
    assert keys(d.feed) == ["top", "middle", "bottom", "older"]
    assert keys(d.deliveries["t"]) == ["older", "bottom", "middle", "top"]
    assert [x.updated for x in d.feed[:3]] == [NOW] * 3
