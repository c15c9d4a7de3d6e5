"""Real receivers on 127.0.0.1: a strict SMTP server, a Mosquitto broker, a webhook.

Each test checks what arrives as the person reading it would: both parts of an email
and its encoded subject, a text-only MQTT payload, a webhook's title and body.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from feedbridge.core.durations import parse_digest
from feedbridge.core.models import Entry
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier
from feedbridge.notify.services import service_format
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import entry_notice
from tests.conftest import Receiver
from tests.test_messages import NOW, assert_golden, tricky
from tests.test_notify import Clock, papers
from tests.tools import require_tool

MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StrictMailbox:
    """Rejects any mail with a line over 998 octets, as strict servers do; keeps the rest."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.rejected = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content
        if any(len(line) > MAX_LINE for line in content.split(b"\r\n")):
            self.rejected += 1
            return "552 5.6.0 line longer than 998 octets (RFC 5322 2.1.1)"
        self.raw.append(content)
        self.messages.append(
            email.message_from_bytes(content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"


@pytest.fixture
def strict_smtp() -> Iterator[tuple[StrictMailbox, int]]:
    box = StrictMailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def mail_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=bot@example.org&to=reader@example.org&mode=insecure"


def long_summary_paper() -> Entry:
    """A paper whose summary is one 1,900-character line, as real abstracts can be."""
    paper = papers(1)[0]
    extras = {**paper.extras, "ai_summary": "Long AI summary sentence, " * 75}
    return replace(
        paper,
        key="long",
        title="A paper with a 1,900-character abstract",
        summary="Long abstract sentence, " * 80,
        extras=extras,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, message.get_content_type()
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def test_the_strict_server_rejects_long_lines(strict_smtp: tuple[StrictMailbox, int]) -> None:
    box, port = strict_smtp
    with smtplib.SMTP("127.0.0.1", port) as client:
        for length in (999, 1900):  # aiosmtpd itself refuses the second
            raw = "Subject: x\r\n\r\n" + "a" * length + "\r\n"
            with pytest.raises(smtplib.SMTPDataError):
                client.sendmail("a@example.org", ["b@example.org"], raw)
        client.sendmail("a@example.org", ["b@example.org"], "Subject: x\r\n\r\n" + "a" * 998)
    assert box.rejected == 1 and len(box.messages) == 1


async def test_email_has_a_text_part_with_every_link_and_an_encoded_subject(
    tmp_path: Path, strict_smtp: tuple[StrictMailbox, int]
) -> None:
    box, port = strict_smtp
    paper = replace(long_summary_paper(), title="Café & <b>Crème</b>: agents that plan 🚀")
    channel = TargetChannel("mail", [mail_url(port)])
    assert channel.formats == ["html"]
    with Store(tmp_path) as store:
        store.enqueue([entry_notice("mail", paper, NOW)], NOW)
        result = await Notifier([channel], store).deliver()
    assert result.sent == 1 and box.rejected == 0
    (message,) = box.messages
    raw_subject = box.raw[0].split(b"\r\nSubject: ", 1)[1].split(b"\r\n")[0]
    assert raw_subject.startswith(b"=?utf-8?"), raw_subject  # RFC 2047
    assert message["subject"] == paper.title
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    for link in (paper.link, paper.extras["arxiv_pdf"], paper.extras["github"]):
        assert re.search(rf"(^|\s){re.escape(link)}$", text, re.M), f"{link} not on its own"
        assert f'href="{link}"' in html
    assert paper.title not in text and "Crème" not in html, "the subject is not repeated"
    assert "&lt;" not in text and "Long AI summary sentence, " * 75 in text + " "
    for part in message.walk():
        if not part.is_multipart():
            assert part.get_content_charset() == "utf-8"
            assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert_golden("email-entry.text-part.txt", text)


async def test_email_digest_text_part_lists_each_link(
    tmp_path: Path, strict_smtp: tuple[StrictMailbox, int]
) -> None:
    box, port = strict_smtp
    clock = Clock(NOW - 86400)
    digest = parse_digest("daily 08:00 Europe/Berlin")
    channel = TargetChannel("mail", [mail_url(port)], digest=digest)
    entries = [*papers(3), tricky(papers(1)[0]), long_summary_paper()]
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        for entry in entries:
            notice = entry_notice("mail", replace(entry, key=entry.title), clock.now)
            store.enqueue([notice], clock.now)
        clock.now = NOW
        await notifier.deliver()
    assert box.rejected == 0
    (message,) = box.messages
    assert message["subject"] == "5 new entries · 2026-05-08"
    text, html = parts(message)
    assert all(e.link in text and e.link in html for e in entries)
    assert_golden("email-digest.text-part.txt", text)


@pytest.mark.parametrize("fmt", [None, "text"], ids=["html", "text"])
async def test_a_long_subject_arrives_folded_in_encoded_words_of_75_octets(
    tmp_path: Path, strict_smtp: tuple[StrictMailbox, int], fmt: str | None
) -> None:
    box, port = strict_smtp
    title = "Über-long: " + "a paper whose title goes on and on, with é and 🚀, " * 6
    assert len(title) > 290
    paper = replace(papers(1)[0], title=title.strip())
    with Store(tmp_path) as store:
        store.enqueue([entry_notice("mail", paper, NOW)], NOW)
        channel = TargetChannel("mail", [mail_url(port)], format=fmt)
        result = await Notifier([channel], store).deliver()
    assert result.sent == 1 and box.rejected == 0
    head = box.raw[0].split(b"\r\n\r\n", 1)[0] + b"\r\n"
    folded = re.search(rb"\r\nSubject: (.*?)\r\n(?=\S|\Z)", head, re.S)
    assert folded is not None, head
    lines = folded.group(0).strip().split(b"\r\n")
    words = re.findall(rb"=\?utf-8\?[bq]\?[^?]*\?=", folded.group(1), re.I)
    assert len(words) > 4 and all(len(word) <= 75 for word in words), words  # RFC 2047 2
    assert all(len(line) <= 78 for line in lines)  # RFC 5322 2.1.1
    assert box.messages[0]["subject"] == paper.title


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    binary = require_tool("mosquitto", package="mosquitto")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = tmp_path / "mosquitto.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=err, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not start on port {port}: {log.read_text()}")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Subscriber:
    """A paho-mqtt client subscribed to one topic; `wait(n)` blocks until n messages."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.payloads: list[bytes] = []
        self.arrived = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(30), "could not subscribe"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.arrived:
            self.payloads.append(message.payload)
            self.arrived.notify_all()

    def wait(self, count: int) -> list[str]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.payloads) >= count, timeout=30)
        return [p.decode() for p in self.payloads]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def test_mqtt_gets_plain_text_with_the_title_once(tmp_path: Path, mosquitto: int) -> None:
    url = f"mqtt://127.0.0.1:{mosquitto}/feedbridge/papers"
    assert service_format(url) == "text"
    subscriber = Subscriber(mosquitto, "feedbridge/papers")
    paper = replace(papers(1)[0], title="Café & <b>Crème</b>: agents that *plan* 🚀 @everyone")
    try:
        with Store(tmp_path) as store:
            store.enqueue([entry_notice("mqtt", paper, NOW)], NOW)
            result = await Notifier([TargetChannel("mqtt", [url])], store).deliver()
        assert result.sent == 1
        (payload,) = subscriber.wait(1)
    finally:
        subscriber.close()
    lines = payload.replace("\r\n", "\n").split("\n")
    assert lines[0] == paper.title, "text as the source wrote it: no escape, no mark"
    assert payload.count("Crème") == 1, "the title appears once"
    assert "**" not in payload and "](" not in payload and "<p>" not in payload
    assert paper.link in lines and f"PDF: {paper.extras['arxiv_pdf']}" in lines


@pytest.mark.parametrize(
    "title",
    [
        "Café & Crème",
        "<b>bold</b> & co",
        "Agents 🚀 that plan 🤖",
        "Zoë's «quoted» \u2018title\u2019",
    ],
)
async def test_webhook_gets_the_title_as_is_and_never_twice(
    tmp_path: Path, receiver: Receiver, title: str
) -> None:
    paper = replace(papers(1)[0], title=title)
    channel = TargetChannel("hook", [receiver.url()])
    assert channel.formats == ["text"]  # Apprise's json:// renders text first
    with Store(tmp_path) as store:
        store.enqueue([entry_notice("hook", paper, NOW)], NOW)
        await Notifier([channel], store).deliver()
    (message,) = receiver.received
    assert message["title"] == title
    assert title not in message["message"]
    assert f"\n{paper.link}\n" in message["message"]
