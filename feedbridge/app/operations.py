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
from collections.abc import Iterable
from pathlib import Path

from feedbridge.config import Config, load_config
from feedbridge.config.summary import describe_source
from feedbridge.core.errors import EXIT_FAILED, EXIT_OK, ConfigError
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


def exit_leaving_abandoned_threads() -> None:
    """Exit now, even if a cancelled delivery still blocks in one of Apprise's threads.

    The store is closed and its row stays in the outbox; the interpreter would otherwise
    join that thread at exit and wait out the webhook's timeout, past Docker's grace.
    """
    lingering = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if lingering:
        log.info("not waiting for abandoned sends", extra={"threads": len(lingering)})
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OK)
