"""Log lines: short lowercase events with their context as key=value pairs, secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """`2026-05-08 10:00:00 INFO feedbridge.poll.worker poll done source=hf-daily new=3`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={_quote(v)}" for k, v in extras.items())
        if record.exc_info and record.exc_text is None:
            record.exc_text = self.formatException(record.exc_info)
        return line


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


class Redactor(logging.Filter):
    """Masks known secrets in every record, whatever logger or level produced it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these too (a reloaded config's new secrets); the known ones stay masked."""
        self.secrets = sorted({*self.secrets, *(s for s in secrets if s)}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD or value is None or isinstance(value, int | float):
                continue
            text = value if isinstance(value, str) else str(value)
            redacted = self.redact(text)
            if redacted != text or isinstance(value, str):  # a dict or list only when it leaks
                setattr(record, key, redacted)
        if record.exc_info and not record.exc_text:  # a traceback quotes URLs and arguments
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_PLAIN = logging.Formatter()
# libpq's connection parameters that hold secrets, as `?password=` in a postgresql:// URL
_DSN_SECRET_PARAMS = frozenset({"password", "sslpassword"})


def _dsn_parts(url: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The user-info password of a URL and its query as (name, raw value) pairs."""
    parts = urlsplit(url)  # ValueError for a malformed host
    pairs = [item.partition("=") for item in parts.query.split("&") if item]
    return parts.password, [(unquote(name).lower(), value) for name, _, value in pairs]


def dsn_secrets(url: str) -> list[str]:
    """The secrets of a PostgreSQL URL (its password, `?password=`, `?sslpassword=`), as
    written and percent-decoded, for log masking."""
    try:
        password, query = _dsn_parts(url)
    except ValueError:
        return [url]
    found = [password] if password else []
    found += [value for name, value in query if name in _DSN_SECRET_PARAMS and value]
    return list(dict.fromkeys([*found, *(unquote(v) for v in found)]))


def mask_dsn(url: str) -> str:
    """The URL with its password and `?password=`/`?sslpassword=` values replaced by ***, for
    logs, errors and `check`; a URL too malformed to read is `scheme://***`."""
    try:
        password, query = _dsn_parts(url)
    except ValueError:
        return f"{url.partition('://')[0]}://***"
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        netloc = netloc.replace(f":{password}@", ":***@", 1)
    items = parts.query.split("&") if parts.query else []
    masked = [
        f"{item.partition('=')[0]}=***" if name in _DSN_SECRET_PARAMS else item
        for item, (name, _) in zip([i for i in items if i], query, strict=True)
    ]
    return urlunsplit(parts._replace(netloc=netloc, query="&".join(masked)))


def mask_dsn_in(text: str, url: str) -> str:
    """`text` (a driver's error, which may quote the URL) with the URL's secrets masked."""
    for secret in sorted(dsn_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def add_secrets(secrets: Iterable[str], level: str | None = None) -> None:
    """Mask these secrets too in every log line from now on (a live reload's new targets),
    and set the log level to `level` if given."""
    wanted = list(secrets)
    root = logging.getLogger()
    for handler in root.handlers:
        for found in handler.filters:
            if isinstance(found, Redactor):
                found.add(wanted)
    if level is not None:
        root.setLevel(level.upper())


def setup_logging(level: str = "info", secrets: Iterable[str] = ()) -> None:
    """Key=value lines on stderr; `secrets` are masked wherever they would appear."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("apprise").setLevel(logging.WARNING)  # its DEBUG lines print tokens
    for noisy in ("httpx", "httpcore", "aiohttp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
