"""The browser's way out: a local forward proxy that connects under the address policy.

Chromium resolves a host again after `PageGuard` judged it, so a DNS answer that changes in
between (rebinding) would reach an address the guard never saw. Each browser context is
therefore given a listener of its own on 127.0.0.1 (an ephemeral port) that knows the
context's rules (`Rules`, the page's guard) and makes every connection itself: it resolves
the host, judges EVERY address found (one refused: `403` with the policy's words, and the
guard is told, which fails the fetch), and connects to an address it judged (no second
lookup). `CONNECT host:port` (https, wss) is answered 200 and spliced both ways; a plain
http request in absolute form (`GET http://host/path`) is sent on in origin form, one
request per connection (`Connection: close`), both messages framed by h11.

Bounded: the request head (64 KB) and the time to send it, the time to resolve and connect,
the idle time of a connection, and the connections open at once (`503` past it). Logs name
the origin (`host:port`), never a path or query (they may carry tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol
from urllib.parse import urlsplit

import h11
import httpx

from feedbridge.core.errors import FeedbridgeError
from feedbridge.fetch.addresses import Address, AddressPolicy, parse_address

log = logging.getLogger("feedbridge.browser")

CHUNK = 64 * 1024
# Request and response headers that concern one connection, not the message: dropped
# (`Connection: close` is set instead); `Proxy-Authorization` is the proxy's, not the site's.
HOP_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization",
     b"proxy-authenticate", b"te", b"trailer", b"upgrade"}
)  # fmt: skip


class Rules(Protocol):
    """What one context's connections are held to (`PageGuard` implements it)."""

    @property
    def policy(self) -> AddressPolicy: ...

    def after_public_for(self, host: str, port: int) -> bool:
        """Whether a connection to `host:port` counts as reached from a public page."""
        ...

    def refused_connection(self, origin: str, reason: str) -> None:
        """A connection the proxy refused (the guard had let it pass: DNS changed since)."""
        ...

    def unreachable(self, host: str, port: int, reason: str) -> None:
        """A connection that could not be made (no address, none answered)."""
        ...


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    max_head: int = 64 * 1024  # bytes of a request (or response) head
    head_timeout: float = 10.0  # seconds to send the request head
    connect_timeout: float = 10.0  # seconds to resolve the host and connect
    idle_timeout: float = 60.0  # seconds without a byte either way: the connection is closed
    max_connections: int = 256  # open at once, over all of the pool's listeners


class Refused(FeedbridgeError):
    """A connection not made: `status` and `reason` go back to the browser."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Resolver = Callable[[str, int], Awaitable[list[Address]]]


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` has (an IP literal is itself)."""
    literal = parse_address(host)
    if literal is not None:
        return [literal]
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    parsed = (parse_address(str(info[4][0])) for info in found)
    return list(dict.fromkeys(a for a in parsed if a is not None))


