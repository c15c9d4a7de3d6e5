"""A hostile HTTP server for tests: one raw-socket server, one path per misbehaviour.

pytest-httpserver (werkzeug) answers politely; the behaviours here need a socket
the test controls byte by byte: drip, hang, reset mid-response, gzip bombs.
Every connection gets its own thread and `Connection: close`; `stop()` ends
the dripping and hanging ones too.

Paths (the query string is ignored unless said):

    /drip                 200, promises 3,600 bytes, sends one a second
    /hang                 reads the request, never answers
    /reset                200, sends 1,000 of 100,000 bytes, then a TCP reset
    /reset-headers        half a status line, then a TCP reset
    /redirect             302 to /redirect?n=N+1, for ever
    /big                  20 MB of XML-ish bytes, no Content-Length (close-delimited)
    /big-declared         the same with `Content-Length: 20000000`
    /gzip-bomb            ~60 KB of gzip that inflates to 64 MB
    /gzip-bomb-nested     `Content-Encoding: gzip, gzip`: 8 KB that inflates to 1 GB
    /429?after=S          429 with `Retry-After: S` (seconds)
    /429-date?after=S     429 with `Retry-After` as an HTTP-date S seconds ahead
    /500                  500 every time
    anything `serve()`d   a fixed response, or a callable's
"""

from __future__ import annotations

import contextlib
import gzip
import select
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

BIG = 20_000_000


@dataclass(frozen=True)
class Reply:
    """A complete response to send and then close."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_length: bool = True


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    hit: int = 0  # how many requests this path had, this one included

    def arg(self, name: str, default: str) -> str:
        return self.query.get(name, [default])[0]


Handler = Callable[[Request], Reply]
_REASONS = {
    200: "OK",
    302: "Found",
    304: "Not Modified",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@cache
def gzip_bomb() -> bytes:
    """64 MB of zeros, gzip level 9: about 60 KB on the wire."""
    return gzip.compress(bytes(64 * 2**20), compresslevel=9, mtime=0)


@cache
def nested_gzip_bomb() -> bytes:
    """1 GB of zeros gzipped twice: a few KB that a one-shot decoder inflates to 1 GB."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(2**20)
    parts = [inner.compress(chunk) for _ in range(1024)]
    parts.append(inner.flush())
    return gzip.compress(b"".join(parts), compresslevel=9, mtime=0)


def http_date(seconds_ahead: float) -> str:
    return formatdate(time.time() + seconds_ahead, usegmt=True)


class ChaosServer:
    """Serves the behaviours above on 127.0.0.1 (a free port) until `stop()`."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.hits: Counter[str] = Counter()
        self.routes: dict[str, Handler] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    # --- setup ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes | Handler = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Answer `path` with a fixed response (or a handler's); returns its URL."""
        if callable(body):
            self.routes[path] = body
        else:
            reply = Reply(status, body, dict(headers or {}))
            self.routes[path] = lambda _request: reply
        return self.url(path)

    def serve_flapping(
        self, path: str, good: Callable[[], bytes], headers: Mapping[str, str], run: int = 1
    ) -> str:
        """`run` good answers, then `run` 500s, and so on: a source that keeps falling over."""

        def handle(request: Request) -> Reply:
            if ((request.hit - 1) // run) % 2:
                return Reply(500, b"flapping")
            return Reply(200, good(), headers)

        return self.serve(path, handle)

    def start(self) -> ChaosServer:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _quiet_close(conn)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> ChaosServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- plumbing ---------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
            self._spawn(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        try:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                self.hits[request.path] += 1
                request = replace(request, hit=self.hits[request.path])
            self._dispatch(conn, request)
        except OSError:
            pass  # the client gave up: that is the point of most behaviours
        finally:
            with self._lock:
                self._conns.discard(conn)
            _quiet_close(conn)

    def _dispatch(self, conn: socket.socket, request: Request) -> None:
        path = request.path
        if path in self.routes:
            _send(conn, self.routes[path](request))
            return
        if path == "/drip":
            conn.sendall(_head(200, {"Content-Type": "application/xml", "Content-Length": "3600"}))
            while not self._stopping.wait(1.0):
                conn.sendall(b" ")
        elif path == "/hang":
            while not self._stopping.is_set():  # until the client gives up
                readable, _, _ = select.select([conn], [], [], 0.5)
                if readable and not conn.recv(4096):
                    return
        elif path == "/reset":
            conn.sendall(
                _head(200, {"Content-Type": "application/xml", "Content-Length": "100000"})
            )
            conn.sendall(b"<rss>" + b" " * 995)
            time.sleep(0.05)
            _reset(conn)
        elif path == "/reset-headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-")
            time.sleep(0.05)
            _reset(conn)
        elif path == "/redirect":
            n = int(request.arg("n", "0"))
            _send(conn, Reply(302, b"", {"Location": f"/redirect?n={n + 1}"}))
        elif path in ("/big", "/big-declared"):
            headers = {"Content-Type": "application/xml"}
            if path == "/big-declared":
                headers["Content-Length"] = str(BIG)
            conn.sendall(_head(200, headers))
            block = b"<item>" + b"x" * 65_530
            for _ in range(BIG // len(block) + 1):
                if self._stopping.is_set():
                    return
                conn.sendall(block)
        elif path == "/gzip-bomb":
            _send(
                conn,
                Reply(
                    200,
                    gzip_bomb(),
                    {"Content-Type": "application/xml", "Content-Encoding": "gzip"},
                ),
            )
        elif path == "/gzip-bomb-nested":
            _send(
                conn,
                Reply(
                    200,
                    nested_gzip_bomb(),
                    {"Content-Type": "application/xml", "Content-Encoding": "gzip, gzip"},
                ),
            )
        elif path == "/429":
            _send(conn, Reply(429, b"slow down", {"Retry-After": request.arg("after", "3600")}))
        elif path == "/429-date":
            after = float(request.arg("after", "3600"))
            _send(conn, Reply(429, b"slow down", {"Retry-After": http_date(after)}))
        elif path == "/500":
            _send(conn, Reply(500, b"internal error"))
        else:
            _send(conn, Reply(404, b"no such behaviour"))


def _read_request(conn: socket.socket) -> Request | None:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    conn.settimeout(None)
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return Request(method, parts.path, parse_qs(parts.query), headers)


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Whatever')}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send(conn: socket.socket, reply: Reply) -> None:
    headers = dict(reply.headers)
    if reply.content_length:
        headers["Content-Length"] = str(len(reply.body))
    conn.sendall(_head(reply.status, headers) + reply.body)


def _reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a TCP RST, not an orderly FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _quiet_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


# --- a tiny TOML writer (tomllib reads, nothing in the stdlib writes) -----------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join(
            {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c)
            or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
            for c in value
        )
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else toml_value(key)


def to_toml(document: Mapping[str, Any]) -> str:
    """Top-level scalars, then `[table]`s, then `[[array]]`s of tables; inline below that."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, Iterable[Mapping[str, Any]]]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, table in tables:
        lines.append(f"[{toml_key(key)}]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    for key, items in arrays:
        for item in items:
            lines.append(f"[[{toml_key(key)}]]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"
