"""The system Chromium: finding it, its version, and running it as feedbridge's own child.

A Chromium we start leads its own process group, so that shutdown kills it with every
renderer in one signal, and dies with feedbridge should feedbridge be killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from typing import Any

import httpx

from feedbridge.core.errors import FeedbridgeError

log = logging.getLogger("feedbridge.browser")

# Headless, as root in a container, and quiet on a closed network: without the
# background-networking flags Chromium keeps dialling Google's services.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-crash-reporter",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--mute-audio",
)
CANDIDATES = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")
INSTALL_HINT = (
    "install Debian's chromium (apt-get install chromium), or set [browser] executable "
    "or [browser] cdp_url"
)
_DEVTOOLS = re.compile(r"DevTools listening on (wss?://\S+)")
_PR_SET_PDEATHSIG = 1


class BrowserUnavailable(FeedbridgeError):
    """No browser could be started or reached; the message says why and what to do. A fetch
    reports it as a FetchError naming the source and URL."""


def find_executable(configured: str | None = None) -> str | None:
    """The Chromium to launch: `[browser] executable`, else the first candidate on PATH."""
    if configured:
        return shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
    return next(filter(None, map(shutil.which, CANDIDATES)), None)


def describe_browser(executable: str | None = None, cdp_url: str | None = None) -> str:
    """One line for `check`: which browser and its version. Raises BrowserUnavailable."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        raise BrowserUnavailable(
            "Playwright is not installed: pip install 'feedbridge[browser]'"
        ) from None
    if cdp_url:
        http_url = re.sub(r"^ws", "http", with_address(cdp_url))
        parts = httpx.URL(http_url)
        try:
            reply = httpx.get(str(parts.copy_with(path="/json/version", query=None)), timeout=5)
            reply.raise_for_status()
            version = reply.json().get("Browser", "unknown version")
        except (httpx.HTTPError, ValueError) as exc:
            raise BrowserUnavailable(f"cannot reach {cdp_url}: {exc}") from None
        return f"{version} over CDP at {cdp_url}"
    exe = find_executable(executable)
    if exe is None:
        wanted = executable or " or ".join(CANDIDATES[:2])
        raise BrowserUnavailable(f"{wanted} not found: {INSTALL_HINT}")
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrowserUnavailable(f"{exe} does not run: {exc}") from None
    version = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    if out.returncode != 0 or not version:
        raise BrowserUnavailable(f"{exe} --version failed: {out.stderr.strip()[-200:]}")
    return f"{version} at {exe}"


def with_address(url: str) -> str:
    """`url` with its host name resolved: Chromium's DevTools server refuses any Host header
    that is not an IP address or localhost (`http://browser:9222` in a compose network)."""
    parts = httpx.URL(url)
    host = parts.host
    if not host or host == "localhost" or re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+", host):
        return url
    try:
        found = socket.getaddrinfo(host, parts.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BrowserUnavailable(f"cannot resolve {host} of [browser] cdp_url: {exc}") from None
    return str(parts.copy_with(host=str(found[0][4][0])))


def _prctl() -> Any:
    """libc's prctl, looked up before fork (a lookup in the child could deadlock)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()


def _own_group_dying_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Chromium leads its own process group (killed as one) and gets SIGKILL if feedbridge
    dies without closing it (Linux)."""
    os.setpgid(0, 0)
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalChromium:
    """A Chromium we started: its own process group, profile in a temp dir."""

    def __init__(self, process: asyncio.subprocess.Process, profile: str) -> None:
        self.process = process
        self.profile = profile
        self.drain: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, executable: str | None) -> LocalChromium:
        """Start the system Chromium in its own process group, on a fresh temp profile."""
        exe = find_executable(executable)
        if exe is None:
            raise BrowserUnavailable(f"{executable or 'chromium'} not found: {INSTALL_HINT}")
        profile = tempfile.mkdtemp(prefix="feedbridge-chromium-")
        process = await asyncio.create_subprocess_exec(
            exe,
            *CHROMIUM_FLAGS,
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_own_group_dying_with_parent,  # uvloop has no process_group=
        )
        return cls(process, profile)

    async def devtools_url(self) -> str:
        """The ws:// URL Chromium prints once it listens; its stderr is drained from then on."""
        process = self.process
        assert process.stderr is not None
        tail: list[str] = []
        while line := (await process.stderr.readline()).decode(errors="replace"):
            found = _DEVTOOLS.search(line)
            if found:
                self.drain = asyncio.create_task(_drain(process.stderr))
                return found.group(1)
            tail = [*tail[-4:], line.strip()]
        await process.wait()
        said = " | ".join(tail)[-300:]
        raise BrowserUnavailable(
            f"chromium exited ({process.returncode}) before it was ready: {said}"
        )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        self.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.process.wait()
        if self.drain is not None:
            self.drain.cancel()
        shutil.rmtree(self.profile, ignore_errors=True)


async def _drain(stream: asyncio.StreamReader) -> None:
    """Chromium's stderr, read so that it never blocks on a full pipe."""
    while line := await stream.readline():
        log.debug("chromium: %s", line.decode(errors="replace").rstrip())
