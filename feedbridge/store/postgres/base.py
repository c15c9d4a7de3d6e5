"""What every part of the PostgreSQL store builds on: the connection pool and one transaction
per call, each with short timeouts; database failures turned into StoreError (LeaseLost passes
through); whether the database answers (`StoreStatus`), probed on a lane of its own; the worker
threads that keep store calls off the event loop."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from feedbridge.core.errors import StoreError
from feedbridge.store.base import LeaseLost, StoreUnavailable
from feedbridge.store.postgres.statements import why
from feedbridge.store.status import StoreStatus

P = ParamSpec("P")
T = TypeVar("T")

CONNECT_TIMEOUT = 2  # seconds; libpq's least
POOL_WAIT = 1.5  # seconds a call waits for a free connection
STATEMENT_TIMEOUT = "5s"  # no statement of a node runs longer (expiry sets its own)
LOCK_TIMEOUT = "1s"  # a statement waiting on a lock gives up: below the least lease (2 s)
TCP_USER_TIMEOUT = 5000  # ms: a connection whose peer went silent is dropped
LANE_WAIT = 1.0  # seconds a ping waits for the lane (another ping in progress)

# connection-level SQLSTATEs: the connection is gone, or the server shuts down or starts up
_LOST = ("08", "57P01", "57P02", "57P03")


def connect_kwargs(url: str) -> dict[str, Any]:
    """libpq parameters of every connection: short connect and TCP timeouts, keepalives, and
    statement and lock timeouts as start-up options (the URL's own `options` come after, so
    they override these)."""
    given = psycopg.conninfo.conninfo_to_dict(url).get("options") or ""
    options = f"-c statement_timeout={STATEMENT_TIMEOUT} -c lock_timeout={LOCK_TIMEOUT} {given}"
    return {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT,
        "tcp_user_timeout": TCP_USER_TIMEOUT,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "options": options.strip(),
    }


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` means the database is unreachable (rather than one statement failing:
    a lock or statement timeout, a constraint)."""
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if not isinstance(exc, psycopg.OperationalError) or isinstance(exc, PoolTimeout):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(_LOST)


class Base:
    """The pool, the ping lane and the transaction every part of `PostgresStore` uses."""

    url: str
    location: str  # the URL with its password masked
    seen_ttl: float
    clock: Callable[[], float]
    owner: str  # host:pid:random, in every lease this process takes
    status: StoreStatus
    _pool: ConnectionPool
    _kwargs: dict[str, Any]
    _threads: ThreadPoolExecutor  # store calls from async code
    _lane_thread: ThreadPoolExecutor  # pings from async code
    _lane: psycopg.Connection[Any] | None
    _lane_lock: threading.Lock
    _takeovers: dict[str, float]  # target -> monotonic time its takeover grace ends

    @contextmanager
    def _tx(
        self, transaction: bool = True, pipeline: bool = False
    ) -> Iterator[psycopg.Connection[Any]]:
        """One connection in one transaction (or autocommit for a single statement); with
        `pipeline`, its statements and COMMIT go in one round trip (results are read after the
        block). Database failures become StoreError. While the store is down the call fails
        at once, unless it is the probe due now."""
        if not self.status.up:
            if not self.status.admit():
                raise StoreUnavailable(f"{self.status.describe()} ({self.location})")
            self._ping_lane()  # the probe: raises while the database stays away
        try:
            with self._pool.connection() as conn:
                if not transaction:
                    yield conn
                    return
                with conn.pipeline() if pipeline else nullcontext(), conn.transaction():
                    yield conn
        except LeaseLost:
            raise
        except PoolTimeout as exc:
            # every connection busy (a slow store), or none can be made (a lost one): the lane
            # tells which, and marks the store down in the second case
            self._ping_lane()
            raise StoreError(
                f"store at {self.location} is busy: no free connection in {POOL_WAIT:g}s"
            ) from exc
        except psycopg.Error as exc:
            if connection_lost(exc):
                self.status.failed(why(exc))
            raise StoreError(f"store at {self.location} failed: {why(exc)}") from exc

    def _ping_lane(self) -> None:
        """`SELECT 1` on the lane's own connection (made again when lost): marks the store
        down or back. Raises StoreError when it does not answer."""
        if not self._lane_lock.acquire(timeout=LANE_WAIT):
            raise StoreError(f"store at {self.location} did not answer a ping in {LANE_WAIT:g}s")
        try:
            if self._lane is None or self._lane.closed:
                self._lane = psycopg.connect(self.url, **self._kwargs)
            self._lane.execute("SELECT 1")
        except psycopg.Error as exc:
            lane, self._lane = self._lane, None
            if lane is not None:
                lane.close()
            self.status.failed(why(exc))
            raise StoreUnavailable(f"{self.status.describe()} ({self.location})") from exc
        finally:
            self._lane_lock.release()
        if self.status.answered():
            self._pool.check()  # the pool's idle connections died with the old server

    def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(self._threads, functools.partial(call, *args, **kwargs))
        except RuntimeError as exc:  # closed at a stop: a poll's last renewal comes too late
            raise StoreUnavailable(f"store at {self.location} is closed") from exc

    async def probe(self) -> None:
        try:
            ping = asyncio.get_running_loop().run_in_executor(self._lane_thread, self.ping)
        except RuntimeError as exc:  # closed at a stop
            raise StoreUnavailable(f"store at {self.location} is closed") from exc
        await ping

    def ping(self) -> None:
        if not self.status.up and not self.status.admit():
            raise StoreUnavailable(f"{self.status.describe()} ({self.location})")
        self._ping_lane()
