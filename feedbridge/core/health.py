"""Source and target health: failures in a row, sudden emptiness, and the events they raise.

Pure: the worker counts a source's polls and the notifier a target's deliveries
through the same two functions, and queue the events they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedbridge.core.models import HealthEvent


@dataclass(frozen=True, slots=True)
class Health:
    """A source's or target's health after one poll or delivery round."""

    state: dict[str, Any]
    event: HealthEvent | None = None


def health_after_failure(
    state: Mapping[str, Any], subject: str, message: str, now: datetime, threshold: int = 3
) -> Health:
    """Count a failure; the `threshold`-th in a row raises one "failing" event."""
    failures = int(state.get("failures", 0)) + 1
    new_state = {**state, "failures": failures, "last_error": message}
    if failures >= threshold and state.get("status") != "failing":
        new_state["status"] = "failing"
        text = f"{subject} failing ({failures} in a row): {message}"
        return Health(new_state, HealthEvent(subject, "failing", text, now))
    return Health(new_state)


def health_after_success(
    state: Mapping[str, Any], subject: str, now: datetime, *, empty: bool = False
) -> Health:
    """Reset failures; leaving "failing" or "empty" raises one "recovered" event."""
    status = state.get("status", "ok")
    new_state = {**state, "failures": 0, "last_error": None}
    if empty:
        new_state["status"] = "empty"
        if status != "empty":
            text = f"{subject} suddenly yields no entries; keeping its last good feed"
            return Health(new_state, HealthEvent(subject, "empty", text, now))
        return Health(new_state)
    new_state["status"] = "ok"
    if status in ("failing", "empty"):
        return Health(new_state, HealthEvent(subject, "recovered", f"{subject} recovered", now))
    return Health(new_state)


def status_of(state: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(status, as shown, detail) of a source as it is now, for the index page and preview:
    failing from its first failed poll (the alert waits for the threshold), else its
    status (ok, warning, empty) with the warning, if any."""
    if not state:
        return "pending", "pending", None
    failures = state.get("failures")
    error = state.get("last_error")
    if isinstance(failures, int) and failures > 0:
        return "failing", f"failing ({failures} in a row)", str(error) if error else None
    status = str(state.get("status", "ok"))
    warning = state.get("warning") or error
    if status == "empty" and not warning:
        warning = "the last poll found no entries; the feed keeps its last entries"
    return status, status, str(warning) if warning else None
