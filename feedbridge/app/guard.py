"""The HTTP server's guard on an exposed port: uvicorn's httptools protocol with the bounds
its parser lacks, so hostile clients cost a bounded amount of memory and no reader waits.

- a request's head (request line and headers) is at most `HEAD_BYTES` with at most
  `HEADERS` headers, else 431 and the connection closes: httptools keeps any amount;
- a request must arrive whole (head and body) within `request_timeout` of the connection's
  start or of the request's first byte, else 408 and close: trickling clients are dropped;
- at most `max_connections` connections at once; one more is closed at once (uvicorn's own
  `limit_concurrency` would keep it open to answer 503).

Idle keep-alive connections close after uvicorn's `timeout_keep_alive`.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_BYTES = 64 * 1024  # nginx: 32 KB (4 x 8k); a feed URL with a token is far below
HEADERS = 100
KEEP_ALIVE = 5.0  # seconds an idle connection is kept between requests (uvicorn's default)


def _response(status: int, reason: str, text: str) -> bytes:
    body = f"{text}\n".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


TOO_LARGE = _response(431, "Request Header Fields Too Large", "request headers too large")
TOO_SLOW = _response(408, "Request Timeout", "request not received in time")


class GuardedProtocol(HttpToolsProtocol):
    """One connection, bounded; `guarded_protocol` sets the limits of a server's class."""

    max_connections: ClassVar[int] = 1000
    request_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # receiving a request's head, or waiting for one
        self._head_bytes = 0  # bytes received while in the head (its body too, on its last read)
        self._head_size = 0  # the head's bytes as parsed: its URL and headers
        self._header_count = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refused = True
            transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)  # may finish the head: the rest of `data` is its body
        if self._in_head and self._head_bytes > HEAD_BYTES:
            self._refuse(TOO_LARGE)

    # the parser's callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the first request keeps the connection's deadline
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._grow(len(url))
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > HEADERS:
            self._refuse(TOO_LARGE)
        self._grow(len(name) + len(value) + 4)  # "name: value\r\n"
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        self._in_head, self._head_bytes, self._head_size, self._header_count = True, 0, 0, 0
        super().on_message_complete()

    def _grow(self, size: int) -> None:
        """Count the parsed head: a head that arrived whole in one read (up to the event
        loop's read size) never crossed `data_received`'s check while it was incomplete."""
        self._head_size += size
        if self._head_size > HEAD_BYTES:
            self._refuse(TOO_LARGE)

    # the deadline of the request being received
    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self._in_head and self._head_bytes:
            self._refuse(TOO_SLOW)
            return
        # connected and silent: nothing to answer; or a body still trickling in while the
        # app answers: its response is sent, then the connection closes
        self._refused = True
        self.transport.close()

    def _refuse(self, response: bytes) -> None:
        """Answer (431, 408) and close; the parser's later callbacks do nothing."""
        if self._refused:
            return
        self._refused = True
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def guarded_protocol(max_connections: int, request_timeout: float) -> type[GuardedProtocol]:
    """The protocol class for one server, with its limits (uvicorn builds one per connection)."""
    return type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {"max_connections": max_connections, "request_timeout": request_timeout},
    )
