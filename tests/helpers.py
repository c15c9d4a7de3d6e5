"""Test-only calls that production code does not need, built on the public API."""

from __future__ import annotations

from feedbridge.core.models import HealthEvent
from feedbridge.notify.outbox import Notifier


def raise_health(notifier: Notifier, event: HealthEvent) -> None:
    """Queue `event` for every target that asked for health events, as a poll does."""
    notifier.store.enqueue(notifier.health_notices(event), notifier.clock())
