"""Apprise delivery of the outbox: templates, per-URL results, retries with backoff."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import apprise
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from feedbridge.models import Entry, HealthEvent
from feedbridge.store import Store

log = logging.getLogger("feedbridge.notify")
logging.getLogger("apprise").setLevel(logging.WARNING)  # its DEBUG lines print tokens

BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0

_ENV = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=False)
_HTML_ENV = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=True)

DEFAULT_TITLE = "{{ title }}"
DEFAULT_BODY = {
    "text": (
        "{{ title }}\n"
        "{% if score is not none %}▲ {{ score|int }}{% endif %}"
        "{% if authors %} · {{ authors[:5]|join(', ') }}"
        "{% if authors|length > 5 %} et al.{% endif %}{% endif %}\n"
        "{% if ai_summary %}{{ ai_summary }}{% else %}{{ summary|truncate(400) }}{% endif %}\n"
        "{{ link }}"
        "{% if github %}\nCode: {{ github }}{% endif %}"
    ),
    "markdown": (
        "**[{{ title }}]({{ link }})**\n"
        "{% if score is not none %}▲ {{ score|int }}{% endif %}"
        "{% if authors %} · {{ authors[:5]|join(', ') }}"
        "{% if authors|length > 5 %} et al.{% endif %}{% endif %}\n"
        "{% if ai_summary %}{{ ai_summary }}{% else %}{{ summary|truncate(400) }}{% endif %}"
        "{% if arxiv_pdf %}\n[arXiv]({{ arxiv_abs }}) · [PDF]({{ arxiv_pdf }})"
        "{% if github %} · [Code]({{ github }}){% endif %}{% endif %}"
    ),
    "html": (
        '<h3><a href="{{ link }}">{{ title }}</a></h3>\n'
        "<p>{% if score is not none %}▲ {{ score|int }} upvotes{% endif %}"
        "{% if authors %} · {{ authors[:8]|join(', ') }}"
        "{% if authors|length > 8 %} et al.{% endif %}{% endif %}</p>\n"
        "<p>{{ summary|truncate(800) }}</p>\n"
        "{% if arxiv_pdf %}<p><a href=\"{{ arxiv_abs }}\">arXiv</a> · "
        "<a href=\"{{ arxiv_pdf }}\">PDF</a>"
        "{% if github %} · <a href=\"{{ github }}\">Code</a>{% endif %}</p>{% endif %}"
    ),
}
_FORMATS = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
}
_EMAIL_SCHEMES = ("mailto", "mailtos")


def default_format(urls: Sequence[str]) -> str:
    """HTML for email targets, Markdown for chat services."""
    schemes = {u.split(":", 1)[0].lower() for u in urls}
    return "html" if schemes and schemes <= set(_EMAIL_SCHEMES) else "markdown"


def entry_context(entry: Entry) -> dict[str, Any]:
    """The variables a title/body template sees."""
    context: dict[str, Any] = dict(entry.extras)
    context.update(
        title=entry.title,
        link=entry.link,
        summary=entry.summary,
        authors=list(entry.authors),
        score=entry.score,
        source=entry.source,
        key=entry.key,
        image=entry.image,
        published=entry.published,
        updated=entry.updated,
        extras=dict(entry.extras),
    )
    for name in ("ai_summary", "github", "arxiv_abs", "arxiv_pdf"):
        context.setdefault(name, None)
    return context


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    body_format: str


@dataclass
class Channel:
    """One configured target: its Apprise URLs (one Apprise object each) and templates."""

    name: str
    urls: list[str]
    format: str
    title_template: str = DEFAULT_TITLE
    body_template: str | None = None
    retry_window: float = 86400.0
    health: bool = False
    _apprise: list[apprise.Apprise] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for url in self.urls:
            obj = apprise.Apprise()
            obj.add(url)
            self._apprise.append(obj)

    def render(self, payload: Mapping[str, Any]) -> Message:
        """Turn an outbox payload into the message this target sends."""
        if payload.get("type") == "health":
            event = payload["event"]
            return Message(f"feedbridge: {event['kind']}", event["message"], "text")
        entry = Entry.from_dict(payload["entry"])
        env = _HTML_ENV if self.format == "html" else _ENV
        context = entry_context(entry)
        try:
            title = env.from_string(self.title_template).render(context)
            body = env.from_string(self.body_template or DEFAULT_BODY[self.format]).render(context)
        except TemplateError as exc:
            log.warning("template failed, using default", extra={"target": self.name, "err": exc})
            title = entry.title
            body = _ENV.from_string(DEFAULT_BODY["text"]).render(context)
            return Message(title.strip(), body.strip(), "text")
        return Message(title.strip(), body.strip(), self.format)

    async def send(self, message: Message, skip: Iterable[int] = ()) -> dict[int, str | None]:
        """Send to each URL not in `skip`; maps URL index to None (success) or the reason."""
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


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: exponential, capped, with full jitter on the upper half."""
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
class RoundResult:
    sent: int = 0
    failed: int = 0  # attempts that failed this round (will retry)
    given_up: int = 0  # deliveries past their retry window, recorded as failed


class Notifier:
    """Works through each target's outbox, in order, marking rows done only on success."""

    def __init__(self, channels: Sequence[Channel], store: Store) -> None:
        self.channels = {c.name: c for c in channels}
        self.store = store

    async def deliver(
        self, *, respect_backoff: bool = True, now: float | None = None
    ) -> RoundResult:
        total = RoundResult()
        for channel in self.channels.values():
            result = await self.deliver_target(channel, respect_backoff=respect_backoff, now=now)
            total.sent += result.sent
            total.failed += result.failed
            total.given_up += result.given_up
        return total

    async def deliver_target(
        self, channel: Channel, *, respect_backoff: bool = True, now: float | None = None
    ) -> RoundResult:
        """Send the target's queue oldest first; stop at the first failure to keep order."""
        result = RoundResult()
        for delivery in self.store.pending(channel.name):
            clock = now if now is not None else time.time()
            payload = delivery.payload
            if respect_backoff and payload.get("next_at", 0) > clock:
                break
            outcome = await channel.send(channel.render(payload), skip=payload.get("done", []))
            done = sorted({*payload.get("done", []), *(i for i, r in outcome.items() if r is None)})
            errors = [r for r in outcome.values() if r is not None]
            if not errors:
                self.store.complete(delivery)
                result.sent += 1
                log.info("delivered", extra={"target": channel.name, "item": _label(payload)})
                continue
            result.failed += 1
            attempts = int(payload.get("attempts", 0)) + 1
            reason = "; ".join(errors)
            if clock - float(payload.get("queued_at", clock)) > channel.retry_window:
                self.store.record_failed(delivery, reason)
                result.given_up += 1
                log.error(
                    "delivery given up",
                    extra={"target": channel.name, "item": _label(payload), "reason": reason},
                )
                continue
            self.store.update_delivery(
                delivery,
                {
                    **payload,
                    "attempts": attempts,
                    "done": done,
                    "next_at": clock + backoff(attempts),
                    "last_error": reason,
                },
            )
            log.warning(
                "delivery failed, will retry",
                extra={"target": channel.name, "item": _label(payload), "reason": reason},
            )
            break
        return result


def _label(payload: Mapping[str, Any]) -> str:
    if payload.get("type") == "health":
        return f"health:{payload['event']['subject']}"
    entry = payload.get("entry", {})
    return f"{entry.get('source')}:{entry.get('key')}"

