"""Delivery rounds over the outbox: per-URL progress, order, retries with backoff, digests.

A row leaves the outbox only after every URL of its target took it, so a crash between
sending and removing repeats one message at most, and never loses one. Each row keeps
the URLs it already reached, so a retry (alone or inside a digest) goes only where owed.
Store calls run off the event loop (`store.run`). A round reads a batch of the oldest rows;
on a shared store each send is preceded by a check of the target's lease (`hold`), and an
attempt's outcome is written again and again while the store is away, since a message that
went out and stayed queued would be sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedbridge.core.errors import StoreError
from feedbridge.core.health import health_after_failure, health_after_success
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import HealthEvent
from feedbridge.core.wording import plural
from feedbridge.messages.templates import Message
from feedbridge.notify.attempts import Attempt, after_attempt, allowed, backoff, owed
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.digest import digest_due, digest_label, next_fire
from feedbridge.store import (
    LeaseLost,
    Notice,
    OutboxRow,
    Store,
    StoreUnavailable,
    Streak,
    TakenOver,
    TargetState,
    health_notices,
)

log = logging.getLogger("feedbridge.notify")

FAILURE_THRESHOLD = 3
BATCH = 100  # rows a round reads at once: draining a long queue never re-reads all of it
DIGEST_ROWS = 10_000  # a digest's entries are read at once (they make one message)
SETTLE_RETRY = 0.25  # seconds between tries to write an attempt's outcome to a slow store


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0  # attempts that failed this round (they stay queued)
    given_up: int = 0  # rows past their retry window, moved to the failed log
    more: bool = False  # the round went through a full batch: the target may have more

    def add(self, other: RoundResult) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.given_up += other.given_up


Render = Callable[[int, Sequence[OutboxRow]], list[Message]]  # URL index, rows → messages


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
        self.abandoned: set[str] = set()  # sends cancelled while their thread still ran
        self._template_problems: set[tuple[str, str]] = set()  # (target, template) reported
        self._streaks = {name: Streak("delivering") for name in self.channels}
        self._checked: dict[str, float] = {}  # target -> when a settle last checked its lease
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
        """One round over every target, the targets at once (each in its own order, so a slow
        or failing target does not hold the others up); once `stop` is set no new message is
        started. A target the store fails for is left for the next round; when the store is
        down the round ends with StoreUnavailable, once every target stopped."""
        rounds = [
            self._round(channel, respect_backoff, stop) for channel in self.channels.values()
        ]
        total, down = RoundResult(), None
        for result in await asyncio.gather(*rounds):
            if isinstance(result, StoreUnavailable):
                down = result
            else:
                total.add(result)
        if down is not None:
            raise down
        return total

    async def _round(
        self, channel: TargetChannel, respect_backoff: bool, stop: asyncio.Event | None
    ) -> RoundResult | StoreUnavailable:
        """One target's round; the store's failures are logged (once while they last)."""
        if stop is not None and stop.is_set():
            return RoundResult()
        try:
            result = await self.deliver_target(channel, respect_backoff=respect_backoff, stop=stop)
        except StoreUnavailable as exc:
            return exc
        except StoreError as exc:
            self._streaks[channel.name].failed(exc, target=channel.name)
            return RoundResult()
        self._streaks[channel.name].ok(target=channel.name)
        return result

    async def deliver_target(
        self,
        channel: TargetChannel,
        *,
        respect_backoff: bool = True,
        stop: asyncio.Event | None = None,
    ) -> RoundResult:
        """One round for one target: single messages in order, a batch at a time, then its
        digest if due."""
        result = RoundResult(more=True)
        limit = BATCH if channel.digest is None else DIGEST_ROWS
        store = self.store
        while result.more:
            result.more = False
            self._checked.pop(channel.name, None)  # a new batch: its first send checks the lease
            try:
                pending = await store.run(
                    store.claim_due, channel.name, self.clock(), limit, self.lease
                )
            except LeaseLost:
                return result  # another node delivers this target
            except TakenOver as exc:  # ours now, once the previous holder's last settle landed
                log.info("target taken over", extra={"target": channel.name, "wait_s": exc.wait})
                await asyncio.sleep(exc.wait)
                result.more = True
                continue
            state = (await store.run(store.target_state, channel.name)).to_dict()
            try:
                through = await self._deliver_rows(
                    channel, pending, state, result, respect_backoff, stop
                )
                await store.run(store.save_target_state, channel.name, TargetState.from_dict(state))
            except LeaseLost as exc:
                log.warning("target lease lost", extra={"target": channel.name, "error": str(exc)})
                return result
            result.more = through and len(pending) == limit and channel.digest is None
        return result

    async def _deliver_rows(
        self,
        channel: TargetChannel,
        pending: Sequence[OutboxRow],
        state: dict[str, Any],
        result: RoundResult,
        respect_backoff: bool,
        stop: asyncio.Event | None,
    ) -> bool:
        """Single messages in order, then the digest if due. True when every single message
        was settled (the next batch may follow)."""
        singles = pending if channel.digest is None else [d for d in pending if d.kind == "health"]
        for row in singles:
            if stop is not None and stop.is_set():
                return False
            now = self.clock()
            if respect_backoff and row.next_at > now:
                return False
            if not allowed(channel.max_per_hour, state, now):
                return False
            render: Render = lambda index, rows: channel.row_messages(index, rows[0])  # noqa: E731
            if not await self._attempt(channel, [row], render, state, result, _label(row)):
                return False
        if channel.digest is not None and result.failed == 0:
            rows = [d for d in pending if d.kind != "health"]
            await self._digest(channel, rows, state, result, respect_backoff)
        return True

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
        await self._hold(channel)
        answers = await self._send(channel, rows, render, label)
        now = self.clock()
        attempt = after_attempt(rows, answers, len(channel.dialects), now, channel.retry_window)
        if attempt.reason is None:
            if channel.max_per_hour is not None:
                state.setdefault("sent_times", []).append(now)
            notices = self._target_health(channel, state, None)
            await self._settle(
                channel, TargetState.from_dict(state), done=rows, notices=notices, hold=self.lease
            )
            result.sent += 1
            if self.metrics is not None:
                self.metrics.sent.labels(channel.name).inc()
            log.info("delivered", extra={"target": channel.name, **label})
            return True
        result.failed += 1
        if self.metrics is not None:
            self.metrics.failed.labels(channel.name).inc()
        notices = self._target_health(channel, state, attempt.error)
        await self._settle(
            channel,
            TargetState.from_dict(state),
            done=attempt.finished,
            retry=attempt.retry,
            failed=attempt.expired,
            reason=attempt.reason,
            notices=notices,
            now=now,
            hold=self.lease,
        )
        result.given_up += len(attempt.expired)
        _log_failure(channel, attempt, label)
        return attempt.settled

    async def _hold(self, channel: TargetChannel) -> None:
        """Before a send on a shared store: the target's lease checked and extended by the store
        (`hold`), unless the attempt just settled did so less than a third of a lease ago."""
        checked = self._checked.pop(channel.name, None)
        if not self.store.shared or (
            checked is not None and time.monotonic() - checked < self.lease / 3
        ):
            return
        await self.store.run(self.store.hold, channel.name, self.lease)

    async def _settle(self, channel: TargetChannel, state: TargetState, **outcome: Any) -> None:
        """Write an attempt's outcome (`store.settle`, which also checks and extends the lease
        for the next send), trying again while the store is down or slow: the message went
        out, and a row left queued would be sent again. LeaseLost passes (the delivered rows
        were removed all the same)."""
        store, failing = self.store, False
        while True:
            try:
                await store.run(store.settle, channel.name, state, **outcome)
                self._checked[channel.name] = time.monotonic()
            except LeaseLost:
                raise
            except StoreError as exc:
                if not failing and not isinstance(exc, StoreUnavailable):
                    log.warning(
                        "saving a delivery failed, will try again",
                        extra={"target": channel.name, "error": str(exc)},
                    )
                failing = True
                await asyncio.sleep(max(SETTLE_RETRY, store.status.retry_in()))
                continue
            if failing:
                log.info("delivery saved", extra={"target": channel.name})
            return

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
        answers: dict[int, str | None] = {}
        try:
            for index, these in owed(rows, len(channel.dialects)).items():
                # off the event loop: a template may take up to its bounds, a digest's split
                # several renders (pure Python, so the loop keeps its turns meanwhile)
                messages = await asyncio.to_thread(render, index, these)
                for message in messages:
                    self._check_template(channel, message, label)
                answers[index] = await channel.send(index, messages)
            return answers
        except asyncio.CancelledError:
            self.abandoned.add(sending)  # Apprise's thread may still be sending it
            raise
        finally:
            self.sending.discard(sending)

    def _check_template(
        self, channel: TargetChannel, message: Message, label: Mapping[str, Any]
    ) -> None:
        """A target's template that failed on this message (the built-in one was used):
        logged, and raised as a health alert, once per template while the process runs."""
        if message.problem is None:
            return
        seen = (channel.name, message.problem.split(":", 1)[0])
        if seen not in self._template_problems:
            self._template_problems.add(seen)
            event = _template_failed(channel.name, message.problem, label, self.clock())
            self.store.enqueue(self.health_notices(event), self.clock())

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
        render: Render = lambda index, owed: channel.digest_messages(index, at, owed)  # noqa: E731
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


def _template_failed(
    target: str, problem: str, label: Mapping[str, Any], now: float
) -> HealthEvent:
    """The log line and the health event of a target's template that failed on a message."""
    log.warning(
        "template failed, using the built-in one",
        extra={"target": target, **label, "error": problem},
    )
    template, _, error = problem.partition(": ")
    what = ", ".join(f"{k} {v}" for k, v in label.items())
    text = (
        f"target {target}: its {template} template failed on {what} ({error}); sent with "
        f"the built-in {template} template until the config is fixed"
    )
    return HealthEvent(
        f"target {target}", "template failed", text, datetime.fromtimestamp(now, UTC)
    )


def _label(row: OutboxRow) -> dict[str, str]:
    if row.kind == "health":
        return {"health": str(row.payload["subject"])}
    return {"entry": f"{row.payload.get('source')}:{row.payload.get('key')}"}
