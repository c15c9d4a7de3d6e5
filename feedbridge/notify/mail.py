"""Email with a plain-text part of our own: Apprise builds the mail, we supply its text.

Apprise derives an email's text/plain part from the HTML body and drops every link on
the way. For an HTML message that carries its own text rendering, this module has
Apprise prepare the mail (headers, RFC 2047 subject, addresses) with the HTML body,
replaces the text/plain part with ours (UTF-8, quoted-printable, so no line passes 76
octets), and sends it through Apprise's SMTP controller (TLS, login, timeouts).
"""

from __future__ import annotations

import email
import email.policy
from email.message import Message as MimeMessage
from typing import Any

from apprise.common import NotifyFormat
from apprise.plugins.email.base import PGP_MODE_DEFAULT, NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController

from feedbridge.messages.templates import Message


def handles(plugin: Any, message: Message) -> bool:
    """Whether this module sends `message` for `plugin` (else plain Apprise does)."""
    return (
        isinstance(plugin, NotifyEmail)
        and message.body_format == "html"
        and message.text is not None
        and getattr(plugin, "pgp_mode", PGP_MODE_DEFAULT) == PGP_MODE_DEFAULT
    )


def with_text_part(raw: str, text: str) -> str:
    """The prepared mail with its text/plain alternative replaced by `text`."""
    mail = email.message_from_string(raw, policy=email.policy.compat32)
    for part in mail.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            _set_text(part, text)
            break
    return mail.as_string()


def _set_text(part: MimeMessage, text: str) -> None:
    del part["Content-Transfer-Encoding"]
    part.set_payload(text, "utf-8")  # Apprise registers utf-8 as quoted-printable


def send(plugin: Any, message: Message) -> str | None:
    """Send `message` (blocking: run it in a thread); None on success, else the reason."""
    assert message.text is not None
    headers = {"X-Application": plugin.app_id, **plugin.headers}
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
                subject=message.title,
                body=message.body,
                notify_format=NotifyFormat.HTML,
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
                raw = with_text_part(prepared.body, message.text)
                if not smtp.sendmail(plugin.from_addr[1], prepared.to_addrs, raw):
                    failed.append(f"the SMTP server refused the mail to {prepared.recipient}")
    except Exception as exc:  # any failure is this URL's failure, with its cause
        return f"cannot send email via {plugin.smtp_host}:{plugin.port}: {exc}"
    return "; ".join(failed) or None
