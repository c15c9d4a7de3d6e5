"""Delivery rounds over the outbox: per-URL progress, order, retries with backoff, digests.

A row leaves the outbox only after every URL of its target took it, so a crash between
sending and removing repeats one message at most, and never loses one. Each row keeps
the URLs it already reached, so a retry (alone or inside a digest) goes only where owed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from feedbridge.core.durations import DigestSpec
from feedbridge.core.health import health_after_failure, health_after_success
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.core.wording import plural
from feedbridge.messages.templates import Message, digest_message
from feedbridge.notify.channel import Channel
from feedbridge.store import LeaseLost, Notice, OutboxRow, Store, TargetState, health_notices

log = logging.getLogger("feedbridge.notify")

BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
FAILURE_THRESHOLD = 3


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: exponential from 30 s, capped at 1 h, jittered."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return float(delay / 2 + (rng or random).random() * delay / 2)


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0  # attempts that failed this round (they stay queued)
    given_up: int = 0  # rows past their retry window, moved to the failed log
    more: bool = False  # the round stopped early to renew the target's lease


Render = Callable[[str, Sequence[OutboxRow]], Message]


class Notifier:
    """Works through each target's outbox oldest first, marking rows done only on success."""

    def __init__(
        self,
        channels: Sequence[Channel],
        store: Store,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        lease: float = 60.0,
    ) -> None:
        self.channels = {c.name: c for c in channels}
        self.lease = lease  # how long a shared store keeps a target with this node
        self.store = store
        self.clock = clock
        self.sending: set[str] = set()  # "target: item" of messages being sent right now
        self.metrics = metrics
        if metrics is not None:
            metrics.watch_queues(self.channels, store.pending_count)

    def health_notices(self, event: HealthEvent, exclude: str | None = None) -> list[Notice]:
        """The event for every target that asked for health events (logged once here)."""
        log.warning(
            "health event",
            extra={"subject": event.subject, "kind": event.kind, "detail": event.message},
        )
        return health_notices((c.name for c in self.channels.values() if c.health), event, exclude)

    def raise_health(self, event: HealthEvent, exclude: str | None = None) -> None:
        """Queue a health event to every target that asked for them."""
        self.store.enqueue(self.health_notices(event, exclude), self.clock())

    async def deliver(
        self, *, respect_backoff: bool = True, stop: asyncio.Event | None = None
    ) -> RoundResult:
        """One round over every target; once `stop` is set no new message is started."""
        total = RoundResult()
        for channel in self.channels.values():
            if stop is not None and stop.is_set():
                break
            result = await self.deliver_target(channel, respect_backoff=respect_backoff, stop=stop)
            total.sent += result.sent
            total.failed += result.failed
            total.given_up += result.given_up
        return total

    async def deliver_target(
        self, channel: Channel, *, respect_backoff: bool = True, stop: asyncio.Event | None = None
    ) -> RoundResult:
        """One round for one target: single messages in order, then its digest if due."""
        result = RoundResult(more=True)
        while result.more:
            result.more = False
            try:
                pending = self.store.claim_due(channel.name, self.clock(), ttl=self.lease)
            except LeaseLost:
                return result  # another node delivers this target
            state = self.store.target_state(channel.name).to_dict()
            try:
                await self._deliver_rows(channel, pending, state, result, respect_backoff, stop)
                self.store.save_target_state(channel.name, TargetState.from_dict(state))
            except LeaseLost as exc:
                log.warning("target lease lost", extra={"target": channel.name, "error": str(exc)})
                return result
        return result

    async def _deliver_rows(
        self,
        channel: Channel,
        pending: Sequence[OutboxRow],
        state: dict[str, Any],
        result: RoundResult,
        respect_backoff: bool,
        stop: asyncio.Event | None,
    ) -> None:
        """Single messages in order, then the digest if due; on a shared store the round
        stops every third of the lease, so that claiming again renews it."""
        singles = pending if channel.digest is None else [d for d in pending if d.kind == "health"]
        started = time.monotonic()
        for row in singles:
            if stop is not None and stop.is_set():
                break
            if self.store.shared and time.monotonic() - started > self.lease / 3:
                result.more = True
                break
            now = self.clock()
            if respect_backoff and row.next_at > now:
                break
            if not self._allowed(channel, state, now):
                break
            render: Render = lambda fmt, rows: channel.message(rows[0], fmt)  # noqa: E731
            if not await self._attempt(channel, [row], render, state, result, _label(row)):
                break
        if channel.digest is not None and result.failed == 0:
            rows = [d for d in pending if d.kind != "health"]
            await self._digest(channel, rows, state, result, respect_backoff)

    def _allowed(self, channel: Channel, state: dict[str, Any], now: float) -> bool:
        """The per-target rate limit: at most `max_per_hour` messages in any hour."""
        if channel.max_per_hour is None:
            return True
        recent = [t for t in state.get("sent_times", []) if now - t < 3600]
        state["sent_times"] = recent
        return len(recent) < channel.max_per_hour

    async def _attempt(
        self,
        channel: Channel,
        rows: Sequence[OutboxRow],
        render: Render,
        state: dict[str, Any],
        result: RoundResult,
        label: Mapping[str, Any],
    ) -> bool:
        """Send `rows` (one row, or a digest's) to each URL that still owes some of them.

        A URL gets the message rendered from exactly the rows it has not taken yet. True
        when nothing stays queued (all sent, or given up); False when rows wait for a retry.
        """
        outcome: dict[int, str | None] = {}
        owed: dict[int, set[str]] = {}
        sending = f"{channel.name}: " + ", ".join(f"{k} {v}" for k, v in label.items())
        self.sending.add(sending)
        try:
            for index, fmt in enumerate(channel.formats):
                these = [r for r in rows if index not in r.done_urls]
                owed[index] = {r.id for r in these}
                if these or not rows:  # an empty digest still goes to every URL
                    outcome[index] = await channel.send(index, render(fmt, these))
        finally:
            self.sending.discard(sending)
        now = self.clock()
        took = {i for i, reason in outcome.items() if reason is None}
        errors = [reason for reason in outcome.values() if reason is not None]
        everyone = set(range(len(channel.formats)))
        updated = [
            replace(r, done_urls=r.done_urls | {i for i in took if r.id in owed[i]}) for r in rows
        ]
        finished = [r for r in updated if r.done_urls >= everyone]
        if not errors:
            if channel.max_per_hour is not None:
                state.setdefault("sent_times", []).append(now)
            notices = self._target_health(channel, state, None)
            self.store.complete(channel.name, rows, TargetState.from_dict(state), notices)
            result.sent += 1
            if self.metrics is not None:
                self.metrics.sent.labels(channel.name).inc()
            log.info("delivered", extra={"target": channel.name, **label})
            return True
        result.failed += 1
        if self.metrics is not None:
            self.metrics.failed.labels(channel.name).inc()
        reason = "; ".join(errors)
        retried = [
            replace(
                r,
                attempts=r.attempts + 1,
                first_attempt_at=now if r.first_attempt_at is None else r.first_attempt_at,
                next_at=now + backoff(r.attempts + 1),
                last_error=reason,
            )
            for r in updated
            if r not in finished
        ]
        expired = [
            r
            for r in retried
            if r.first_attempt_at is not None and now - r.first_attempt_at >= channel.retry_window
        ]
        if expired:
            tries = plural(max(r.attempts for r in expired), "try")
            what = f" on {plural(len(expired), 'entry')}" if len(rows) > 1 else ""
            notices = self._target_health(channel, state, f"gave up{what} after {tries}: {reason}")
        else:
            notices = self._target_health(channel, state, reason)
        self.store.settle(
            channel.name,
            TargetState.from_dict(state),
            done=finished,
            retry=[r for r in retried if r not in expired and r.id],
            failed=expired,
            reason=reason,
            notices=notices,
            now=now,
        )
        if expired:
            result.given_up += len(expired)
            log.error(
                "delivery given up", extra={"target": channel.name, **label, "reason": reason}
            )
            return len(expired) == len(retried)  # those rows are gone; later rows may go on
        log.warning(
            "delivery failed, will retry",
            extra={
                "target": channel.name,
                **label,
                "reason": reason,
                "attempt": max((r.attempts for r in retried), default=1),
            },
        )
        return False

    def _target_health(
        self, channel: Channel, state: dict[str, Any], error: str | None
    ) -> list[Notice]:
        """Update the target's health in `state`; the events it raises for other targets."""
        subject = f"target {channel.name}"
        at = datetime.fromtimestamp(self.clock(), UTC)
        counted = TargetState.from_dict(state)
        if error is None:
            health = health_after_success(counted, subject, at)
        else:
            health = health_after_failure(counted, subject, error, at, FAILURE_THRESHOLD)
        state.clear()
        state.update(health.state.to_dict())
        if health.event is None:
            return []
        return self.health_notices(health.event, exclude=channel.name)

    async def _digest(
        self,
        channel: Channel,
        rows: Sequence[OutboxRow],
        state: dict[str, Any],
        result: RoundResult,
        respect_backoff: bool,
    ) -> None:
        """Send the queued entries as one message when the digest's schedule says so."""
        spec = channel.digest
        assert spec is not None
        now = self.clock()
        last = state.get("last_digest")
        if last is None:
            state["last_digest"] = now  # the first digest covers what arrives from now on
            return
        if next_fire(spec, float(last)) > now:
            return
        if respect_backoff and state.get("digest_next_at", 0) > now:
            return
        if not rows and not channel.digest_empty:
            state["last_digest"] = now
            return
        if not self._allowed(channel, state, now):
            return
        at = datetime.fromtimestamp(now, spec.tz)

        def render(fmt: str, owed: Sequence[OutboxRow]) -> Message:
            entries = [Entry.from_dict(r.payload) for r in owed]
            return digest_message(entries, fmt, channel.top, at, channel.templates)

        since = datetime.fromtimestamp(float(last), spec.tz)
        label = {
            "digest": f"{since:%Y-%m-%d %H:%M} to {at:%Y-%m-%d %H:%M} {spec.tz.key}",
            "entries": len(rows),
        }
        if await self._attempt(channel, rows, render, state, result, label):
            state["last_digest"] = now
            state.pop("digest_next_at", None)
        else:
            state["digest_next_at"] = now + backoff(int(state.get("failures", 1)))


