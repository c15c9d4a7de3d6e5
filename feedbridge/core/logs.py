"""Log lines: short lowercase events with their context as key=value pairs, secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

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
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            for key, value in list(record.__dict__.items()):
                if key not in _STANDARD and isinstance(value, str):
                    setattr(record, key, self.redact(value))
        return True


def mask_dsn(url: str) -> str:
    """The URL with its password replaced by ***, for logs, errors and `check`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


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
