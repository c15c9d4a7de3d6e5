"""What one poll writes and reports: the source's new state, its `PollOutcome` and `PollReport`.

Pure (no store, no clock but the times given), so the worker keeps only the I/O around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feedbridge.core.errors import FeedbridgeError, FetchError
from feedbridge.core.health import health_after_failure, health_after_success
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.poll.decide import Decision
from feedbridge.store import PollOutcome, PollView, SourceState, entry_notice

if TYPE_CHECKING:
    from feedbridge.sources import Source


@dataclass
class PollReport:
    source: str
    ok: bool
    changed: bool = False
    entries: int = 0
    new: int = 0
    queued: int = 0
    error: str | None = None
    seconds: float = 0.0
    retry_after: float | None = None
    failures: int = 0  # failed polls in a row, for the scheduler's backoff
    skipped: str = ""  # items that did not become entries, by reason: "1 no title or content"
    warning: str | None = None  # the poll worked but found something wrong (`once` exits 1)
    next_due: float | None = None  # epoch seconds of the next poll, as a shared store keeps it
    lease_lost: bool = False  # outcome not written: another worker took the source, or it overran
    unchanged: bool = False  # not modified (304) or the very same body: nothing was read


@dataclass(frozen=True, slots=True)
class Written:
    """One poll's outcome for the store, the health event it raised, and its report."""

    outcome: PollOutcome
    event: HealthEvent | None
    report: PollReport
    state: dict[str, Any]  # the source's new state, as written in `outcome`


def unchanged_poll(
    source: Source, state: dict[str, Any], now: datetime, due: float | None
) -> Written:
    """A poll that read nothing (304 or the very same body): the source is healthy again."""
    health = health_after_success(state, f"source {source.name}", now)
    health.state["last_success"] = now.timestamp()
    if health.state.get("warning") and health.state["status"] == "ok":
        health.state["status"] = "warning"  # the page is unchanged, so is its problem
    report = PollReport(
        source.name, ok=True, next_due=due, unchanged=True, warning=health.state.get("warning")
    )
    outcome = PollOutcome(SourceState.from_dict(health.state), due)
    return Written(outcome, health.event, report, health.state)


def failed_poll(
    source: Source,
    state: dict[str, Any],
    exc: BaseException,
    now: datetime,
    failure_threshold: int,
    schedule: Callable[[int, float | None], float | None],
) -> Written:
    """A poll that failed: the error by source and URL, one more failure, the next try from
    `schedule(failures, retry_after)`."""
    message = (
        str(exc)
        if isinstance(exc, FeedbridgeError)
        else (
            f"source {source.name!r} ({source.url}): internal error {type(exc).__name__}: {exc}"
        )
    )
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    health = health_after_failure(state, f"source {source.name}", message, now, failure_threshold)
    health.state["retry_after"] = retry_after
    failures = int(health.state["failures"])
    due = schedule(failures, retry_after)
    report = PollReport(
        source.name,
        ok=False,
        error=message,
        retry_after=retry_after,
        failures=failures,
        next_due=due,
    )
    outcome = PollOutcome(SourceState.from_dict(health.state), due)
    return Written(outcome, health.event, report, health.state)


def extracted_poll(
    source: Source,
    entries: Sequence[Entry],
    state: dict[str, Any],
    view: PollView,
    decision: Decision,
    now: datetime,
    *,
    due: float | None,
    changed_at: float,
    warning: str | None = None,
) -> Written:
    """A poll that extracted `entries`: the new feed (when it changed), what targets are owed,
    the seen keys; `changed_at` is the feed's Last-Modified if it changed."""
    name = source.name
    health = health_after_success(state, f"source {name}", now, empty=decision.empty)
    new_state = health.state
    new_state["last_success"] = now.timestamp()
    warning = warning and f"source {name!r} ({source.url}): {warning}"
    new_state["warning"] = warning
    if warning and new_state["status"] == "ok":
        new_state["status"] = "warning"
    new_state["last_count"] = len(entries)
    changed = [e.to_dict() for e in decision.feed] != [e.to_dict() for e in view.feed]
    if changed and not decision.empty:
        new_state["feed_changed_at"] = changed_at
    else:
        changed = False
    stamp = now.timestamp()
    notices = [
        entry_notice(target, entry, stamp)
        for target, owed in decision.deliveries.items()
        for entry in owed
    ]
    outcome = PollOutcome(
        state=SourceState.from_dict(new_state),
        next_due=due,
        feed=decision.feed if changed else None,
        seen=[] if decision.empty else entries,
        seen_before=view.seen,
        notices=notices,
        suppressed=decision.suppressed,
        first_cycle=decision.first_cycle,
    )
    report = PollReport(
        name,
        ok=True,
        changed=changed,
        entries=len(entries),
        new=len(decision.new),
        queued=len(notices),
        next_due=due,
        warning=warning or None,
    )
    return Written(outcome, health.event, report, new_state)