def next_fire(spec: DigestSpec, after: float) -> float:
    """Epoch seconds of the digest's first scheduled time after `after`."""
    from croniter import croniter  # digest targets only

    start = datetime.fromtimestamp(after, spec.tz)
    fire: datetime = croniter(spec.cron, start).get_next(datetime)
    return fire.timestamp()


def queue_report(channel: Channel, store: Store, now: float) -> str | None:
    """What `once` says about a target's queue: a digest's waiting entries are not a failure."""
    pending = store.pending(channel.name)
    waiting = [d for d in pending if channel.digest is not None and d.kind == "entry"]
    owed = [d for d in pending if d not in waiting]
    parts = []
    if waiting and channel.digest is not None:
        fire = datetime.fromtimestamp(next_fire(channel.digest, now), channel.digest.tz)
        when = f"{fire:%H:%M}" if fire.timestamp() - now < 86400 else f"{fire:%a %Y-%m-%d %H:%M}"
        parts.append(
            f"{plural(len(waiting), 'entry')} waiting for the digest at {when} "
            f"{channel.digest.tz.key}"
        )
    if owed:
        errors = [d.last_error for d in owed if d.last_error]
        reason = f" (last error: {errors[-1]})" if errors else ""
        parts.append(f"{plural(len(owed), 'message')} not delivered yet, will retry{reason}")
    return f"target {channel.name}: {'; '.join(parts)}" if parts else None


def _label(row: OutboxRow) -> dict[str, str]:
    if row.kind == "health":
        return {"health": str(row.payload["subject"])}
    return {"entry": f"{row.payload.get('source')}:{row.payload.get('key')}"}
