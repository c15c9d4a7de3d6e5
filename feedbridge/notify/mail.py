"""Email: Apprise builds the mail, we supply its plain-text part and fold its subject.

Apprise derives an email's text/plain part from the HTML body and drops every link on
the way, and writes a long subject as one encoded word (RFC 2047 allows 75 octets). This
module has Apprise prepare the mail (headers, addresses) with the body, replaces the
text/plain part with ours when the message has one (UTF-8, quoted-printable, so no line
passes 76 octets), sets the subject as an `email.header.Header` folded into encoded words
of at most 75 octets, and sends it through Apprise's SMTP controller (TLS, login, timeouts).
"""

from __future__ import annotations

import email
import email.policy
from email.header import Header
from email.message import Message as MimeMessage
from typing import Any

from apprise.common import NotifyFormat
from apprise.conversion import convert_between
from apprise.plugins.email.base import PGP_MODE_DEFAULT, NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController

from feedbridge.messages.templates import Message

HEADER_LINE = 76  # a folded subject line, so that each encoded word is at most 75 octets


def handles(plugin: Any) -> bool:
    """Whether this module sends for `plugin` (else plain Apprise does: PGP mail)."""
    return (
        isinstance(plugin, NotifyEmail)
        and getattr(plugin, "pgp_mode", PGP_MODE_DEFAULT) == PGP_MODE_DEFAULT
    )


def finish(raw: str, subject: str, text: str | None) -> str:
    """The prepared mail with its subject folded and its text/plain alternative `text`."""
    mail = email.message_from_string(raw, policy=email.policy.compat32)
    if text is not None:
        for part in mail.walk():
            if part.get_content_type() == "text/plain" and not part.is_multipart():
                _set_text(part, text)
                break
    if subject:
        charset = None if subject.isascii() else "utf-8"  # ASCII stays readable, as Apprise does
        del mail["Subject"]
        mail["Subject"] = Header(subject, charset, header_name="Subject")  # type: ignore[assignment]
    return mail.as_string(maxheaderlen=HEADER_LINE)


def _set_text(part: MimeMessage, text: str) -> None:
    del part["Content-Transfer-Encoding"]
    part.set_payload(text, "utf-8")  # Apprise registers utf-8 as quoted-printable


def _body(message: Message) -> tuple[str, NotifyFormat]:
    if message.body_format == "markdown":  # a target that forced Markdown on email
        html = convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, message.body)  # type: ignore[no-untyped-call]
        return str(html), NotifyFormat.HTML
    return message.body, NotifyFormat(message.body_format)


def send(plugin: Any, message: Message) -> str | None:
    """Send `message` (blocking: run it in a thread); None on success, else the reason."""
    headers = {"X-Application": plugin.app_id, **plugin.headers}
    subject = " ".join(message.title.split())  # one header line, as Apprise makes it
    body, fmt = _body(message)
    failed: list[str] = []
    try:
        with AppriseSMTPController(
            host=plugin.smtp_host,
            port=plugin.port,
            secure_mode=plugin.secure_mode,
            user=plugin.user,
            password=plugin.password,
            verify_certificate=plugin.verify_certificate,
            socket_connect_timeout=plugin.socket_connect_timeout,
        ) as smtp:
            for prepared in NotifyEmail.prepare_emails(
                subject=subject,
                body=body,
                notify_format=fmt,
                from_addr=plugin.from_addr,
                to=plugin.targets,
                cc=plugin.cc,
                bcc=plugin.bcc,
                reply_to=plugin.reply_to,
                smtp_host=plugin.smtp_host,
                headers=headers,
                names=plugin.names,
                tzinfo=plugin.tzinfo,
            ):
                text = message.text if fmt == NotifyFormat.HTML else None
                raw = finish(prepared.body, subject, text)
                if not smtp.sendmail(plugin.from_addr[1], prepared.to_addrs, raw):
                    failed.append(f"the SMTP server refused the mail to {prepared.recipient}")
    except Exception as exc:  # any failure is this URL's failure, with its cause
        return f"cannot send email via {plugin.smtp_host}:{plugin.port}: {exc}"
    return "; ".join(failed) or None
