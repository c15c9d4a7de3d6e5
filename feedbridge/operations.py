"""What the commands decide for an operator: exit codes, the store check, errors worded as
command-line flags, and a stop that does not wait for abandoned sends."""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from feedbridge.errors import EXIT_FAILED, EXIT_OK, ConfigError
from feedbridge.notify import RoundResult
from feedbridge.store import open_store
from feedbridge.worker import PollReport

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


def check_store(path: Path) -> None:
    """Open an existing store and verify it. A new one is created the way `once` would and
    removed again, so that `check` fails exactly when (and as) `once` would."""
    if path.exists():
        with open_store(path) as store:
            store.check_writable()
            store.verify(deep=True)
        return
    top = path.absolute()
    while not top.parent.exists():
        top = top.parent
    try:
        with open_store(path) as store:
            store.check_writable()
    finally:
        if top.exists():
            shutil.rmtree(top, ignore_errors=True)


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
