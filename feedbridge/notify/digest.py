"""A digest target's schedule: when its next digest fires (cron in its zone), whether a round
sends it now, and how the log names it (its messages: `TargetChannel.digest_messages`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feedbridge.core.durations import DigestSpec
from feedbridge.notify.channel import TargetChannel
from feedbridge.store import OutboxRow


def next_fire(spec: DigestSpec, after: float) -> float:
    """Epoch seconds of the digest's first scheduled time after `after`."""
    from croniter import croniter  # digest targets only

    start = datetime.fromtimestamp(after, spec.tz)
    fire: datetime = croniter(spec.cron, start).get_next(datetime)
    return fire.timestamp()


def digest_due(
    channel: TargetChannel,
    state: dict[str, Any],
    rows: Sequence[OutboxRow],
    now: float,
    respect_backoff: bool,
) -> bool:
    """Whether this round sends the target's digest of `rows`. The first round only starts
    the clock, and an empty digest that is not sent moves it on (both in `state`)."""
    spec = channel.digest
    assert spec is not None
    last = state.get("last_digest")
    if last is None:
        state["last_digest"] = now  # the first digest covers what arrives from now on
        return False
    if next_fire(spec, float(last)) > now:
        return False
    if respect_backoff and state.get("digest_next_at", 0) > now:
        return False
    if not rows and not channel.digest_empty:
        state["last_digest"] = now
        return False
    return True


def digest_label(spec: DigestSpec, since: float, at: datetime, rows: int) -> dict[str, Any]:
    """How the log names one digest: the time it covers and how many entries."""
    start = datetime.fromtimestamp(since, spec.tz)
    return {
        "digest": f"{start:%Y-%m-%d %H:%M} to {at:%Y-%m-%d %H:%M} {spec.tz.key}",
        "entries": rows,
    }
