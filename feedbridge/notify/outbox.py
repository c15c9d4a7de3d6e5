"""Delivery rounds over the outbox: per-URL progress, order, retries with backoff, digests.

A row leaves the outbox only after every URL of its target took it, so a crash between
sending and removing repeats one message at most, and never loses one. Each row keeps
the URLs it already reached, so a retry (alone or inside a digest) goes only where owed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedbridge.core.health import health_after_failure, health_after_success
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import HealthEvent
from feedbridge.core.wording import plural
from feedbridge.messages.templates import Message
from feedbridge.notify.attempts import Attempt, after_attempt, allowed, backoff, owed
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.digest import digest_due, digest_label, next_fire, render_digest
from feedbridge.store import LeaseLost, Notice, OutboxRow, Store, TargetState, health_notices

log = logging.getLogger("feedbridge.notify")

FAILURE_THRESHOLD = 3


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0  # attempts that failed this round (they stay queued)
    given_up: int = 0  # rows past their retry window, moved to the failed log
    more: bool = False  # the round stopped early to renew the target's lease

    def add(self, other: RoundResult) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.given_up += other.given_up


Render = Callable[[str, Sequence[OutboxRow]], Message]


class Notifier:
    """Works through each target's outbox oldest first, marking rows done only on success."""

    def __init__(
        self,
        channels: Sequence[TargetChannel],
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
            metrics.watch_queues(lambda: list(self.channels), store.pending_count)

    def replace_channels(self, channels: Sequence[TargetChannel]) -> None:
        """Deliver to these targets from now on (a live reload; a round ends as it began)."""
        self.channels = {c.name: c for c in channels}

    def health_notices(self, event: HealthEvent, exclude: str | None = None) -> list[Notice]:
        """The event for every target that asked for health events (logged once here)."""
        log.warning(
            "health event",
            extra={"subject": event.subject, "kind": event.kind, "detail": event.message},
        )
        return health_notices((c.name for c in self.channels.values() if c.health), event, exclude)

    async def deliver(
        self, *, respect_backoff: bool = True, stop: asyncio.Event | None = None
    ) -> RoundResult:
        """One round over every target; once `stop` is set no new message is started."""
        total = RoundResult()
        for channel in self.channels.values():
            if stop is not None and stop.is_set():
                break
            result = await self.deliver_target(channel, respect_backoff=respect_backoff, stop=stop)
            total.add(result)
        return total

    async def deliver_target(
        self,
        channel: TargetChannel,
        *,
        respect_backoff: bool = True,
        stop: asyncio.Event | None = None,
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
        channel: TargetChannel,
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
            if not allowed(channel.max_per_hour, state, now):
                break
            render: Render = lambda fmt, rows: channel.message(rows[0], fmt)  # noqa: E731
            if not await self._attempt(channel, [row], render, state, result, _label(row)):
                break
        if channel.digest is not None and result.failed == 0:
            rows = [d for d in pending if d.kind != "health"]
            await self._digest(channel, rows, state, result, respect_backoff)

    async def _attempt(
        self,
        channel: TargetChannel,
        rows: Sequence[OutboxRow],
        render: Render,
        state: dict[str, Any],
        result: RoundResult,
        label: Mapping[str, Any],
    ) -> bool:
        """Send `rows` (one row, or a digest's) to each URL that still owes some of them, and
        settle what that leaves (`attempts.after_attempt`). True when nothing stays queued
        (all sent, or given up); False when rows wait for a retry."""
        answers = await self._send(channel, rows, render, label)
        now = self.clock()
        attempt = after_attempt(rows, answers, len(channel.formats), now, channel.retry_window)
        if attempt.reason is None:
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
        notices = self._target_health(channel, state, attempt.error)
        self.store.settle(
            channel.name,
            TargetState.from_dict(state),
            done=attempt.finished,
            retry=attempt.retry,
            failed=attempt.expired,
            reason=attempt.reason,
            notices=notices,
            now=now,
        )
        result.given_up += len(attempt.expired)
        _log_failure(channel, attempt, label)
        return attempt.settled

    async def _send(
        self,
        channel: TargetChannel,
        rows: Sequence[OutboxRow],
        render: Render,
        label: Mapping[str, Any],
    ) -> dict[int, str | None]:
        """Each owed URL's answer: None when it took the message rendered from exactly the
        rows it has not taken yet, else why not."""
        sending = f"{channel.name}: " + ", ".join(f"{k} {v}" for k, v in label.items())
        self.sending.add(sending)
        try:
            return {
                index: await channel.send(index, render(channel.formats[index], these))
                for index, these in owed(rows, len(channel.formats)).items()
            }
        finally:
            self.sending.discard(sending)

    def _target_health(
        self, channel: TargetChannel, state: dict[str, Any], error: str | None
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
        channel: TargetChannel,
        rows: Sequence[OutboxRow],
        state: dict[str, Any],
        result: RoundResult,
        respect_backoff: bool,
    ) -> None:
        """Send the queued entries as one message when the digest's schedule says so."""
        spec = channel.digest
        assert spec is not None
        now = self.clock()
        if not digest_due(channel, state, rows, now, respect_backoff):
            return
        if not allowed(channel.max_per_hour, state, now):
            return
        at = datetime.fromtimestamp(now, spec.tz)
        label = digest_label(spec, float(state["last_digest"]), at, len(rows))
        render: Render = lambda fmt, owed: render_digest(channel, at, fmt, owed)  # noqa: E731
        if await self._attempt(channel, rows, render, state, result, label):
            state["last_digest"] = now
            state.pop("digest_next_at", None)
        else:
            state["digest_next_at"] = now + backoff(int(state.get("failures", 1)))


def queue_report(channel: TargetChannel, store: Store, now: float) -> str | None:
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


def _log_failure(channel: TargetChannel, attempt: Attempt, label: Mapping[str, Any]) -> None:
    what = {"target": channel.name, **label, "reason": attempt.reason}
    if attempt.expired:
        log.error("delivery given up", extra=what)
    else:
        attempts = max((r.attempts for r in attempt.retried), default=1)
        log.warning("delivery failed, will retry", extra={**what, "attempt": attempts})


def _label(row: OutboxRow) -> dict[str, str]:
    if row.kind == "health":
        return {"health": str(row.payload["subject"])}
    return {"entry": f"{row.payload.get('source')}:{row.payload.get('key')}"}
