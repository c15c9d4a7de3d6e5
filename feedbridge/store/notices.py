"""Notices as the outbox keys them: an entry or a health event owed to a target, built from
plain data (pure: the poll and the notifier both queue them, neither through the other)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from feedbridge.core.models import Entry, HealthEvent
from feedbridge.store.base import Notice


def notice_key(kind: str, payload: Mapping[str, Any]) -> str:
    """The unique key of a notice per (target, kind): `source:entry-key` for an entry
    (payload: Entry.to_dict()), `subject|kind|time` for a health event (its fields)."""
    if kind == "entry":
        return f"{payload['source']}:{payload['key']}"
    if kind == "health":
        return f"{payload['subject']}|{payload['kind']}|{payload['at']}"
    return str(payload.get("at", ""))


def entry_notice(target: str, entry: Entry, now: float) -> Notice:
    """An entry owed to `target`; queuing it twice queues it once."""
    payload = entry.to_dict()
    return Notice(target, "entry", notice_key("entry", payload), payload)


def health_notice(target: str, event: HealthEvent) -> Notice:
    """A health event for `target`; the same event queued twice is queued once."""
    fields = {"subject": event.subject, "kind": event.kind, "message": event.message}
    payload = {**fields, "at": event.at.isoformat()}
    return Notice(target, "health", notice_key("health", payload), payload)


def health_notices(
    targets: Iterable[str], event: HealthEvent, exclude: str | None = None
) -> list[Notice]:
    """The event for each of `targets` (those with `health = true`) but `exclude` (the
    target the event is about: it cannot tell itself)."""
    return [health_notice(name, event) for name in targets if name != exclude]
