"""What one poll writes and reports, as tables: no store, no fetch (feedbridge/outcome.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feedbridge.core.errors import FetchError, ParseError
from feedbridge.core.filters import EntryFilter
from feedbridge.core.models import Entry
from feedbridge.poll.decide import TargetView, decide
from feedbridge.poll.outcome import extracted_poll, failed_poll, unchanged_poll
from feedbridge.store import PollView

NOW = datetime(2026, 5, 8, 12, tzinfo=UTC)


@dataclass
class FakeSource:  # what outcome reads of a Source: its name and URL
    name: str = "papers"
    url: str = "https://ex.com/papers"


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
    entries: list[Entry], before: PollView, state: dict[str, Any], warning: str | None = None
) -> Any:
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
    written = extracted([entry("b"), entry("a", 1)], view([entry("a", 1)]), {"status": "ok"})
    assert written.report.changed and written.report.new == 1 and written.report.queued == 1
    assert [e.key for e in written.outcome.feed] == ["b", "a"]
    assert [n.payload["key"] for n in written.outcome.notices] == ["b"]
    assert written.state["feed_changed_at"] == 1000.0 and written.outcome.next_due == 123.0
    assert written.event is None


def test_the_same_entries_leave_the_feed_unwritten() -> None:
    written = extracted([entry("a", 1)], view([entry("a", 1)]), {"status": "ok"})
    assert not written.report.changed and written.outcome.feed is None
    assert "feed_changed_at" not in written.state and written.outcome.notices == []


def test_an_empty_poll_keeps_the_feed_and_raises_one_empty_event() -> None:
    written = extracted([], view([entry("a", 1)]), {"status": "ok"})
    assert not written.report.changed and written.outcome.feed is None
    assert written.outcome.seen == [] and written.state["status"] == "empty"
    assert written.event is not None and written.event.kind == "empty"


def test_a_warning_names_the_source_and_url_and_marks_the_status() -> None:
    written = extracted([entry("a")], view([]), {}, warning="selector matched nothing")
    expected = "source 'papers' (https://ex.com/papers): selector matched nothing"
    assert written.report.warning == written.state["warning"] == expected
    assert written.state["status"] == "warning"


def test_an_unchanged_page_keeps_its_warning_and_reports_unchanged() -> None:
    written = unchanged_poll(FakeSource(), {"status": "warning", "warning": "w"}, NOW, None)
    assert written.report.unchanged and written.report.ok and written.report.warning == "w"
    assert written.state["status"] == "warning" and written.state["last_success"] == NOW.timestamp()


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

    state = {"status": "failing", "failures": 2}
    written = failed_poll(FakeSource(), state, exc, NOW, 3, schedule)
    assert error in (written.report.error or "")
    assert asked == [(3, retry_after)] and written.report.next_due == 500.0
    assert written.report.failures == 3 and written.state["retry_after"] == retry_after
    assert written.event is None  # already failing: the event was raised once, before


def test_the_threshold_th_failure_in_a_row_raises_the_failing_event() -> None:
    exc = ParseError("papers", "https://ex.com/papers", "invalid JSON")
    written = failed_poll(FakeSource(), {"failures": 2}, exc, NOW, 3, lambda f, r: None)
    assert written.event is not None and written.event.kind == "failing"
    assert written.outcome.next_due is None
