"""Source and target health: failures in a row, sudden emptiness, and the events they raise.

Pure: the poll counts a source's polls and the notifier a target's deliveries through
the same two functions, on their own typed state (`SourceState`, `TargetState`), and
queue the events they return.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from feedbridge.core.models import HealthEvent


class Counted(Protocol):
    """What health reads and writes of a state record (a frozen dataclass)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def failures(self) -> int: ...

    @property
    def status(self) -> str | None: ...

    @property
    def last_error(self) -> str | None: ...


class Shown(Counted, Protocol):
    """What the index page and preview show of a source's state."""

    @property
    def warning(self) -> str | None: ...


S = TypeVar("S", bound=Counted)


@dataclass(frozen=True, slots=True)
class Health(Generic[S]):
    """A source's or target's state after one poll or delivery round, and the event raised."""

    state: S
    event: HealthEvent | None = None


def health_after_failure(
    state: S, subject: str, message: str, now: datetime, threshold: int = 3
) -> Health[S]:
    """Count a failure; the `threshold`-th in a row raises one "failing" event."""
    failures = state.failures + 1
    counted = replace(state, failures=failures, last_error=message)
    if failures >= threshold and state.status != "failing":
        text = f"{subject} failing ({failures} in a row): {message}"
        event = HealthEvent(subject, "failing", text, now)
        return Health(replace(counted, status="failing"), event)
    return Health(counted)


def health_after_success(
    state: S, subject: str, now: datetime, *, empty: bool = False
) -> Health[S]:
    """Reset failures; leaving "failing" or "empty" raises one "recovered" event."""
    status = state.status or "ok"
    if empty:
        emptied = replace(state, failures=0, last_error=None, status="empty")
        if status != "empty":
            text = f"{subject} suddenly yields no entries; keeping its last good feed"
            return Health(emptied, HealthEvent(subject, "empty", text, now))
        return Health(emptied)
    healthy = replace(state, failures=0, last_error=None, status="ok")
    if status in ("failing", "empty"):
        return Health(healthy, HealthEvent(subject, "recovered", f"{subject} recovered", now))
    return Health(healthy)


def status_of(state: Shown | None) -> tuple[str, str, str | None]:
    """(status, as shown, detail) of a source as it is now, for the index page and preview:
    pending before its first poll (None), failing from its first failed poll (the alert
    waits for the threshold), else its status (ok, warning, empty) with the warning, if any."""
    if state is None:
        return "pending", "pending", None
    error = state.last_error
    if state.failures > 0:
        return "failing", f"failing ({state.failures} in a row)", error or None
    status = state.status or "ok"
    warning = state.warning or error
    if status == "empty" and not warning:
        warning = "the last poll found no entries; the feed keeps its last entries"
    return status, status, warning or None