class BrowserProxy:
    """The pool's proxy: a listener per context (`listen`), closed with it; `aclose` ends all."""

    def __init__(self, limits: ProxyLimits | None = None, resolver: Resolver = resolve) -> None:
        self.limits = limits or ProxyLimits()
        self._resolve = resolver
        self._open = 0
        self._listeners: set[ProxyListener] = set()

    async def listen(self, rules: Rules) -> ProxyListener:
        """A new listener on 127.0.0.1 for one context's connections."""
        listener = ProxyListener(self, rules)
        listener.server = await asyncio.start_server(
            listener.handle, "127.0.0.1", 0, limit=self.limits.max_head
        )
        self._listeners.add(listener)
        return listener

    async def aclose(self) -> None:
        for listener in list(self._listeners):
            await listener.aclose()

    async def connect(
        self, rules: Rules, scheme: str, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to `host:port` under `rules`: Refused if the policy refuses any of
        its addresses, or none answers."""
        try:
            return await self._connect(rules, scheme, host, port)
        except Refused as exc:
            if exc.status != 403:
                rules.unreachable(host, port, exc.reason)
            raise

    async def _connect(
        self, rules: Rules, scheme: str, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        origin = f"{scheme}://{_authority(host, port)}"
        after_public = rules.after_public_for(host, port)
        reason = rules.policy.host_refusal(host)
        try:
            async with asyncio.timeout(self.limits.connect_timeout):
                if reason is None:
                    try:
                        addresses = await self._resolve(host, port)
                    except OSError as exc:
                        raise Refused(502, f"cannot resolve {host}: {exc}") from None
                    if not addresses:
                        raise Refused(502, f"{host} has no address")
                    reason = next(
                        (r for a in addresses
                         if (r := rules.policy.refusal(a, after_public=after_public))),
                        None,
                    )  # fmt: skip
                if reason is not None:
                    rules.refused_connection(origin, reason)
                    log.warning(
                        "browser connection refused", extra={"origin": origin, "reason": reason}
                    )
                    raise Refused(403, f"refused: {reason}")
                failed: OSError | None = None
                for address in addresses:  # each one judged above: no second lookup
                    try:
                        return await asyncio.open_connection(
                            str(address), port, limit=self.limits.max_head
                        )
                    except OSError as exc:
                        failed = exc
                raise Refused(502, f"cannot connect to {_authority(host, port)}: {failed}")
        except TimeoutError:
            seconds = self.limits.connect_timeout
            target = _authority(host, port)
            raise Refused(504, f"no connection to {target} within {seconds:g}s") from None


class ProxyListener:
    """One context's listener: `url` is what the context's `proxy.server` names."""

    def __init__(self, proxy: BrowserProxy, rules: Rules) -> None:
        self.proxy = proxy
        self.rules = rules
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def aclose(self) -> None:
        """Stop listening and end the connections still open."""
        self.proxy._listeners.discard(self)
        self._closing = True
        if self.server is not None:
            self.server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        proxy = self.proxy
        try:
            if proxy._open >= proxy.limits.max_connections:
                busy = "too many connections through the browser's proxy"
                await _answer(reader, writer, 503, busy)
                return
            proxy._open += 1
            try:
                await self._serve(reader, writer)
            finally:
                proxy._open -= 1
        except (OSError, h11.ProtocolError):
            pass  # the browser went away, or a side was idle too long
        except asyncio.CancelledError:
            if not self._closing:
                raise  # (ended by `aclose`: a normal end, which asyncio should not report)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        limits = self.proxy.limits
        client = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head)
        try:
            async with asyncio.timeout(limits.head_timeout):
                request = await _head(client, reader, limits.max_head)
        except TimeoutError:  # a connection opened ahead (nothing sent) just ends
            if client.trailing_data[0]:
                message = f"no request head within {limits.head_timeout:g}s"
                await _answer(reader, writer, 408, message)
            return
        except h11.RemoteProtocolError as exc:
            await _answer(reader, writer, exc.error_status_hint, f"bad request: {exc}")
            return
        if not isinstance(request, h11.Request):
            return  # the browser closed before asking anything
        try:
            if request.method == b"CONNECT":
                await self._tunnel(client, request, reader, writer)
            else:
                await self._forward(client, request, reader, writer)
        except Refused as exc:
            await _answer(reader, writer, exc.status, exc.reason)

    async def _tunnel(
        self,
        client: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """CONNECT host:port: a connection under the rules, then bytes both ways."""
        target = request.target.decode("ascii", "replace")
        try:
            parts = urlsplit(f"//{target}")
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if not host or port is None:
            raise Refused(400, f"CONNECT needs host:port, not {target[:100]!r}")
        up_reader, up_writer = await self.proxy.connect(self.rules, "https", host, port)
        try:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            early, _ = client.trailing_data  # bytes the browser sent after its head
            if early:
                up_writer.write(early)
            await _splice(reader, writer, up_reader, up_writer, self.proxy.limits.idle_timeout)
        finally:
            up_writer.close()

    async def _forward(
        self,
        client: h11.Connection,
        request: h11.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """`GET http://host/path`: sent on as `GET /path` with `Connection: close`, the
        request body after it; the response back, then the connection ends."""
        try:
            url = httpx.URL(request.target.decode("ascii"))
        except (httpx.InvalidURL, UnicodeDecodeError):
            url = httpx.URL()
        if url.scheme != "http" or not url.host:
            raise Refused(400, "a proxy request names an absolute http:// URL")
        port = url.port or 80
        up_reader, up_writer = await self.proxy.connect(self.rules, "http", url.host, port)
        idle = self.proxy.limits.idle_timeout
        upstream = h11.Connection(h11.CLIENT, max_incomplete_event_size=self.proxy.limits.max_head)
        try:
            up_writer.write(
                upstream.send(
                    h11.Request(
                        method=request.method,
                        target=url.raw_path,
                        headers=[*_end_to_end(request), (b"Connection", b"close")],
                    )
                )
                or b""
            )
            sending = asyncio.create_task(_relay(client, reader, upstream, up_writer, idle))
            try:
                await _relay(upstream, up_reader, client, writer, idle)
            finally:
                sending.cancel()
                with contextlib.suppress(BaseException):
                    await sending
        except h11.RemoteProtocolError as exc:
            if client.our_state is h11.SEND_RESPONSE:
                raise Refused(502, f"bad response from {url.host}: {exc}") from None
        finally:
            up_writer.close()


def _end_to_end(message: h11.Request | h11.Response) -> list[tuple[bytes, bytes]]:
    """A message's headers without the connection's (`Connection` and those it names)."""
    named = {
        token.strip().lower()
        for name, value in message.headers
        if name == b"connection"
        for token in value.split(b",")
    }
    dropped = HOP_HEADERS | named
    return [(raw, value) for raw, value in message.headers.raw_items()
            if raw.lower() not in dropped]  # fmt: skip


async def _next(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Event | type[h11.PAUSED]:
    """The next event of `conn`, reading from `reader` as it needs."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        conn.receive_data(await reader.read(CHUNK))


async def _head(
    conn: h11.Connection, reader: asyncio.StreamReader, max_head: int
) -> h11.Event | type[h11.PAUSED]:
    """The request head, at most `max_head` bytes (h11's own bound lets a read's worth more)."""
    received = 0
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            if received - len(conn.trailing_data[0]) > max_head:
                break
            return event  # type: ignore[return-value]
        if received > max_head:
            break
        data = await reader.read(CHUNK)
        received += len(data)
        conn.receive_data(data)
    raise h11.RemoteProtocolError(f"request head over {max_head} bytes", error_status_hint=431)


async def _relay(
    source: h11.Connection,
    reader: asyncio.StreamReader,
    sink: h11.Connection,
    writer: asyncio.StreamWriter,
    idle: float,
) -> None:
    """One message from `source` on to `sink`, re-framed by h11: the request's body (browser
    to site), or the site's response (back to the browser with `Connection: close`). Ends
    with the message, or when its sender closes early."""
    while True:
        async with asyncio.timeout(idle):
            event = await _next(source, reader)
        if isinstance(event, h11.InformationalResponse):
            if event.status_code == 100:
                writer.write(sink.send(event) or b"")
            continue
        if isinstance(event, h11.Response):
            headers = [*_end_to_end(event), (b"Connection", b"close")]
            event = h11.Response(status_code=event.status_code, headers=headers,
                                 reason=event.reason)  # fmt: skip
        elif isinstance(event, h11.EndOfMessage):
            event = h11.EndOfMessage()  # no trailers
        elif not isinstance(event, h11.Data):
            return  # closed early
        writer.write(sink.send(event) or b"")
        async with asyncio.timeout(idle):
            await writer.drain()
        if isinstance(event, h11.EndOfMessage):
            return


async def _splice(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
    idle: float,
) -> None:
    """Bytes both ways until both sides are done, or neither sends for `idle` seconds."""
    last = [asyncio.get_running_loop().time()]

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(CHUNK)
            last[0] = asyncio.get_running_loop().time()
            if not data:
                if writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    pipes = [
        asyncio.create_task(pipe(a_reader, b_writer)),
        asyncio.create_task(pipe(b_reader, a_writer)),
    ]
    try:
        pending: set[asyncio.Task[None]] = set(pipes)
        while pending:
            wait = idle - (asyncio.get_running_loop().time() - last[0])
            done, pending = await asyncio.wait(pending, timeout=max(wait, 0.0))
            for task in done:
                task.result()  # an error ends the splice
            if not done and asyncio.get_running_loop().time() - last[0] >= idle:
                return
    finally:
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int, reason: str
) -> None:
    """A short plain-text answer from the proxy itself, then the connection ends: what the
    browser sent on is read (up to 1 s, 1 MB) first, or closing would reset the connection
    and lose the answer."""
    body = f"{reason}\n".encode()
    phrase = HTTPStatus(status).phrase
    writer.write(
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(5):
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(1):
            left = 1024 * 1024
            while left > 0 and (data := await reader.read(CHUNK)):
                left -= len(data)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
