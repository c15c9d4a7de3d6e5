"""What Slack, Discord, Mattermost and Telegram receive, captured at a local endpoint.

Apprise's own plugins build each request; only the address they post to is moved to a
local HTTP server (each plugin's API base URL; Mattermost takes a host in its URL), so the
JSON asserted here is the body the service itself would get. The entry is hostile: a
scraped title and summary full of Markdown, Slack and HTML syntax, and mentions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.core.durations import parse_digest
from feedbridge.core.models import Entry
from feedbridge.messages.templates import Templates
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import entry_notice
from tests.test_messages import NOW, assert_golden, tricky
from tests.test_notify import Clock, papers

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general"
DISCORD = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
TELEGRAM = "tgram://123456789:abcdefg_hijklmnop/987654321"
ZWSP = "\u200b"

HOSTILE = Entry(
    source="blog",
    key="hostile",
    title="**[Win a prize](http://evil.example/)** <b>now</b> @everyone | *urgent*",
    link="https://blog.example/posts/a_(b)?x=1&y=2",
    summary=(
        "Read [this](http://evil.example/) and *star* _under_ ~strike~ `code` "
        "<!channel> <@&123456789012345678> @here <http://evil.example/|innocent> "
        "||spoiler|| > not a quote, see https://blog.example/a_b_c for more."
    ),
    authors=("@here", "Ada <Lovelace>"),
    score=12,
    published=datetime(2026, 5, 7, 9, 0, tzinfo=UTC),
)


@dataclass
class ChatApis:
    """One local server standing in for the Slack, Discord, Telegram and Mattermost APIs;
    `posts[service]` holds each JSON body in the order it arrived."""

    server: HTTPServer
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def handle(self, request: Request) -> Response:
        service = request.path.strip("/").split("/")[0]
        self.posts.setdefault(service, []).append(json.loads(request.get_data()))
        if service == "slack":
            return Response("ok")
        answer = '{"ok": true, "result": {"message_id": 1}}'
        return Response(answer, content_type="application/json")

    def mattermost(self) -> str:
        return f"mmost://127.0.0.1:{self.server.port}/mattermost/3ccdd113474722377935511fc8"

    def only(self, service: str) -> dict[str, Any]:
        (post,) = self.posts[service]
        return post


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatApis]:
    from apprise.plugins.discord import NotifyDiscord
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.telegram import NotifyTelegram

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    apis = ChatApis(server)
    server.expect_request(re.compile("^/"), method="POST").respond_with_handler(apis.handle)
    base = f"http://127.0.0.1:{server.port}"
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{base}/slack")
    monkeypatch.setattr(NotifyDiscord, "notify_url", f"{base}/discord")
    monkeypatch.setattr(NotifyTelegram, "notify_url", f"{base}/telegram/bot")
    yield apis
    server.clear()
    server.stop()


async def deliver(tmp_path: Path, channel: TargetChannel, *entries: Entry) -> None:
    with Store(tmp_path) as store:
        store.enqueue([entry_notice(channel.name, e, NOW) for e in entries], NOW)
        result = await Notifier([channel], store).deliver()
    assert result.sent == len(entries) and result.failed == 0


def no_ping(text: str) -> None:
    """No mention from the entry: each `@` of it is followed by a zero-width space."""
    assert not re.search(r"@(everyone|here|channel)\b", text), text
    assert "<@&" not in text and "@&123" not in text


def no_markdown_link(text: str) -> None:
    """No `[label](http://evil.example/)` from the entry is a Markdown link."""
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(http://evil", text), text


async def test_slack_gets_mrkdwn_where_only_the_template_makes_links_and_nobody_is_pinged(
    tmp_path: Path, chat: ChatApis
) -> None:
    await deliver(tmp_path, TargetChannel("slack", [SLACK]), HOSTILE)
    post = chat.only("slack")
    assert post["mrkdwn"] is True
    (attachment,) = post["attachments"]
    title, text = attachment["title"], attachment["text"]
    assert title == (
        "**[Win a prize](http://evil.example/)** &lt;b&gt;now&lt;/b&gt; "
        f"@{ZWSP}everyone | *urgent*"
    )  # a Slack attachment's title is plain text: shown as written
    no_ping(text)
    assert "<!channel>" not in text and not re.search(r"<http://evil\.example/?\|", text)
    assert "<https://blog.example/posts/a_%28b%29?x=1&amp;y=2|blog.example>" in text  # ours
    assert "&lt;!channel&gt;" in text and f"@{ZWSP}here" in text
    assert "*star*" not in text and "_under_" not in text and "~strike~" not in text
    assert "\u2217star\u2217 \u02cdunder\u02cd \u223cstrike\u223c \u02cbcode\u02cb" in text
    assert "[this](http://evil.example/)" in text  # shown as written, not a link
    assert "https://blog.example/a_b_c" in text  # a URL in the text stays whole
    assert "*12*" not in text and "▲ 12 · @\u200bhere, Ada &lt;Lovelace&gt;" in text


async def test_discord_gets_markdown_content_with_escaped_values_and_no_mentions(
    tmp_path: Path, chat: ChatApis
) -> None:
    channel = TargetChannel("discord", [DISCORD])
    assert channel.formats == ["markdown"]
    await deliver(tmp_path, channel, HOSTILE)
    post = chat.only("discord")
    assert "embeds" not in post and "allow_mentions" not in post and "allowed_mentions" not in post
    content = post["content"]
    title, _, body = content.partition("\r\n")
    assert title == (
        r"\*\*\[Win a prize\](http://evil.example/)\*\* \<b\>now\</b\> "
        rf"@{ZWSP}everyone \| \*urgent\*"
    )
    no_ping(body)
    no_markdown_link(body)
    assert "[blog.example](https://blog.example/posts/a_%28b%29?x=1&y=2)" in body
    assert r"\*star\* \_under\_ \~strike\~ \`code\`" in body
    assert rf"\<!channel\> \<@{ZWSP}&123456789012345678\> @{ZWSP}here" in body
    assert r"\|\|spoiler\|\|" in body and "https://blog.example/a_b_c " in body


async def test_a_discord_embed_carries_no_mentions_from_the_entry(
    tmp_path: Path, chat: ChatApis
) -> None:
    """In embed mode (`?format=markdown`) Apprise lists every `@word` of the body in
    `allow_mentions`: from the entry, none may reach it (an email address included)."""
    entry = replace(HOSTILE, summary=HOSTILE.summary + " Write to press@blog.example.")
    await deliver(tmp_path, TargetChannel("discord", [f"{DISCORD}?format=markdown"]), entry)
    post = chat.only("discord")
    assert "allow_mentions" not in post and "👉" not in post.get("content", ""), post
    (embed,) = post["embeds"]
    no_ping(embed["description"])
    no_markdown_link(embed["description"])


async def test_a_template_that_pings_on_purpose_still_pings(
    tmp_path: Path, chat: ChatApis
) -> None:
    templates = Templates(body="<@&42> new on the blog: {{ title }}")
    await deliver(tmp_path, TargetChannel("discord", [DISCORD], templates=templates), HOSTILE)
    body = chat.only("discord")["content"].partition("\r\n")[2]
    assert body.startswith("<@&42> new on the blog: \\*\\*\\[Win a prize")
    assert f"@{ZWSP}everyone" in body


async def test_mattermost_gets_markdown_with_escaped_values(
    tmp_path: Path, chat: ChatApis
) -> None:
    channel = TargetChannel("team", [chat.mattermost()])
    assert channel.formats == ["markdown"]
    await deliver(tmp_path, channel, HOSTILE)
    text = chat.only("mattermost")["text"]
    title, _, body = text.partition("\r\n")
    assert title.startswith(r"\*\*\[Win a prize\]") and f"@{ZWSP}everyone" in title
    no_ping(text)
    no_markdown_link(text)
    assert "[blog.example](https://blog.example/posts/a_%28b%29?x=1&y=2)" in body


@pytest.mark.parametrize("url", [TELEGRAM, f"{TELEGRAM}?format=markdown"], ids=["html", "md"])
async def test_telegram_gets_its_markup_with_escaped_values(
    tmp_path: Path, chat: ChatApis, url: str
) -> None:
    await deliver(tmp_path, TargetChannel("tg", [url]), HOSTILE)
    post = chat.only("telegram")
    text = post["text"]
    no_ping(text)
    if post["parse_mode"] == "HTML":  # no link but the template's <a>
        assert text.startswith(
            "<b>**[Win a prize](http://evil.example/)** &lt;b&gt;now&lt;/b&gt; "
            f"@{ZWSP}everyone | *urgent*</b>"
        )
        assert '<a href="https://blog.example/posts/a_(b)?x=1&amp;y=2">blog.example</a>' in text
        assert "&lt;!channel&gt;" in text and "<b>now</b>" not in text
        assert text.count("<a ") == 1
    else:
        assert post["parse_mode"] == "MARKDOWN"
        no_markdown_link(text)
        assert "[blog.example](https://blog.example/posts/a_%28b%29?x=1&y=2)" in text
        assert r"\*star\*" in text and r"\_under\_" in text and "[this]" not in text


@pytest.mark.parametrize(
    ("service", "limit"), [("discord", 2000), ("telegram", 4096), ("mattermost", 4000)]
)
async def test_a_long_entry_is_split_into_posts_the_service_accepts(
    tmp_path: Path, chat: ChatApis, service: str, limit: int
) -> None:
    url = {"discord": DISCORD, "telegram": TELEGRAM, "mattermost": chat.mattermost()}[service]
    long_entry = replace(HOSTILE, key="long", summary="word " * 1500)
    templates = Templates(body="{{ title }}\n{{ summary }}")
    await deliver(tmp_path, TargetChannel("chat", [url], templates=templates), long_entry)
    posts = chat.posts[service]
    assert len(posts) > 2, "the long body must be split into several posts"
    texts = [p.get("content") or p.get("text") or "" for p in posts]
    assert all(len(text) <= limit for text in texts)
    assert sum(text.count("word") for text in texts) == 1500, "nothing lost between posts"


def digest_entries(count: int) -> list[Entry]:
    """Entries whose lines are long enough that a digest of them needs several messages."""
    return [
        replace(
            HOSTILE,
            key=f"e{i}",
            title=f"Entry {i:02d}: " + "a long title that goes on " * 3,
            link=f"https://blog.example/{i}",
            authors=(),
            score=None,
            published=datetime(2026, 5, 1, tzinfo=UTC).replace(day=1 + i % 28, hour=i % 24),
        )
        for i in range(count)
    ]


async def test_a_long_discord_digest_is_split_between_entries_newest_first(
    tmp_path: Path, chat: ChatApis
) -> None:
    clock = Clock(NOW - 86400)
    digest = parse_digest("daily 08:00 Europe/Berlin")
    channel = TargetChannel("discord", [DISCORD], digest=digest)
    entries = digest_entries(30)
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        store.enqueue([entry_notice("discord", e, clock.now) for e in entries], clock.now)
        clock.now = NOW
        assert (await notifier.deliver()).sent == 1
    contents = [post["content"] for post in chat.posts["discord"]]
    assert len(contents) >= 3
    parts = len(contents)
    shown: list[str] = []
    for number, content in enumerate(contents, 1):
        assert len(content) <= 2000
        title, _, body = content.partition("\r\n")
        assert title == f"30 new entries · 2026-05-08 ({number}/{parts})"
        for block in body.split("\n\n"):  # each entry whole: number, title, link; date
            head, meta = block.split("\n")
            link = r"\(https://blog\.example/\d+\)"
            assert re.fullmatch(rf"\d+\. \*\*\[Entry \d\d: .*\]{link}\*\*", head), head
            assert re.fullmatch(r"   2026-05-\d\d", meta), meta
            shown.append(head.split("[", 1)[1].split(":", 1)[0])
    newest_first = sorted(entries, key=lambda e: e.published, reverse=True)  # type: ignore[arg-type, return-value]
    assert shown == [e.title.split(":", 1)[0] for e in newest_first]
    numbers = [int(c.partition("\r\n")[2].split(".", 1)[0]) for c in contents]
    assert numbers[0] == 1 and numbers == sorted(numbers), "numbering runs on across parts"


@pytest.mark.parametrize(
    ("service", "url"), [("slack", SLACK), ("discord", DISCORD)], ids=["slack", "discord"]
)
async def test_a_digest_as_the_chat_service_receives_it(
    tmp_path: Path, chat: ChatApis, service: str, url: str
) -> None:
    """The JSON body, as the service gets it, pinned in tests/data/messages/ and read."""
    clock = Clock(NOW - 86400)
    channel = TargetChannel(service, [url], digest=parse_digest("daily 08:00 Europe/Berlin"))
    entries = [*papers(2), tricky(papers(1)[0]), HOSTILE]
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        store.enqueue([entry_notice(service, e, clock.now) for e in entries], clock.now)
        clock.now = NOW
        assert (await notifier.deliver()).sent == 1
    post = chat.only(service)
    for attachment in post.get("attachments", []):
        attachment.pop("ts")  # the time of sending
    assert_golden(f"digest.{service}.json", json.dumps(post, indent=2, ensure_ascii=False) + "\n")
