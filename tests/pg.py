"""A real PostgreSQL for the tests: Debian's server in a temp directory on 127.0.0.1.

`initdb` refuses to run as root, so as root (CI) the cluster belongs to the `postgres`
user. One server per test session; each test gets its own database. The fault tests stop and
start a server of their own (`stop`, `start`: pg_ctl, as an operator would).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.tools import require_tool

_BIN_GLOB = ("/usr/lib/postgresql/*/bin/initdb",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running cluster; `database()` creates a fresh database and returns its URL."""

    bindir: Path
    datadir: Path
    port: int
    user: str
    options: str = ""
    owner: str | None = None  # the system user the cluster runs as (root: postgres)
    _names: Iterator[int] = field(default_factory=itertools.count)

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = str(self.bindir / "pg_ctl")
        log = self.datadir.parent / "server.log"
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(self.datadir), "-l", str(log), *args], self.owner),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast: its sessions are ended), as `pg_ctl stop` does."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Start it again on the same port; returns once it accepts connections."""
        self._pg_ctl("-o", self.options, "-w", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_owner(args: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else args


@contextlib.contextmanager
def pg_server() -> Iterator[PgServer]:
    """Start a throwaway PostgreSQL; stop it (and remove its files) on exit."""
    initdb = Path(require_tool("initdb", package="postgresql", globs=_BIN_GLOB))
    bindir = initdb.parent
    root = os.geteuid() == 0
    owner = "postgres" if root else None
    user = "postgres" if root else pwd.getpwuid(os.geteuid()).pw_name
    tmp = Path(tempfile.mkdtemp(prefix="feedbridge-pg-"))
    datadir = tmp / "data"
    if root:
        shutil.chown(tmp, "postgres")
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_owner(
            [str(initdb), "-D", str(datadir), "-A", "trust", "-U", user, "-E", "UTF8"], owner
        ),
        **run,  # type: ignore[arg-type]
    )
    port = free_port()
    options = (
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = str(bindir / "pg_ctl")
    log = tmp / "server.log"
    subprocess.run(
        _as_owner(
            [pg_ctl, "-D", str(datadir), "-o", options, "-l", str(log), "-w", "start"], owner
        ),
        **run,  # type: ignore[arg-type]
    )
    try:
        yield PgServer(bindir, datadir, port, user, options, owner)
    finally:
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(datadir), "-m", "immediate", "-w", "stop"], owner),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(tmp, ignore_errors=True)
