"""What each Apprise service reads: the markup of its body and title, the mentions it would
ping, how long a message may be; and the URL as delivery uses it (with its overflow).

Apprise declares a body format per service and converts a CommonMark body into Slack's
mrkdwn or Telegram's Markdown itself; this module adds what it does not declare: Discord
and Mattermost render Markdown although Apprise sends them "text", Slack's mrkdwn needs
its own escaping, and which services put the title inside the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from feedbridge.config.fields import quiet_apprise
from feedbridge.messages.escape import Dialect, Markup, Mentions
from feedbridge.messages.templates import MESSAGE_FORMATS, Message

# Apprise sends these "text", and they render it as Markdown: Markdown with escaped values.
RENDERS_MARKDOWN = frozenset({"NotifyDiscord", "NotifyMattermost"})
# Read as is by machines or mail readers: no @-mention can ping anyone there.
VERBATIM = frozenset({"NotifyEmail", "NotifyJSON", "NotifyXML", "NotifyForm", "NotifyMQTT"})
UNLIMITED = 1_000_000  # a service taking more characters than this is not split by us
ROOM = 0.9  # of a service's limit, for what its own conversion adds (`&` → `&amp;`)

Fits = Callable[[Message], bool]


def plugin_for(url: str) -> Any:
    """The Apprise service object for `url`, or None when Apprise cannot parse it."""
    import apprise  # Apprise (and its plugins) load with the first target, not at start-up

    with quiet_apprise():
        return apprise.Apprise.instantiate(url)


def service_dialect(url: str, forced: str | None = None, plugin: Any = None) -> Dialect:
    """How the URL's service reads a message: the target's `format` or the URL's `?format=`,
    else the service's (Markdown for Discord and Mattermost); Slack's mrkdwn for Slack's
    Markdown; the title in the body's markup where the service puts it there."""
    plugin = plugin if plugin is not None else plugin_for(url)
    if plugin is None:
        return Dialect()
    service = type(plugin).__name__
    fmt = forced or _service_format(url, plugin)
    markup: Markup = "slack" if fmt == "markdown" and service == "NotifySlack" else fmt  # type: ignore[assignment]
    in_body = plugin.title_maxlen <= 0 or service == "NotifyDiscord"  # Discord: content
    mentions: Mentions = "keep" if _verbatim(plugin) else "word"
    if service == "NotifyDiscord":
        mentions = "all"  # Apprise reads any `@word` in a Discord embed as a ping
    return Dialect(markup, markup if in_body else "text", mentions)


def _verbatim(plugin: Any) -> bool:
    return any(cls.__name__ in VERBATIM for cls in type(plugin).__mro__)


def _service_format(url: str, plugin: Any) -> str:
    asked = "format" in parse_qs(urlsplit(url).query)
    if not asked and type(plugin).__name__ in RENDERS_MARKDOWN:
        return "markdown"
    # resolve_format honours a `?format=` on the URL, else the plugin's first notify_format
    value = str(plugin.resolve_format().value)
    return value if value in MESSAGE_FORMATS else "text"


def service_format(url: str) -> str:
    """The body format Apprise is told for the URL's service: HTML for email, Markdown for
    Slack, Discord and Mattermost, text for MQTT, ntfy and webhooks."""
    return service_dialect(url).body_format


def is_email(plugin: Any) -> bool:
    return any(cls.__name__ == "NotifyEmail" for cls in type(plugin).__mro__)


def with_overflow(url: str, mode: str) -> str:
    """Ask Apprise to split (or truncate) bodies longer than the service accepts."""
    if mode == "upstream" or "overflow=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}overflow={mode}"


def message_limit(plugin: Any) -> tuple[int, bool] | None:
    """The characters one message may have and whether its title counts in them; None for a
    service without a limit worth splitting for (email, MQTT)."""
    if plugin is None or is_email(plugin) or not 0 < plugin.body_maxlen < UNLIMITED:
        return None
    return plugin.body_maxlen, plugin.title_maxlen <= 0 or plugin.overflow_amalgamate_title


def fits_for(plugin: Any, overflow: str) -> Fits | None:
    """Whether a message fits the service whole (with room for its own conversion), for
    splitting a digest between entries; None when nothing is split (`upstream`)."""
    limit = message_limit(plugin)
    if overflow == "upstream" or limit is None:
        return None
    length, title_counts = limit
    room = int(length * ROOM)
    return lambda m: len(m.body) + (len(m.title) + 2 if title_counts else 0) <= room


def describe_delivery(plugin: Any, dialect: Dialect, overflow: str) -> str:
    """One URL's effective settings as `check` and `notify-test` print them."""
    shown = dialect.describe()
    limit = message_limit(plugin)
    if limit is None:
        return f"{shown}, sent whole"
    how = {
        "split": "digests split between entries, a longer entry at a line break",
        "truncate": "digests keep the entries that fit, a longer entry is cut",
        "upstream": "longer ones are sent as they are",
    }[overflow]
    return f"{shown}, overflow {overflow} ({limit[0]:,} characters a message: {how})"
