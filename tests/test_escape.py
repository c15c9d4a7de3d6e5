"""Escaping a source's values per markup, and ranking a digest: pure tables.

What the services finally receive (after Apprise's conversion) is checked in
tests/test_chat_receivers.py; these rows pin the escaping itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from feedbridge.core.models import Entry
from feedbridge.messages.digest import rank
from feedbridge.messages.escape import Url, escape_value
from feedbridge.messages.sandbox import render

Z = "\u200b"


@pytest.mark.parametrize(
    ("value", "markup", "mentions", "expected"),
    [
        # CommonMark (Discord, Mattermost, Telegram through Apprise)
        ("*star* _u_ ~s~ `c`", "markdown", "keep", r"\*star\* \_u\_ \~s\~ \`c\`"),
        ("[x](http://evil.example/)", "markdown", "keep", r"\[x\](http://evil.example/)"),
        ("a <b> | c", "markdown", "keep", r"a \<b\> \| c"),
        ("AT&T &amp; co", "markdown", "keep", r"AT&T \&amp; co"),
        ("# title\n- item\n2024. year", "markdown", "keep", "\\# title\n\\- item\n2024\\. year"),
        ("back\\slash", "markdown", "keep", "back\\\\slash"),
        ("see https://x.org/a_b_(c) now", "markdown", "keep", "see https://x.org/a_b_(c) now"),
        ("x https://x.org/a*b", "markdown", "keep", r"x https://x.org/a\*b"),
        # Slack: Apprise converts CommonMark to mrkdwn, which has no escape for *_~`
        ("*a* _u_ ~s~ `c`", "slack", "keep",
         "\u2217a\u2217 \u02cdu\u02cd \u223cs\u223c \u02cbc\u02cb"),
        ("<!channel> [x](y)", "slack", "keep", r"\<!channel\> \[x\](y)"),
        ("> quote\n# head", "slack", "keep", "\u00ad\\> quote\n\\# head"),
        ("see https://x.org/a_b", "slack", "keep", "see https://x.org/a_b"),
        # mentions: a zero-width space after the @, URLs and addresses left alone
        ("@everyone @here <@&123>", "text", "word", f"@{Z}everyone @{Z}here <@{Z}&123>"),
        ("mail a@b.org", "text", "word", "mail a@b.org"),
        ("mail a@b.org", "text", "all", f"mail a@{Z}b.org"),
        ("https://m.social/@al", "markdown", "word", "https://m.social/@al"),
        ("https://m.social/@al", "markdown", "all", "https://m.social/%40al"),
        ("@everyone", "html", "word", f"@{Z}everyone"),
        ("@everyone *x*", "text", "keep", "@everyone *x*"),
        # links printed as links: never backslashes, what would end them percent-encoded
        (Url("https://x.org/a_(b) c?q=<1>"), "markdown", "keep", "https://x.org/a_%28b%29%20c?q=%3C1%3E"),
        (Url("https://x.org/a|b"), "slack", "keep", "https://x.org/a%7Cb"),
        (Url("https://x.org/(a)"), "text", "keep", "https://x.org/(a)"),
        (Url("javascript:alert(1)"), "markdown", "keep", r"javascript:alert(1)"),
    ],
)  # fmt: skip
def test_a_value_is_escaped_for_where_it_lands(
    value: str, markup: str, mentions: str, expected: str
) -> None:
    assert escape_value(value, markup, mentions) == expected  # type: ignore[arg-type]


def test_only_the_templates_own_markup_is_markup() -> None:
    template = "**[{{ title }}]({{ link }})** {{ note|safe }}"
    context = {"title": "*a* ]", "link": Url("https://x.org/a)"), "note": "_on purpose_"}
    assert render(template, "markdown", context) == (
        r"**[\*a\* \]](https://x.org/a%29)** _on purpose_"
    )
    assert render("<b>{{ t }}</b>", "html", {"t": "<i>&"}) == "<b>&lt;i&gt;&amp;</b>"


def test_a_digest_ranks_by_score_then_newest_first_undated_last() -> None:
    def at(day: int) -> datetime:
        return datetime(2026, 5, day, tzinfo=UTC)

    base = Entry(source="s", key="k", title="t", link="")
    entries = [
        replace(base, key="old", published=at(1)),
        replace(base, key="undated"),
        replace(base, key="low", score=3, published=at(9)),
        replace(base, key="new", published=at(7)),
        replace(base, key="high", score=30, published=at(2)),
        replace(base, key="updated", updated=at(5)),
        replace(base, key="high-newer", score=30, published=at(4)),
    ]
    assert [e.key for e in rank(entries)] == [
        "high-newer", "high", "low", "new", "updated", "old", "undated"
    ]  # fmt: skip
