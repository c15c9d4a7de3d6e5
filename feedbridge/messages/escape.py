"""Values from a source, escaped for where a message lands; only a template's own text is markup.

A `Dialect` says how one service reads a message: the body format Apprise is told
(`text`, `markdown`, `html`), the markup a value is escaped for in the body and in the
title, and whether @-mentions in values are defused. Apprise converts a CommonMark body
into each chat service's own syntax (Slack's mrkdwn, Telegram's Markdown), so a value is
escaped as CommonMark for Discord, Mattermost and Telegram, and for Slack in the forms that
survive that conversion (Slack itself has no escape for `*_~`, so those become look-alike
characters, as jsx-slack's `<Escape>` does). HTML is escaped by Jinja2's autoescape.

Mentions are defused with a zero-width space after the `@` (discord.py's `escape_mentions`):
`@everyone`, `@here`, `<@&123>` and `@channel` then show as written and ping no one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Markup = Literal["text", "markdown", "slack", "html"]
Mentions = Literal["keep", "word", "all"]

BODY_FORMAT: dict[str, str] = {  # the body format Apprise is told, per markup
    "text": "text",
    "markdown": "markdown",
    "slack": "markdown",
    "html": "html",
}
MARKUP_NAMES = {
    "text": "plain text",
    "markdown": "Markdown",
    "slack": "Slack mrkdwn",
    "html": "HTML",
}


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one URL's service reads a message: the markup values are escaped for in the body
    and in the title (the body's, where the service shows the title inside the body), and
    which @-mentions in values are defused (`word`: at a word's start, `all`: every one)."""

    markup: Markup = "text"
    title_markup: Markup = "text"
    mentions: Mentions = "keep"

    @property
    def body_format(self) -> str:
        return BODY_FORMAT[self.markup]

    @classmethod
    def of(cls, fmt: str | Dialect) -> Dialect:
        """A format's plain dialect (a webhook's): values escaped for it, mentions kept."""
        if isinstance(fmt, Dialect):
            return fmt
        if fmt not in ("text", "markdown", "html"):
            raise ValueError(f"unknown message format {fmt!r}")
        return cls(markup=fmt)  # type: ignore[arg-type]

    def describe(self) -> str:
        """What `check` and `notify-test` say: the body format and, where it differs, how."""
        shown = MARKUP_NAMES[self.markup]
        if self.markup == "slack":
            shown = "markdown (Slack mrkdwn)"
        elif self.markup == "markdown":
            shown = "markdown"
        elif self.markup in ("text", "html"):
            shown = self.markup
        if self.mentions != "keep":
            shown += ", mentions defused"
        return shown


class Url(str):
    """A link from a source: escaped as a URL (never with backslashes), wherever it lands."""

    __slots__ = ()


# A bare URL in text is left whole (a backslash inside it would break the link readers
# make of it); it stops at characters that are markup and never part of a usual URL.
_URL = re.compile(r"https?://[^\s<>*~|`\[\]\\]*[^\s<>*~|`\[\]\\.,:;\"')!?]")
_MARKDOWN = re.compile(r"[\\*_~`\[\]<>|]|&(?=#?[0-9A-Za-z]+;)")  # `&` only where it is an entity
_MARKDOWN_MARKER = re.compile(r"(?m)^([ \t]*)([#+=-])")  # a heading, list item, underline
_MARKDOWN_NUMBER = re.compile(r"(?m)^([ \t]*\d+)(?=[.)])")  # an ordered list item
_LINE_OPENERS = frozenset(" \t#+=-\\0123456789")  # a value starting so may open a block
_SLACK = re.compile(r"[\[\]<>]")  # after the look-alikes below
_SLACK_LOOKALIKE = str.maketrans(
    {
        "*": "\u2217",  # asterisk operator
        "_": "\u02cd",  # modifier letter low macron
        "~": "\u223c",  # tilde operator
        "`": "\u02cb",  # modifier letter grave accent
        "\\": "\u2216",  # set minus: Apprise's converter would read a backslash as an escape
    }
)
_SLACK_HEADING = re.compile(r"(?m)^([ \t]*)#")
_SLACK_QUOTE = re.compile(r"(?m)^([ \t]*)\\>")
_MENTION = {
    "word": re.compile(r"(?<![\w.+-])@(?=[\w&!#])"),
    "all": re.compile(r"@(?=[\w&!#])"),
}
_URL_UNSAFE = "()<>[]\\|`\"' "
_URL_HEAD = re.compile(r"(https?://[^/?#\s]+)(.*)", re.S | re.I)
_URL_QUOTE = str.maketrans(
    {c: f"%{ord(c):02X}" for c in _URL_UNSAFE} | {chr(i): f"%{i:02X}" for i in range(32)}
)
_URL_QUOTE_AT = str.maketrans({"@": "%40"})


