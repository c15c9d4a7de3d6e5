"""What one poll writes and reports, as tables: no store, no fetch (feedbridge/outcome.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from feedbridge.core.errors import FetchError, ParseError
from feedbridge.core.filters import EntryFilter
from feedbridge.core.models import Entry
from feedbridge.poll.decide import TargetView, decide
from feedbridge.poll.outcome import Written, extracted_poll, failed_poll, unchanged_poll
from feedbridge.store import PollView, SourceState

NOW = datetime(2026, 5, 8, 12, tzinfo=UTC)


@dataclass
class FakeSource:  # what outcome reads of a Source: its name and URL, how it masks secrets
    name: str = "papers"
    url: str = "https://ex.com/papers"

    def mask(self, text: str) -> str:
        return text


def entry(key: str, hours_ago: int = 0) -> Entry:
    return Entry(
        source="papers",
        key=key,
        title=f"paper {key}",
        link=f"https://ex.com/{key}",
        updated=NOW - timedelta(hours=hours_ago),
    )


def view(feed: list[Entry], knows: bool = True) -> PollView:
    return PollView(
        feed=feed,
        seen={e.key: None for e in feed},
        handed={"chat": frozenset(e.key for e in feed)},
        knows=frozenset({"chat"} if knows else ()),
    )


def extracted(
    entries: list[Entry], before: PollView, state: SourceState, warning: str | None = None
) -> Written:
    targets = [
        TargetView("chat", EntryFilter.build(), "chat" in before.knows, before.handed["chat"])
    ]
    decision = decide(
        extracted=entries, previous_feed=before.feed, seen=before.seen, targets=targets,
        keep=50, now=NOW,
    )  # fmt: skip
    return extracted_poll(
        FakeSource(), entries, state, before, decision, NOW,
        due=123.0, changed_at=1000.0, warning=warning,
    )  # fmt: skip


def test_a_new_entry_changes_the_feed_and_is_owed_to_the_target() -> None:
    before = view([entry("a", 1)])
    written = extracted([entry("b"), entry("a", 1)], before, SourceState(status="ok"))
    assert written.report.changed and written.report.new == 1 and written.report.queued == 1
    assert [e.key for e in written.outcome.feed] == ["b", "a"]
    assert [n.payload["key"] for n in written.outcome.notices] == ["b"]
    assert written.outcome.state.feed_changed_at == 1000.0 and written.outcome.next_due == 123.0
    assert written.event is None


def test_the_same_entries_leave_the_feed_unwritten() -> None:
    written = extracted([entry("a", 1)], view([entry("a", 1)]), SourceState(status="ok"))
    assert not written.report.changed and written.outcome.feed is None
    assert written.outcome.state.feed_changed_at is None and written.outcome.notices == []


def test_an_empty_poll_keeps_the_feed_and_raises_one_empty_event() -> None:
    written = extracted([], view([entry("a", 1)]), SourceState(status="ok"))
    assert not written.report.changed and written.outcome.feed is None
    assert written.outcome.seen == [] and written.outcome.state.status == "empty"
    assert written.event is not None and written.event.kind == "empty"


def test_a_warning_names_the_source_and_url_and_marks_the_status() -> None:
    written = extracted([entry("a")], view([]), SourceState(), warning="selector matched nothing")
    expected = "source 'papers' (https://ex.com/papers): selector matched nothing"
    assert written.report.warning == written.outcome.state.warning == expected
    assert written.outcome.state.status == "warning"


def test_an_unchanged_page_keeps_its_warning_and_reports_unchanged() -> None:
    written = unchanged_poll(FakeSource(), SourceState(status="warning", warning="w"), NOW, None)
    assert written.report.unchanged and written.report.ok and written.report.warning == "w"
    state = written.outcome.state
    assert state.status == "warning" and state.last_success == NOW.timestamp()


@pytest.mark.parametrize(
    ("exc", "error", "retry_after"),
    [
        (
            FetchError("papers", "https://ex.com/papers", "HTTP 503", retry_after=120.0),
            "HTTP 503",
            120.0,
        ),
        (ParseError("papers", "https://ex.com/papers", "invalid JSON"), "invalid JSON", None),
        (
            KeyError("title"),
            "source 'papers' (https://ex.com/papers): internal error KeyError: 'title'",
            None,
        ),
    ],
)
def test_a_failure_is_counted_worded_and_scheduled(
    exc: BaseException, error: str, retry_after: float | None
) -> None:
    asked: list[tuple[int, float | None]] = []

    def schedule(failures: int, retry: float | None) -> float:
        asked.append((failures, retry))
        return 500.0

    state = SourceState(status="failing", failures=2)
    written = failed_poll(FakeSource(), state, exc, NOW, 3, schedule)
    assert error in (written.report.error or "")
    assert asked == [(3, retry_after)] and written.report.next_due == 500.0
    assert written.report.failures == 3 and written.outcome.state.retry_after == retry_after
    assert written.event is None  # already failing: the event was raised once, before


def test_the_threshold_th_failure_in_a_row_raises_the_failing_event() -> None:
    exc = ParseError("papers", "https://ex.com/papers", "invalid JSON")
    written = failed_poll(FakeSource(), SourceState(failures=2), exc, NOW, 3, lambda f, r: None)
    assert written.event is not None and written.event.kind == "failing"
    assert written.outcome.next_due is None


def test_a_written_state_keeps_the_stored_json_keys_and_unknown_ones() -> None:
    """`config` and `warning` are declared fields now, stored under the same keys as before;
    a key this version does not know (a newer node's) survives a poll."""
    stored = {"config": "abc", "warning": "w", "status": "warning", "newer": 1}
    state = SourceState.from_dict(stored)
    assert (state.config, state.warning, state.extra) == ("abc", "w", {"newer": 1})
    written = unchanged_poll(FakeSource(), state, NOW, None)
    saved = written.outcome.state.to_dict()
    assert {"config": "abc", "warning": "w", "newer": 1}.items() <= saved.items()


def test_each_poll_is_logged_first_in_the_history_a_source_page_shows_and_only_ten_kept() -> None:
    state = SourceState()
    first = extracted([entry("a"), entry("b")], view([], knows=False), state).outcome.state
    assert first.history == ({"at": NOW.timestamp(), "status": "ok", "entries": 2, "new": 2},)
    exc = FetchError("papers", "https://ex.com/papers", "HTTP 503 " + "x" * 500, status=503)
    failed = failed_poll(FakeSource(), first, exc, NOW, 3, lambda f, r: None).outcome.state
    assert failed.history[0]["status"] == "failed" and failed.history[1] == first.history[0]
    assert failed.history[0]["error"].startswith("source 'papers' (https://ex.com/papers): HTTP")
    assert len(failed.history[0]["error"]) == 300, "a long error is cut"
    state = failed
    for _ in range(12):
        state = unchanged_poll(FakeSource(), state, NOW, None).outcome.state
    assert len(state.history) == 10 and {h["status"] for h in state.history} == {"unchanged"}
    assert SourceState.from_dict(state.to_dict()) == state, "stored and read back as it was"
