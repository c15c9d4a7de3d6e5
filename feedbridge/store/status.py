"""Whether the store answers. A shared store marks itself down when it loses its connection and
back when a probe answers again, so that callers stop waiting on it in the meantime: while it is
down every call fails at once (`StoreUnavailable`), and one probe per step of a short backoff
tries the database. The log says once that the store is down and once that it is back; a loop
whose calls keep failing otherwise (a locked table) says so once too (`Streak`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from feedbridge.core.errors import StoreError

log = logging.getLogger("feedbridge.store")
loops = logging.getLogger("feedbridge.worker")

RETRY_FIRST = 0.1  # seconds to the first probe after the store went down
RETRY_CAP = 0.5  # the backoff doubles up to this: a store that is back is seen at once


class StoreUnavailable(StoreError):
    """The store is down (it lost its connection): the call was refused at once, without
    waiting on the database; `StoreStatus` probes it and says when it is back."""


class StoreStatus:
    """Up, or down since when and why; thread-safe (store calls run in worker threads)."""

    def __init__(self, location: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.location = location  # the store's address as the log shows it (password masked)
        self.clock = clock
        self.down_since: float | None = None
        self.reason = ""
        self._delay = RETRY_FIRST
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return self.down_since is None

    def describe(self) -> str:
        """Why the store is down, as /healthz and errors say it (empty while it is up): the
        last part of the driver's message, without the server's address."""
        since = self.down_since
        if since is None:
            return ""
        why = self.reason.rsplit(": ", 1)[-1]
        return f"store down for {self.clock() - since:.0f}s: {why}"

    def retry_in(self) -> float:
        """Seconds until the next probe may run (0 while up)."""
        return 0.0 if self.up else max(0.0, self._retry_at - self.clock())

    def failed(self, reason: str) -> None:
        """The store lost its connection (or refused one): down, logged once."""
        with self._lock:
            now = self.clock()
            self.reason = reason
            if self.down_since is None:
                self.down_since = now
                self._delay = RETRY_FIRST
                log.error("store down", extra={"store": self.location, "error": reason})
            else:
                self._delay = min(self._delay * 2, RETRY_CAP)
            self._retry_at = now + self._delay

    def answered(self) -> bool:
        """The store answered: back if it was down (logged once, with how long it was
        down). True when this call saw it come back."""
        if self.down_since is None:
            return False
        with self._lock:
            since, self.down_since = self.down_since, None
            if since is None:
                return False
            down = round(self.clock() - since, 1)
        log.info("store back", extra={"store": self.location, "down_s": down})
        return True

    def admit(self) -> bool:
        """Whether a call may try the database: always while up; while down, one probe per
        backoff step (the others fail at once, without waiting on the database)."""
        if self.down_since is None:
            return True
        with self._lock:
            now = self.clock()
            if now < self._retry_at:
                return False
            self._retry_at = now + self._delay  # this step's probe is taken
            return True


class Streak:
    """One loop's failing store calls: the first failure of a streak is logged (an error), the
    repeats are not, and the first success after them says how long it lasted. A store that is
    down is not logged here: its status says so once."""

    def __init__(self, what: str) -> None:
        self.what = what  # "claiming sources", "delivering", ...
        self.since: float | None = None

    def failed(self, exc: StoreError, **context: str) -> None:
        if isinstance(exc, StoreUnavailable):
            return
        if self.since is None:
            self.since = time.monotonic()
            loops.error(f"{self.what} failed", extra={**context, "error": str(exc)})

    def ok(self, **context: str) -> None:
        if self.since is not None:
            lasted = round(time.monotonic() - self.since, 1)
            self.since = None
            loops.info(f"{self.what} works again", extra={**context, "failing_s": lasted})
