"""Delivery through real local peers: an SMTP server, a webhook; mocked public services."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from werkzeug import Response

from feedbridge.core.durations import parse_digest
from feedbridge.core.models import Entry, HealthEvent
from feedbridge.messages.templates import Templates
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier, next_fire
from feedbridge.sources.hf_papers import HfPapersSource
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import entry_notice
from tests.conftest import Receiver, hf_items
from tests.helpers import raise_health
from tests.test_hf_papers import page, source


def papers(n: int = 37) -> list[Entry]:
    return HfPapersSource.extract(source(), page(hf_items()[:n]))


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def queue(store: Store, target: str, entries: list[Entry], at: float) -> None:
    store.enqueue([entry_notice(target, e, at) for e in entries], at)


async def test_email_digest_arrives_as_a_newsletter_sorted_by_upvotes(
    tmp_path: Path, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    start = datetime(2026, 5, 8, 6, 0, tzinfo=UTC).timestamp()
    clock = Clock(start)
    url = f"mailto://feedbridge@127.0.0.1:{port}?to=reader@example.com&from=feedbridge@example.com"
    digest = parse_digest("daily 08:00 UTC")
    channel = TargetChannel("inbox", [url], format="html", digest=digest, top=10)
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()  # first round: the digest period starts now
        queue(store, "inbox", papers(), start)
        clock.now = start + 3600  # 07:00: not yet
        await notifier.deliver()
        assert box.messages == []

        clock.now = start + 2 * 3600 + 5  # 08:00:05
        result = await notifier.deliver()
        assert result.sent == 1
        assert store.pending_count("inbox") == 0
        await notifier.deliver()

    assert len(box.messages) == 1
    message = box.messages[0]
    assert message["Subject"] == "37 new papers · 2026-05-08"
    assert message["To"] == "reader@example.com"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # ties in upvotes: the newer first, then in the order they came
    by_votes = sorted(papers(), key=lambda e: (-(e.score or 0), -e.published.timestamp()))  # type: ignore[union-attr]
    top = by_votes[:10]
    positions = [html.index(e.title.replace("'", "&#39;")) for e in top]
    assert positions == sorted(positions), "papers must appear by upvotes, highest first"
    assert "▲ 86 upvotes" in html
    assert 'href="https://huggingface.co/papers/2605.05242"' in html
    assert "…and 27 more" in html
    assert by_votes[-1].title not in html  # below the top 10


async def test_digest_missed_while_down_is_sent_once_on_return(
    tmp_path: Path, receiver: Receiver
) -> None:
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC).timestamp()
    clock = Clock(start)
    channel = TargetChannel(
        "hook", [receiver.url()], format="text", digest=parse_digest("daily 08:00 UTC")
    )
    with Store(tmp_path) as store:
        await Notifier([channel], store, clock=clock).deliver()
        queue(store, "hook", papers(3), start)
    clock.now = start + 3 * 86400  # down for three days
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        await notifier.deliver()
    assert len(receiver.received) == 1
    assert receiver.received[0]["title"].startswith("3 new papers")


async def test_empty_digest_period_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC).timestamp()
    clock = Clock(start)
    channel = TargetChannel("hook", [receiver.url()], digest=parse_digest("daily 08:00 UTC"))
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        clock.now += 86400
        await notifier.deliver()
    assert receiver.received == []


def test_weekly_and_cron_digests_fire_at_the_right_local_time() -> None:
    monday_9_berlin = next_fire(
        parse_digest("weekly mon 09:00 Europe/Berlin"), datetime(2026, 5, 6, tzinfo=UTC).timestamp()
    )
    assert datetime.fromtimestamp(monday_9_berlin, UTC) == datetime(2026, 5, 11, 7, 0, tzinfo=UTC)
    cron = next_fire(parse_digest("30 6 * * 1-5"), datetime(2026, 5, 9, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(cron, UTC) == datetime(2026, 5, 11, 6, 30, tzinfo=UTC)


async def test_webhook_outage_then_recovery_delivers_everything_once_in_order(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = Clock(1_000_000.0)
    entries = papers(6)
    slow_url = receiver.url() + "?rto=0.5"  # Apprise's read timeout, so a hang is a failure
    channel = TargetChannel("hook", [slow_url], format="text")

    def hang(request: Any) -> Response:
        time.sleep(1.5)  # longer than the client waits; the post is never accepted
        return Response("too late", status=504)

    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        queue(store, "hook", entries[:3], clock.now)

        async def fails() -> None:
            result = await notifier.deliver()
            assert result.sent == 0 and result.failed == 1
            clock.now += 7200  # past any backoff

        receiver.status = 500
        await fails()
        receiver.status = 200
        receiver.server.clear()
        receiver.server.expect_request("/hook").respond_with_handler(hang)
        await fails()
        receiver.server.clear()
        receiver.server.expect_request("/hook").respond_with_handler(receiver.handle)
        receiver.server.stop()
        await fails()  # connection refused
        queue(store, "hook", entries[3:], clock.now)
        receiver.server.start()
        assert receiver.received == [], "nothing may arrive during the outage"
        for _ in range(3):
            await notifier.deliver()
        assert store.pending_count("hook") == 0
    assert receiver.titles == [e.title for e in entries]


async def test_backoff_holds_retries_until_due(tmp_path: Path, receiver: Receiver) -> None:
    clock = Clock(1_000_000.0)
    with Store(tmp_path) as store:
        notifier = Notifier([TargetChannel("hook", [receiver.url()])], store, clock=clock)
        queue(store, "hook", papers(1), clock.now)
        receiver.status = 500
        await notifier.deliver()
        receiver.status = 200
        clock.now += 5  # the first retry waits at least 15 s
        assert (await notifier.deliver()).sent == 0
        clock.now += 60
        assert (await notifier.deliver()).sent == 1


async def test_connection_refused_counts_as_failure_and_nothing_is_lost(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    clock = Clock(1_000_000.0)
    with Store(tmp_path) as store:
        channel = TargetChannel("hook", [f"json://127.0.0.1:{dead}/x"])
        notifier = Notifier([channel], store, clock=clock)
        queue(store, "hook", papers(2), clock.now)
        result = await notifier.deliver()
        assert result.failed == 1
        assert store.pending_count("hook") == 2
        assert store.pending("hook")[0].last_error


async def test_deliveries_past_the_retry_window_are_recorded_with_a_health_alert(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = Clock(1_000_000.0)
    failing = TargetChannel("broken", [receiver.url("/missing")], retry_window=3600)
    watcher = TargetChannel("ops", [receiver.url()], format="text", health=True)
    with Store(tmp_path) as store:
        notifier = Notifier([failing, watcher], store, clock=clock)
        queue(store, "broken", papers(1), clock.now)
        for _ in range(4):
            await notifier.deliver()
            clock.now += 1800
        assert store.pending_count("broken") == 0
        failed = store.failed("broken")
        assert len(failed) == 1 and "error=500" in failed[0].reason
    kinds = [m["title"] for m in receiver.received]
    assert kinds == ["feedbridge: target broken failing"]


async def test_max_per_hour_spreads_messages_out(tmp_path: Path, receiver: Receiver) -> None:
    clock = Clock(1_000_000.0)
    with Store(tmp_path) as store:
        channel = TargetChannel("hook", [receiver.url()], max_per_hour=2)
        notifier = Notifier([channel], store, clock=clock)
        queue(store, "hook", papers(5), clock.now)
        await notifier.deliver()
        assert len(receiver.received) == 2
        clock.now += 1800
        await notifier.deliver()
        assert len(receiver.received) == 2
        clock.now += 1801
        await notifier.deliver()
        assert len(receiver.received) == 4


async def test_health_events_go_only_to_health_targets(tmp_path: Path, receiver: Receiver) -> None:
    with Store(tmp_path) as store:
        notifier = Notifier(
            [
                TargetChannel("news", [receiver.url("/news")]),
                TargetChannel("ops", [receiver.url()], health=True),
            ],
            store,
        )
        raise_health(
            notifier,
            HealthEvent("source hf", "failing", "source hf failing: HTTP 500", datetime.now(UTC)),
        )
        assert store.pending_count("news") == 0
        await notifier.deliver()
    assert receiver.received[0]["message"].startswith("source hf failing: HTTP 500\n\n")


async def test_custom_templates_see_entry_fields_and_extras(
    tmp_path: Path, receiver: Receiver
) -> None:
    channel = TargetChannel(
        "hook",
        [receiver.url()],
        format="text",
        templates=Templates(
            title="[{{ score|int }}] {{ title }}",
            body="{{ organization }} | {{ github }} | {{ authors|length }}",
        ),
    )
    with Store(tmp_path) as store:
        queue(store, "hook", papers(1), 0)
        await Notifier([channel], store).deliver()
    msg = receiver.received[0]
    assert msg["title"].startswith("[86] Beyond Semantic Similarity")
    assert msg["message"] == "TIGER-Lab | https://github.com/DCI-Agent/DCI-Agent-Lite | 19"


def test_messages_for_an_entry_without_a_link_show_the_title_and_no_empty_link() -> None:
    from feedbridge.messages.digest import digest_message
    from feedbridge.messages.templates import entry_message

    note = Entry(source="blog", key="rel-2.1@blog", title="Release 2.1", link="",
                 summary="Faster sync.")
    linked = Entry(source="blog", key="k", title="Linked", link="https://blog.example/1",
                   summary="Read on.", score=3, authors=("Ada", "Alan"))
    assert entry_message(note, "markdown").title == "Release 2.1"
    assert entry_message(note, "markdown").body == "Faster sync."
    assert entry_message(note, "html").body == "<p>Faster sync.</p>"
    assert entry_message(linked, "text").body == (
        "▲ 3 · Ada, Alan\n\nRead on.\n\nhttps://blog.example/1"
    )
    digest = digest_message([linked, note], "markdown", None, datetime(2026, 5, 8, tzinfo=UTC))
    assert digest.body == (
        "1. **[Linked](https://blog.example/1)**\n   ▲ 3 · Ada, Alan\n\n2. **Release 2.1**"
    )
    assert 'href=""' not in digest_message([note], "html", None, datetime.now(UTC)).body
