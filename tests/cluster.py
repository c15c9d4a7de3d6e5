"""Several `feedbridge run` nodes on one PostgreSQL, and what the tests watch them with: an
origin that serves the sources' feeds and counts each fetch, webhook receivers that count each
delivery, and probes of every node's feeds and /healthz (status and latency of each answer)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.pg import free_port


@dataclass
class World:
    """The sources' items (grown by the test) and what the servers saw."""

    sources: int = 200
    items: dict[int, list[int]] = field(default_factory=dict)
    fetches: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    received: dict[str, Counter[str]] = field(
        default_factory=lambda: {"a": Counter(), "b": Counter()}
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.items = self.items or {n: [0, 1] for n in range(self.sources)}

    def feed(self, n: int) -> bytes:
        with self.lock:
            self.fetches[n].append(time.monotonic())
            items = list(self.items[n])
        base = datetime(2026, 5, 1, tzinfo=UTC)
        body = "".join(
            f"<item><title>Source {n} item {i}</title><link>http://example.org/{n}/{i}</link>"
            f"<guid>{n}-{i}</guid><pubDate>{format_datetime(base + timedelta(hours=i))}"
            "</pubDate></item>"
            for i in reversed(items)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Source {n}</title><link>http://example.org/{n}</link>"
            f"<description>d</description>{body}</channel></rss>"
        ).encode()

    def add_items(self, sources: Sequence[int] | None = None) -> set[str]:
        """One new item on each of `sources` (all by default); returns their titles."""
        with self.lock:
            chosen = list(self.items) if sources is None else list(sources)
            for n in chosen:
                self.items[n].append(self.items[n][-1] + 1)
            return {f"Source {n} item {self.items[n][-1]}" for n in chosen}

    def fetched_after(self, moment: float) -> float | None:
        """The monotonic time of the first fetch after `moment`, if any."""
        with self.lock:
            later = [t for times in self.fetches.values() for t in times if t > moment]
        return min(later, default=None)

    def delivered(self, expected: set[str]) -> bool:
        with self.lock:
            return all(set(c) >= expected for c in self.received.values())

    def duplicates(self) -> dict[str, int]:
        with self.lock:
            return {t: sum(v - 1 for v in c.values()) for t, c in self.received.items()}


class QuietServer(ThreadingHTTPServer):
    # socketserver's backlog is 5: three nodes opening 50 connections at once overflowed it,
    # and the connections the kernel dropped stalled until the 30 s fetch timeout
    request_queue_size = 1024

    def handle_error(self, request: object, client_address: object) -> None:
        """A killed node drops its connections mid-request: expected here, not noise."""


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def origin_handler(world: World, delay: float) -> type[BaseHTTPRequestHandler]:
    """Serves `/feed/N` (source N's RSS) after `delay` seconds, counting the fetch."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            n = int(self.path.rsplit("/", 1)[-1])
            body = world.feed(n)
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def hooks_handler(world: World, delay: float) -> type[BaseHTTPRequestHandler]:
    """A webhook per target (`/a`, `/b`), counting each message by its title."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay)
            with world.lock:
                world.received[self.path.strip("/")][data["title"]] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Nodes:
    """`count` `feedbridge run` processes on one config, each on its own port (`${PORT}`),
    each logging to its own file."""

    def __init__(self, config: Path, count: int, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.ports = [free_port() for _ in range(count)]
        self.logs = [config.parent / f"node{i}.log" for i in range(count)]
        self.env = env or {}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, i: int | None = None) -> None:
        """Start node `i` (again), or every node."""
        for n in range(len(self.ports)) if i is None else [i]:
            with self.logs[n].open("ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "feedbridge", "--config", str(self.config), "run"],
                    cwd=self.config.parent, stdout=log, stderr=log,
                    env={**os.environ, **self.env, "PORT": str(self.ports[n])},
                )  # fmt: skip
            if n < len(self.procs):
                self.procs[n] = proc
            else:
                self.procs.append(proc)

    def index_of(self, owner: object) -> int:
        """The node whose pid appears in a lease owner (`host:pid:random`)."""
        return next(i for i, p in enumerate(self.procs) if f":{p.pid}:" in str(owner))

    def stop(self) -> list[int]:
        """SIGTERM every node (SIGCONT first, in case one is stopped); their exit codes."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes

    def log(self, i: int) -> str:
        return self.logs[i].read_text(errors="replace")


@dataclass(frozen=True, slots=True)
class Answer:
    node: int
    path: str
    at: float  # monotonic time the request was sent
    seconds: float
    status: int  # 0: no answer (connection failed or timed out)
    body: bytes


class Prober:
    """Asks every node for each of `paths` every `every` seconds, one thread per node and
    path over a kept-alive connection, and records each answer."""

    def __init__(self, ports: Sequence[int], paths: Sequence[str], every: float = 0.1) -> None:
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._probe, args=(i, port, path, every), daemon=True)
            for i, port in enumerate(ports)
            for path in paths
        ]

    def __enter__(self) -> Prober:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _probe(self, node: int, port: int, path: str, every: float) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.wait(every):
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            started = time.monotonic()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body, status = response.read(), response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn, body, status = None, b"", 0
            answer = Answer(node, path, started, time.monotonic() - started, status, body)
            with self._lock:
                self.answers.append(answer)
        if conn is not None:
            conn.close()

    def between(self, start: float, end: float, path: str | None = None) -> list[Answer]:
        with self._lock:
            return [
                a for a in self.answers if start <= a.at <= end and path in (None, a.path)
            ]


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
