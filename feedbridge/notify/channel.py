"""One target's way out: its Apprise URLs and how each service reads a message, the messages
for an outbox row or a digest, and one send to one URL (with Apprise's reason when it fails).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from feedbridge.config.fields import mask_url
from feedbridge.config.models import TargetConfig
from feedbridge.core.durations import DigestSpec
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.messages.digest import digest_messages
from feedbridge.messages.escape import Dialect
from feedbridge.messages.templates import Message, Templates, entry_message, health_message
from feedbridge.notify.services import (
    describe_delivery,
    fits_for,
    is_email,
    plugin_for,
    service_dialect,
    with_overflow,
)
from feedbridge.store import OutboxRow

if TYPE_CHECKING:
    import apprise

logging.getLogger("apprise").setLevel(logging.WARNING)  # its DEBUG lines print tokens


def _event(row: OutboxRow) -> HealthEvent:
    p = row.payload
    return HealthEvent(p["subject"], p["kind"], p["message"], datetime.fromisoformat(p["at"]))


@dataclass
class TargetChannel:
    """One target as the notifier sends to it: its Apprise URLs (one Apprise object each)
    and how it sends. The same target is `TargetConfig` in the config, `TargetState` in the
    store (its delivery health) and `TargetRule`/`TargetView` in the poll (its filter, marks).

    `format` None means each URL gets the format its service renders (`service_dialect`).
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
    dialects: list[Dialect] = field(default_factory=list, init=False)
    _apprise: list[apprise.Apprise] = field(default_factory=list, repr=False, init=False)
    _plugins: list[Any] = field(default_factory=list, repr=False, init=False)

    def __post_init__(self) -> None:
        import apprise

        for url in self.urls:
            plugin = plugin_for(url)
            obj = apprise.Apprise()
            obj.add(self._effective(url, plugin))
            self._apprise.append(obj)
            self._plugins.append(plugin)
            self.dialects.append(service_dialect(url, self.format, plugin))

    def _effective(self, url: str, plugin: Any) -> str:
        """The URL as delivery uses it: with the target's overflow (email is sent whole)."""
        return url if plugin is not None and is_email(plugin) else with_overflow(url, self.overflow)

    @property
    def formats(self) -> list[str]:
        """The body format each URL's service is sent."""
        return [d.body_format for d in self.dialects]

    def describe(self) -> list[tuple[str, str]]:
        """Each URL (secrets masked, as delivery uses it) and its effective settings; an
        email's URL without Apprise's `overflow=` (a mail is sent whole)."""
        shown = []
        for url, plugin, dialect in zip(self.urls, self._plugins, self.dialects, strict=True):
            masked = mask_url(self._effective(url, plugin))
            if plugin is not None and is_email(plugin):
                masked = re.sub(r"([?&])overflow=[^&]*(&|$)", r"\1", masked).rstrip("?&")
            shown.append((masked, describe_delivery(plugin, dialect, self.overflow)))
        return shown

    def message(self, row: OutboxRow, dialect: Dialect | str) -> Message:
        """The message for one outbox row, for a service reading `dialect`."""
        if row.kind == "health":
            return health_message(_event(row), dialect)
        return entry_message(Entry.from_dict(row.payload), dialect, self.templates)

    def row_messages(self, index: int, row: OutboxRow) -> list[Message]:
        """The message for one row, for the URL at `index`."""
        return [self.message(row, self.dialects[index])]

    def digest_messages(self, index: int, at: datetime, rows: Sequence[OutboxRow]) -> list[Message]:
        """The digest of the rows the URL at `index` still owes: one message, or parts split
        between entries where the service's limit calls for it."""
        entries = [Entry.from_dict(r.payload) for r in rows]
        return digest_messages(
            entries,
            self.dialects[index],
            self.top,
            at,
            self.templates,
            fits=fits_for(self._plugins[index], self.overflow),
            truncate=self.overflow == "truncate",
        )

    async def send(self, index: int, messages: Message | Sequence[Message]) -> str | None:
        """Send to the URL at `index` (a digest's parts in order); None on success, else why
        it failed (from Apprise)."""
        for message in [messages] if isinstance(messages, Message) else messages:
            reason = await self._send_one(index, message)
            if reason is not None:
                return reason
        return None

    async def _send_one(self, index: int, message: Message) -> str | None:
        from apprise import NotifyFormat

        from feedbridge.notify import mail  # it loads Apprise's email plugin

        plugin = self._plugins[index]
        if mail.handles(plugin):
            return await asyncio.to_thread(mail.send, plugin, message)
        result = await self._apprise[index].async_notify(
            body=message.body,
            title=message.title,
            body_format=NotifyFormat(message.body_format),
        )
        if result:
            return None
        reasons = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
        return "; ".join(reasons[-3:]) or "delivery failed"

    async def send_all(self, render: Callable[[Dialect], Message]) -> dict[int, str | None]:
        """Send one message, rendered per URL dialect, to every URL (for `notify-test`)."""
        return {i: await self.send(i, render(d)) for i, d in enumerate(self.dialects)}


def describe_urls(target: TargetConfig) -> list[tuple[str, str]]:
    """A configured target's URLs as `check` prints them: each as delivery uses it (masked),
    and what it sends (body format, mentions, overflow)."""
    channel = TargetChannel(target.name, target.urls(), format=target.format)
    channel.overflow = target.overflow
    return channel.describe()
