"""One target's way out: its Apprise URLs, the format each renders, the message for an outbox
row, and one send to one URL (with Apprise's reason when it fails)."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feedbridge.core.durations import DigestSpec
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.messages.templates import (
    MESSAGE_FORMATS,
    Message,
    Templates,
    entry_message,
    health_message,
)
from feedbridge.store import OutboxRow

if TYPE_CHECKING:
    import apprise

logging.getLogger("apprise").setLevel(logging.WARNING)  # its DEBUG lines print tokens


def service_format(url: str) -> str:
    """The body format the URL's Apprise service renders (its `?format=`, else the first of
    its plugin's notify_format): HTML for email, Markdown for Slack, text for MQTT and ntfy."""
    import apprise  # Apprise (and its plugins) load with the first target, not at start-up

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return "text"
    # resolve_format honours a `?format=` on the URL, else the plugin's first notify_format
    value = str(plugin.resolve_format().value)
    return value if value in MESSAGE_FORMATS else "text"


def with_overflow(url: str, mode: str) -> str:
    """Ask Apprise to split (or truncate) bodies longer than the service accepts."""
    if mode == "upstream" or "overflow=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}overflow={mode}"


def _event(row: OutboxRow) -> HealthEvent:
    p = row.payload
    return HealthEvent(p["subject"], p["kind"], p["message"], datetime.fromisoformat(p["at"]))


@dataclass
class TargetChannel:
    """One target as the notifier sends to it: its Apprise URLs (one Apprise object each)
    and how it sends. The same target is `TargetConfig` in the config, `TargetState` in the
    store (its delivery health) and `TargetRule`/`TargetView` in the poll (its filter, marks).

    `format` None means each URL gets the format its service renders (`service_format`).
    """

    name: str
    urls: list[str]
    format: str | None = None
    templates: Templates = field(default_factory=Templates)
    retry_window: float = 86400.0
    health: bool = False
    digest: DigestSpec | None = None
    digest_empty: bool = False
    top: int | None = None
    max_per_hour: int | None = None
    overflow: str = "split"
    formats: list[str] = field(default_factory=list, init=False)
    _apprise: list[apprise.Apprise] = field(default_factory=list, repr=False, init=False)
    _plugins: list[Any] = field(default_factory=list, repr=False, init=False)

    def __post_init__(self) -> None:
        import apprise

        for url in self.urls:
            obj = apprise.Apprise()
            obj.add(with_overflow(url, self.overflow))
            self._apprise.append(obj)
            self._plugins.append(apprise.Apprise.instantiate(url))
            self.formats.append(self.format or service_format(url))

    def message(self, row: OutboxRow, fmt: str) -> Message:
        """The message for one outbox row, in `fmt`."""
        if row.kind == "health":
            return health_message(_event(row), fmt)
        return entry_message(Entry.from_dict(row.payload), fmt, self.templates)

    async def send(self, index: int, message: Message) -> str | None:
        """Send to the URL at `index`; None on success, else why it failed (from Apprise)."""
        from apprise import NotifyFormat

        from feedbridge.notify import mail  # it loads Apprise's email plugin

        plugin = self._plugins[index]
        if mail.handles(plugin, message):
            return await asyncio.to_thread(mail.send, plugin, message)
        title = message.title
        if message.body_format == "html" and getattr(plugin, "title_maxlen", 1) <= 0:
            # Apprise puts the title into an HTML body as is (Telegram): it must be HTML too
            title = html.escape(title, quote=False)
        result = await self._apprise[index].async_notify(
            body=message.body,
            title=title,
            body_format=NotifyFormat(message.body_format),
        )
        if result:
            return None
        reasons = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
        return "; ".join(reasons[-3:]) or "delivery failed"

    async def send_all(self, render: Callable[[str], Message]) -> dict[int, str | None]:
        """Send one message, rendered per URL format, to every URL (for `notify-test`)."""
        return {i: await self.send(i, render(fmt)) for i, fmt in enumerate(self.formats)}
