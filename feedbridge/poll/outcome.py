"""What one poll writes and reports: the source's new `SourceState`, its `PollOutcome` and
`PollReport`, for a poll that extracted entries, read nothing new, or failed.

Pure (no store, no clock but the times given), so the poller keeps only the I/O around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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


HISTORY = 10  # polls kept in a source's state, for its web page
ERROR_SHOWN = 300  # characters of a failed poll's error kept in that history


def _logged(
    state: SourceState, now: datetime, status: str, entries: int = 0, new: int = 0,
    error: str | None = None,
) -> SourceState:
    """`state` with this poll first in its history (the last HISTORY polls)."""
    poll: dict[str, Any] = {"at": now.timestamp(), "status": status, "entries": entries, "new": new}
    if error:
        poll["error"] = error[:ERROR_SHOWN]
    return replace(state, history=(poll, *state.history[: HISTORY - 1]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Written:
    """One poll's outcome for the store (with the source's new state), the health event it
    raised, and its report."""

    outcome: PollOutcome
    event: HealthEvent | None
    report: PollReport


def unchanged_poll(source: Source, state: SourceState, now: datetime, due: float | None) -> Written:
    """A poll that read nothing (304 or the very same body): the source is healthy again."""
    health = health_after_success(state, f"source {source.name}", now)
    new_state = replace(health.state, last_success=now.timestamp())
    if new_state.warning and new_state.status == "ok":
        new_state = replace(new_state, status="warning")  # the page is unchanged, so is its problem
    new_state = _logged(new_state, now, "unchanged", entries=new_state.last_count)
    report = PollReport(
        source.name, ok=True, next_due=due, unchanged=True, warning=new_state.warning
    )
    return Written(PollOutcome(new_state, due), health.event, report)


def failed_poll(
    source: Source,
    state: SourceState,
    exc: BaseException,
    now: datetime,
    failure_threshold: int,
    schedule: Callable[[int, float | None], float | None],
) -> Written:
    """A poll that failed: the error by source and URL, one more failure, the next try from
    `schedule(failures, retry_after)`."""
    message = source.mask(  # it reaches the index page, health alerts and logs
        str(exc)
        if isinstance(exc, FeedbridgeError)
        else (f"source {source.name!r} ({source.url}): internal error {type(exc).__name__}: {exc}")
    )
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    health = health_after_failure(state, f"source {source.name}", message, now, failure_threshold)
    new_state = _logged(replace(health.state, retry_after=retry_after), now, "failed",
                        error=message)  # fmt: skip
    failures = new_state.failures
    due = schedule(failures, retry_after)
    report = PollReport(
        source.name,
        ok=False,
        error=message,
        retry_after=retry_after,
        failures=failures,
        next_due=due,
    )
    return Written(PollOutcome(new_state, due), health.event, report)


def extracted_poll(
    source: Source,
    entries: Sequence[Entry],
    state: SourceState,
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
    warning = source.mask(f"source {name!r} ({source.url}): {warning}") if warning else None
    status = "warning" if warning and health.state.status == "ok" else health.state.status
    changed = not decision.empty and _feed_changed(decision.feed, view.feed)
    new_state = replace(
        health.state,
        last_success=now.timestamp(),
        warning=warning,
        status=status,
        last_count=len(entries),
        feed_changed_at=changed_at if changed else health.state.feed_changed_at,
    )
    new_state = _logged(new_state, now, status or "ok", len(entries), len(decision.new), warning)
    stamp = now.timestamp()
    notices = [
        entry_notice(target, entry, stamp)
        for target, owed in decision.deliveries.items()
        for entry in owed
    ]
    outcome = PollOutcome(
        state=new_state,
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
        warning=warning,
    )
    return Written(outcome, health.event, report)


def _feed_changed(feed: Sequence[Entry], before: Sequence[Entry]) -> bool:
    """Whether the feed differs from the stored one as stored (entries as their JSON objects)."""
    return [e.to_dict() for e in feed] != [e.to_dict() for e in before]
