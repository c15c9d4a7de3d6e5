"""What the commands decide for an operator: exit codes, the store check, errors worded as
command-line flags, and a stop that does not wait for abandoned sends."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from feedbridge.config import Config, load_config
from feedbridge.config.summary import describe_source
from feedbridge.core.errors import EXIT_FAILED, EXIT_OK, ConfigError, ServerError
from feedbridge.core.wording import plural
from feedbridge.notify.outbox import RoundResult
from feedbridge.poll.outcome import PollReport
from feedbridge.sources import build_source
from feedbridge.store import open_store

log = logging.getLogger("feedbridge")


def once_exit_code(reports: Iterable[PollReport], deliveries: RoundResult) -> int:
    """EXIT_FAILED when a source failed or warned, or a delivery failed or was given up.

    Entries waiting for a digest, or for a retry that is not due, are not failures.
    """
    problems = sum(1 for r in reports if not r.ok or r.warning)
    if problems or deliveries.failed or deliveries.given_up:
        log.debug("once failed", extra={"sources": problems, "deliveries": deliveries.failed})
        return EXIT_FAILED
    return EXIT_OK


def check_store(config: Config) -> list[str]:
    """Open the store and verify it; a PostgreSQL store also reports its server, schema
    version and the lag of due sources. A new embedded store is created the way `once`
    would and removed again, so that `check` fails exactly when (and as) `once` would."""
    path = config.storage.path
    if config.storage.url is None and not path.exists():
        top = path.absolute()
        while not top.parent.exists():
            top = top.parent
        try:
            with contextlib.closing(open_store(config.storage)) as store:
                store.ping()
        finally:
            if top.exists():
                shutil.rmtree(top, ignore_errors=True)
        return []
    with contextlib.closing(open_store(config.storage)) as store:
        info = store.check(deep=True, sources=[s.name for s in config.sources if s.enabled])
    if info.backend != "postgresql":
        return []
    lines = [
        f"store: PostgreSQL {info.server} at {info.location}, schema version {info.schema_version}",
        f"store: {plural(info.due_sources, 'source')} due and waiting for a worker, the most "
        f"overdue {info.due_lag:.0f}s late",
    ]
    unseen = int(info.details.get("never_polled", 0))
    if unseen:
        lines.append(f"store: {plural(unseen, 'configured source')} not yet taken up by any node")
    return lines


def check_port(config: Config) -> str | None:
    """Whether `run` could listen on [server] host and port now; why not, when it could not
    (another feedbridge may hold it: then the warning is expected)."""
    if not config.server.enabled:
        return None
    from feedbridge.app.runner import listen  # uvicorn loads for `run` and here only

    try:
        listen(config.server.host, config.server.port).close()
    except ServerError as exc:
        return f"{exc} (fine if that is this config's own `feedbridge run`)"
    return None


_SOCKET = re.compile(r"Socket Exception: (.*)")
_HOST_PORT = re.compile(r"host='([^']*)', port=(\d+)")
_CAUSE = re.compile(r"(\[Errno -?\d+\] [^\"'()]+|(?:Read|Connect) timed out|timed out)")
_URL_PATH = re.compile(r"\s*with url: \S+")  # its path may hold the service's token


def connection_detail(lines: Iterable[str]) -> str | None:
    """`host:port: cause` from Apprise's debug log of a failed send, when it has one."""
    found = next(filter(None, map(_SOCKET.search, lines)), None)
    if found is None:
        return None
    text = found[1]
    where = _HOST_PORT.search(text)
    causes = _CAUSE.findall(text)
    cause = causes[-1].strip() if causes else _URL_PATH.sub("", text)[:200]
    return f"{where[1]}:{where[2]}: {cause}" if where else cause


class AppriseLog(logging.Handler):
    """Apprise's log lines of the sends inside a `with` block, DEBUG included (a failed
    connection's port and cause are only there), in `lines` once the block ends. Its DEBUG
    lines print tokens, so they stay off the console; its warnings are passed on."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._records: list[logging.LogRecord] = []
        self._logger = logging.getLogger("apprise")
        self._saved = (self._logger.level, self._logger.propagate)

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append(record)

    def __enter__(self) -> AppriseLog:
        self._saved = (self._logger.level, self._logger.propagate)
        self._logger.addHandler(self)
        self._logger.setLevel(logging.DEBUG)
        self._logger.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]
        for record in self._records:
            self.lines.append(record.getMessage())
            if self._logger.isEnabledFor(record.levelno):
                self._logger.handle(record)


def page_sources_report(config: Config, path: Path | None) -> list[str]:
    """`check`'s lines about the sources made on the web page (kept in the store): each in a
    line, after validating them with the file's config (ConfigError when they do not fit)."""
    if config.storage.url is None and not config.storage.path.is_dir():
        return []
    with contextlib.closing(open_store(config.storage)) as store:
        page = [p.table for p in store.page_sources()]
    if not page:
        return []
    merged = load_config(path, page)
    for source in merged.sources:
        if merged.made_on_page(source.name):
            build_source(source)  # selectors compiled: ConfigError names the source
    made = [describe_source(s) for s in merged.sources if merged.made_on_page(s.name)]
    return [f"sources made on the web page ({len(made)}):", *made]


_PROBLEM = re.compile(r"^sources(?:\[0\]|\.[^.]+)\.(\w+)(?:\[\d+\])?: (.*)$")


def as_flags(exc: ConfigError, kind: str) -> str:
    """`preview --url`'s config errors in the words of its command line: `--item: ...`."""
    lines = []
    for problem in exc.problems:
        match = _PROBLEM.match(problem)
        if match is None:
            lines.append(problem)
            continue
        key, message = match.groups()
        flag = "--" + {"items": "item"}.get(key, key)
        if message.startswith("unknown key"):
            message = f"not used with --kind {kind}"
        lines.append(f"{flag}: {message}")
    return "invalid options:\n  " + "\n  ".join(lines)


def exit_leaving_abandoned_threads(abandoned: Sequence[str]) -> None:
    """Exit now, even if a cancelled delivery (`abandoned`) still blocks in one of Apprise's
    threads. The store is closed and its row stays in the outbox; the interpreter would
    otherwise join that thread at exit and wait out the webhook's timeout, past Docker's
    grace. With nothing abandoned, Apprise's idle pool threads end at a normal exit.
    """
    lingering = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if abandoned and lingering:
        log.info("not waiting for abandoned sends", extra={"sends": "; ".join(abandoned)})
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OK)