def defuse_mentions(text: str, mentions: Mentions) -> str:
    """`@everyone` → `@\u200beveryone`: shown the same, pinging no one."""
    if mentions == "keep" or "@" not in text:
        return text
    return _MENTION[mentions].sub("@\u200b", text)


def escape_markdown(text: str) -> str:
    """CommonMark: a backslash before each character that could start markup, and before
    a line start that would make a heading, list item or setext underline."""
    escaped = _MARKDOWN.sub(r"\\\g<0>", text)
    if "\n" not in escaped and escaped[:1] not in _LINE_OPENERS:
        return escaped
    escaped = _MARKDOWN_MARKER.sub(r"\1\\\2", escaped)
    return _MARKDOWN_NUMBER.sub(r"\1\\", escaped)


def escape_slack(text: str) -> str:
    """For a Slack body Apprise converts from CommonMark: `<`, `>`, `[`, `]` escaped (they
    arrive as `&lt;`, `&gt;` and plain brackets), `*_~`, backquote and backslash as
    look-alikes (Slack has no escape for them), a heading's `#` escaped and a quote's `>`
    behind a soft hyphen at a line start (as jsx-slack does)."""
    escaped = _SLACK.sub(r"\\\g<0>", text.translate(_SLACK_LOOKALIKE))
    if "\n" not in escaped and escaped[:1] not in _LINE_OPENERS:
        return escaped
    escaped = _SLACK_HEADING.sub(r"\1\\#", escaped)
    return _SLACK_QUOTE.sub("\\1\u00ad\\\\>", escaped)


def escape_url(url: str, markup: Markup, mentions: Mentions = "keep") -> str:
    """A link for a Markdown `[label](url)`, Slack's `<url|label>` or bare: the characters
    that would end or break it percent-encoded after the host (the link stays the same);
    for `all` mentions an `@` too (Apprise reads `@word` in a Discord embed as a ping)."""
    if markup not in ("markdown", "slack"):
        return url
    match = _URL_HEAD.fullmatch(url)
    if match is None:
        return _escape_text(url, markup, mentions)
    tail = match[2].translate(_URL_QUOTE)
    return match[1] + (tail.translate(_URL_QUOTE_AT) if mentions == "all" else tail)


def _escape_text(text: str, markup: Markup, mentions: Mentions) -> str:
    text = defuse_mentions(text, mentions)
    if markup == "markdown":
        return escape_markdown(text)
    if markup == "slack":
        return escape_slack(text)
    return text


def escape_value(value: Any, markup: Markup, mentions: Mentions) -> str:
    """One value a template prints, as text of `markup`; a bare URL inside it is left whole
    (a backslash would break the link a reader makes of it). HTML is left to autoescape."""
    if isinstance(value, Url):
        return escape_url(value, markup, mentions)
    text = str(value)
    if markup in ("text", "html"):
        return defuse_mentions(text, mentions)
    if "://" not in text:
        return _escape_text(text, markup, mentions)
    out, start = [], 0
    for match in _URL.finditer(text):
        out.append(_escape_text(text[start : match.start()], markup, mentions))
        span = match[0]  # kept whole in text: nothing in it closes a link or starts markup
        out.append(span.replace("@", "%40") if mentions == "all" else span)
        start = match.end()
    out.append(_escape_text(text[start:], markup, mentions))
    return "".join(out)
