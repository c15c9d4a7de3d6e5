"""Who works on a data directory: one `feedbridge run` at a time, and `once` beside it.

The holder takes an exclusive `flock` on `feedbridge.lock` in the directory and writes its
pid and command there; the kernel drops the lock when the process ends, however it ends.
The embedded store has no leases, so only the holder delivers (two deliverers would send
a message twice): a second `run` is refused, `run` waits for a `once` that holds the
directory, and `once` beside a `run` polls (SQLite serialises the writes; the running
server sees the new feeds) and leaves delivery to the holder.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; one process is the user's care
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "feedbridge.lock"


@dataclass(frozen=True, slots=True)
class Holder:
    """The process holding a directory, as it wrote itself down (pid 0: not yet written)."""

    pid: int
    command: str

    def __str__(self) -> str:
        if not self.pid:
            return "another feedbridge process"
        return f"`feedbridge {self.command}` (pid {self.pid})"


class DirectoryOwner:
    """The lock on one data directory; `claim` takes it or says who holds it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file = self.path / LOCK_NAME
        self._fd: int | None = None

    def claim(self, command: str) -> Holder | None:
        """Take the directory for `command` ("run", "once"): None when taken (held until
        `release` or the process ends), else who holds it. A directory that cannot hold the
        lock file is not claimed (None): opening the store then says what is wrong with it."""
        if fcntl is None:  # pragma: no cover
            return None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            return holder
        with contextlib.suppress(OSError):  # who holds it, for the next one: a full disk
            os.ftruncate(fd, 0)  # leaves it unsaid, and opening the store says what is wrong
            os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        """Give the directory up (the process's end does it too)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _read(fd: int) -> Holder:
    try:
        pid, _, command = os.pread(fd, 200, 0).decode("utf-8", "replace").strip().partition(" ")
        return Holder(int(pid), command or "run")
    except (OSError, ValueError):
        return Holder(0, "")
