"""The system Chromium: finding it, its version, and launching it over a pipe.

A Chromium we launch leads its own process group, so that shutdown kills it with every
renderer in one signal, and dies with feedbridge should feedbridge be killed outright. It
is driven over a pipe, never a DevTools port on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
from typing import TYPE_CHECKING

import httpx

from feedbridge.core.errors import FeedbridgeError

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

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


class LocalChromium:
    """A Chromium Playwright launched over a pipe (`--remote-debugging-pipe`): no DevTools
    port that any local process could drive to read `file://`. Playwright starts it as the
    leader of its own process group (killed as one) and takes it down when feedbridge dies
    (the driver sees its pipe close)."""

    def __init__(self, browser: Browser, pid: int | None) -> None:
        self.browser = browser
        self.pid = pid

    @classmethod
    async def launch(cls, playwright: Playwright, executable: str | None) -> LocalChromium:
        """Launch the system Chromium (`[browser] executable`, else the first on PATH)."""
        from playwright.async_api import Error

        exe = find_executable(executable)
        if exe is None:
            raise BrowserUnavailable(f"{executable or 'chromium'} not found: {INSTALL_HINT}")
        marker = f"--feedbridge-browser={secrets.token_hex(8)}"  # finds its process
        try:
            browser = await playwright.chromium.launch(
                executable_path=exe, args=[*CHROMIUM_FLAGS, marker], headless=True
            )
        except Error as exc:
            said = " | ".join(exc.message.strip().splitlines()[:3])[-300:]
            raise BrowserUnavailable(f"{exe} did not start: {said}") from None
        return cls(browser, await asyncio.to_thread(_pid_of, marker))

    def kill(self) -> None:
        """SIGKILL the browser's process group (a hung browser never answers a close)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)


def _pid_of(marker: str) -> int | None:
    """The browser process (not a renderer: those carry `--type=`) whose command line holds
    `marker`, from /proc (Linux); None elsewhere."""
    wanted = marker.encode()
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as file:
                    args = file.read().split(b"\0")
            except OSError:
                continue
            if wanted in args and not any(a.startswith(b"--type=") for a in args):
                return int(entry)
    return None


