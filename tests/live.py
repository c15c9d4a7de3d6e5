"""A running `feedbridge run` for tests that change it while it runs, and the site it reads.

`Site` serves RSS feeds (items the test adds) and HTML pages on 127.0.0.1, and counts the
requests per path. `Node` is one `feedbridge run` process whose log lines a test waits for.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from tests.pg import free_port


@dataclass
class Site:
    """Feeds (`/feed/NAME.xml`, items by title) and pages (`/page/NAME.html`) on 127.0.0.1."""

    feeds: dict[str, list[str]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rss(self, name: str) -> bytes:
        base = datetime(2026, 5, 1, tzinfo=UTC)
        with self.lock:
            titles = list(self.feeds[name])
        items = "".join(
            f"<item><title>{escape(t)}</title><link>http://example.org/{name}/{i}</link>"
            f"<guid>{name}-{i}</guid><pubDate>{format_datetime(base + timedelta(hours=i))}"
            "</pubDate></item>"
            for i, t in reversed(list(enumerate(titles)))
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {name}</title><link>http://example.org/{name}</link>"
            f"<description>d</description>{items}</channel></rss>"
        ).encode()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        with self.lock:
            self.hits[path] += 1
        match = re.fullmatch(r"/feed/([\w-]+)\.xml", path)
        if match and match[1] in self.feeds:
            return 200, "application/rss+xml", self.rss(match[1])
        match = re.fullmatch(r"/page/([\w-]+)\.html", path)
        if match and match[1] in self.pages:
            return 200, "text/html; charset=utf-8", self.pages[match[1]].encode()
        return 404, "text/plain", b"not here"


@contextlib.contextmanager
def serve_site(site: Site) -> Iterator[Site]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            status, kind, body = site.answer(self.path.split("?")[0])
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


class Node:
    """One `feedbridge --config CONFIG run` in `cwd`, its log collected line by line."""

    def __init__(self, config: Path, cwd: Path, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._new = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._new:
                self.lines.append(line.rstrip("\n"))
                self._new.notify_all()

    def wait_log(self, pattern: str, *, after: int = 0, timeout: float = 60) -> int:
        """The index of the first log line from `after` on matching `pattern` (a regex)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for n in range(after, len(self.lines)):
                    if regex.search(self.lines[n]):
                        return n
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    log = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no log line matching {pattern!r}; the log:\n{log}")
                self._new.wait(min(left, 1.0))

    def logged(self, pattern: str, after: int = 0) -> list[str]:
        with self._new:
            return [line for line in self.lines[after:] if re.search(pattern, line)]

    @property
    def mark(self) -> int:
        """The index of the next log line: wait for what follows an action."""
        with self._new:
            return len(self.lines)

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.base + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):
                if self.get("/healthz").status_code == 200:
                    return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("not serving; the log:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.2)

    def hup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def running(config: Path, cwd: Path, port: int) -> Iterator[Node]:
    node = Node(config, cwd, port)
    try:
        node.wait_up()
        yield node
    finally:
        node.stop()


def new_port() -> int:
    return free_port()
