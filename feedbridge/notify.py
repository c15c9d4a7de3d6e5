"""Apprise delivery of the outbox: per-URL results, order, retries with backoff, digests.

A row leaves the outbox only after Apprise reported success for every URL of
its target, so a crash between sending and removing repeats one message at
most, and never loses one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import apprise
from croniter import croniter

from feedbridge.durations import DigestSpec
from feedbridge.health import health_after_failure, health_after_success
from feedbridge.metrics import Metrics
from feedbridge.models import Entry, HealthEvent
from feedbridge.store import Delivery, Store
from feedbridge.templates import Message, digest_message, entry_message

log = logging.getLogger("feedbridge.notify")
logging.getLogger("apprise").setLevel(logging.WARNING)  # its DEBUG lines print tokens

BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
FAILURE_THRESHOLD = 3

_FORMATS = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
}
_EMAIL_SCHEMES = {"mailto", "mailtos"}


def default_format(urls: Sequence[str]) -> str:
    """HTML for email targets, Markdown for chat services."""
    schemes = {u.split(":", 1)[0].lower() for u in urls}
    return "html" if schemes and schemes <= _EMAIL_SCHEMES else "markdown"


def with_overflow(url: str, mode: str) -> str:
    """Ask Apprise to split (or truncate) bodies longer than the service accepts."""
    if mode == "upstream" or "overflow=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}overflow={mode}"


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: exponential from 30 s, capped at 1 h, jittered."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return float(delay / 2 + (rng or random).random() * delay / 2)


def entry_payload(entry: Entry, now: float) -> dict[str, Any]:
    return {"type": "entry", "entry": entry.to_dict(), "queued_at": now, "attempts": 0}


def health_payload(event: HealthEvent, now: float) -> dict[str, Any]:
    return {
        "type": "health",
        "event": {
            "subject": event.subject,
            "kind": event.kind,
            "message": event.message,
            "at": event.at.isoformat(),
        },
        "queued_at": now,
        "attempts": 0,
    }


@dataclass
class Channel:
    """One configured target: its Apprise URLs (one Apprise object each) and how it sends."""

    name: str
    urls: list[str]
    format: str = "markdown"
    title_template: str | None = None
    body_template: str | None = None
    retry_window: float = 86400.0
    health: bool = False
    digest: DigestSpec | None = None
    digest_empty: bool = False
    top: int | None = None
    max_per_hour: int | None = None
    overflow: str = "split"
    _apprise: list[apprise.Apprise] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for url in self.urls:
            obj = apprise.Apprise()
            obj.add(with_overflow(url, self.overflow))
            self._apprise.append(obj)

    def render(self, payload: Mapping[str, Any]) -> Message:
        """The message for one outbox row."""
        if payload.get("type") == "health":
            event = payload["event"]
            return Message(
                f"feedbridge: {event['subject']} {event['kind']}", event["message"], "text"
            )
        entry = Entry.from_dict(payload["entry"])
        return entry_message(entry, self.format, self.title_template, self.body_template)

    async def send(self, message: Message, skip: Iterable[int] = ()) -> dict[int, str | None]:
        """Send to each URL not in `skip`; maps URL index to None (success) or Apprise's reason."""
        results: dict[int, str | None] = {}
        skipped = set(skip)
        for index, obj in enumerate(self._apprise):
            if index in skipped:
                continue
            result = await obj.async_notify(
                body=message.body, title=message.title, body_format=_FORMATS[message.body_format]
            )
            if result:
                results[index] = None
            else:
                reasons = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
                results[index] = "; ".join(reasons[-3:]) or "delivery failed"
        return results


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0  # attempts that failed this round (they stay queued)
    given_up: int = 0  # rows past their retry window, moved to the failed log


class Notifier:
    """Works through each target's outbox oldest first, marking rows done only on success."""

    def __init__(
        self,
        channels: Sequence[Channel],
        store: Store,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self.channels = {c.name: c for c in channels}
        self.store = store
        self.clock = clock
        self.metrics = metrics
        if metrics is not None:
            metrics.watch_queues(self.channels, store.pending_count)

    def raise_health(self, event: HealthEvent, exclude: str | None = None) -> None:
        """Queue a health event to every target that asked for them."""
        log.warning(
            "health event",
            extra={"subject": event.subject, "kind": event.kind, "detail": event.message},
        )
        for channel in self.channels.values():
            if channel.health and channel.name != exclude:
                self.store.enqueue(channel.name, health_payload(event, self.clock()))

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
        result = RoundResult()
        state = self.store.state("target", channel.name)
        pending = self.store.pending(channel.name)
        singles = (
            pending
            if channel.digest is None
            else [d for d in pending if d.payload.get("type") == "health"]
        )
        for delivery in singles:
            if stop is not None and stop.is_set():
                break
            now = self.clock()
            if respect_backoff and delivery.payload.get("next_at", 0) > now:
                break
            if not self._allowed(channel, state, now):
                break
            ok = await self._attempt(
                channel, delivery, [delivery], channel.render(delivery.payload), state, result
            )
            if not ok:
                break
        if channel.digest is not None and result.failed == 0:
            rows = [d for d in pending if d.payload.get("type") != "health"]
            await self._digest(channel, rows, state, result, respect_backoff)
        self.store.save_state("target", channel.name, state)
        return result

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
        lead: Delivery,
        rows: Sequence[Delivery],
        message: Message,
        state: dict[str, Any],
        result: RoundResult,
    ) -> bool:
        """Send `message` for `rows` (one row, or a digest's); True when every URL took it."""
        payload = lead.payload
        outcome = await channel.send(message, skip=payload.get("done", []))
        now = self.clock()
        errors = [r for r in outcome.values() if r is not None]
        if not errors:
            with self.store.transaction():
                for row in rows:
                    self.store.complete(row)
                if channel.max_per_hour is not None:
                    state.setdefault("sent_times", []).append(now)
                self._target_health(channel, state, None)
            result.sent += 1
            if self.metrics is not None:
                self.metrics.sent.labels(channel.name).inc()
            log.info(
                "delivered",
                extra={"target": channel.name, "item": _label(payload), "rows": len(rows)},
            )
            return True
        result.failed += 1
        if self.metrics is not None:
            self.metrics.failed.labels(channel.name).inc()
        reason = "; ".join(errors)
        done = sorted({*payload.get("done", []), *(i for i, r in outcome.items() if r is None)})
        attempts = int(payload.get("attempts", 0)) + 1
        if now - float(payload.get("queued_at", now)) > channel.retry_window:
            with self.store.transaction():
                for row in rows:
                    self.store.record_failed(row, reason)
                self._target_health(channel, state, f"gave up after {attempts} tries: {reason}")
            result.given_up += len(rows)
            log.error(
                "delivery given up",
                extra={"target": channel.name, "item": _label(payload), "reason": reason},
            )
            return True  # the row is gone; later rows may go on
        with self.store.transaction():
            if lead.id:
                self.store.update_delivery(
                    lead,
                    {
                        **payload,
                        "attempts": attempts,
                        "done": done,
                        "next_at": now + backoff(attempts),
                        "last_error": reason,
                    },
                )
            self._target_health(channel, state, reason)
        log.warning(
            "delivery failed, will retry",
            extra={
                "target": channel.name,
                "item": _label(payload),
                "reason": reason,
                "attempt": attempts,
            },
        )
        return False

    def _target_health(self, channel: Channel, state: dict[str, Any], error: str | None) -> None:
        subject = f"target {channel.name}"
        at = datetime.fromtimestamp(self.clock(), UTC)
        if error is None:
            health = health_after_success(state, subject, at)
        else:
            health = health_after_failure(state, subject, error, at, FAILURE_THRESHOLD)
        state.clear()
        state.update(health.state)
        if health.event is not None:
            self.raise_health(health.event, exclude=channel.name)

    async def _digest(
        self,
        channel: Channel,
        rows: Sequence[Delivery],
        state: dict[str, Any],
        result: RoundResult,
        respect_backoff: bool,
    ) -> None:
        """Send the queued entries as one message when the digest's schedule says so."""
        assert channel.digest is not None
        now = self.clock()
        last = state.get("last_digest")
        if last is None:
            state["last_digest"] = now  # the first digest covers what arrives from now on
            return
        if next_fire(channel.digest, float(last)) > now:
            return
        if respect_backoff and state.get("digest_next_at", 0) > now:
            return
        if not rows and not channel.digest_empty:
            state["last_digest"] = now
            return
        if not self._allowed(channel, state, now):
            return
        entries = [Entry.from_dict(r.payload["entry"]) for r in rows]
        message = digest_message(
            entries, channel.format, channel.top, datetime.fromtimestamp(now, channel.digest.tz)
        )
        lead = rows[0] if rows else Delivery("", channel.name, {"type": "digest"})
        if await self._attempt(channel, lead, rows, message, state, result):
            state["last_digest"] = now
            state.pop("digest_next_at", None)
        else:
            state["digest_next_at"] = now + backoff(int(state.get("failures", 1)))


def next_fire(spec: DigestSpec, after: float) -> float:
    """Epoch seconds of the digest's first scheduled time after `after`."""
    start = datetime.fromtimestamp(after, spec.tz)
    fire: datetime = croniter(spec.cron, start).get_next(datetime)
    return fire.timestamp()


def _label(payload: Mapping[str, Any]) -> str:
    if payload.get("type") == "health":
        return f"health:{payload['event']['subject']}"
    if payload.get("type") == "digest":
        return "digest"
    entry = payload.get("entry", {})
    return f"{entry.get('source')}:{entry.get('key')}"
