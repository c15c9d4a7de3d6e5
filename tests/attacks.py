"""Hostile clients of an exposed port, on loopback and bounded: a flood of request headers,
connections that trickle a request, one that stays silent. The tests and the bench
(`python -m bench --only port`) run them against a running server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

LOCAL = "127.0.0.1"
MB = 1 << 20


def rss_mb(pid: int) -> float:
    """A process's resident memory now, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for process {pid}")


@dataclass
class Flood:
    """What a header flood did: bytes each connection got in before the server closed it,
    the server's answers, and its memory before, at the peak and after."""

    sent: list[int] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)
    before_mb: float = 0.0
    peak_mb: float = 0.0
    after_mb: float = 0.0
    stopped: bool = False  # memory grew past `give_up_mb`: the flood was cut short

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.before_mb


async def flood_headers(
    port: int,
    pid: int,
    *,
    connections: int = 4,
    size: int = 200 * MB,
    give_up_mb: float = 300.0,
    settle: float = 1.0,
) -> Flood:
    """`connections` requests that each send up to `size` bytes of headers (8 KB lines), at
    once, while the server's memory is sampled; stops early when it grew by `give_up_mb`."""
    result = Flood(before_mb=rss_mb(pid))
    result.peak_mb = result.before_mb
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            result.peak_mb = max(result.peak_mb, rss_mb(pid))
            if result.peak_mb - result.before_mb > give_up_mb:
                result.stopped = True
                done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.02)

    async def one() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(LOCAL, port)
        chunk = (b"X-Flood: " + b"a" * 8181 + b"\r\n") * 16  # 128 KB
        sent = 0
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        try:
            while sent < size and not done.is_set():
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        except OSError:  # the server closed the connection: what we wanted
            pass
        answer = b""
        with contextlib.suppress(OSError, TimeoutError):
            answer = await asyncio.wait_for(reader.read(200), 2)
        writer.transport.abort()
        return sent, answer

    sampler = asyncio.create_task(sample())
    outcomes = await asyncio.gather(*(one() for _ in range(connections)))
    await asyncio.sleep(settle)  # what the server keeps once the attack is over
    result.after_mb = rss_mb(pid)
    done.set()
    await sampler
    result.sent = [sent for sent, _ in outcomes]
    result.answers = [answer for _, answer in outcomes]
    return result


@dataclass
class Trickle:
    """Connections that sent a request one byte a second: when the server closed each (seconds
    after connecting, None if still open at the end), and what it answered."""

    closed_after: list[float | None] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)


async def trickle(
    port: int, *, connections: int = 300, interval: float = 1.0, duration: float = 15.0
) -> Trickle:
    """`connections` requests whose headers arrive one byte every `interval` s, for at most
    `duration` s; each ends when the server closes it."""
    start = time.monotonic()

    async def one() -> tuple[float | None, bytes]:
        opened = time.monotonic()  # before the server's clock starts
        reader, writer = await asyncio.open_connection(LOCAL, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        answer = b""
        while time.monotonic() - start < duration:
            try:
                answer = await asyncio.wait_for(reader.read(200), interval)
            except TimeoutError:
                try:
                    writer.write(b"a")
                    await writer.drain()
                except OSError:
                    return time.monotonic() - opened, answer
                continue
            except OSError:
                answer = b""
            writer.transport.abort()
            return time.monotonic() - opened, answer  # read() returned: the server closed
        writer.transport.abort()
        return None, answer

    outcomes = await asyncio.gather(*(one() for _ in range(connections)))
    return Trickle([c for c, _ in outcomes], [a for _, a in outcomes])


async def served_meanwhile(url: str, until: asyncio.Event, every: float = 0.1) -> list[float]:
    """A normal reader's GETs of `url`, one every `every` s until `until` is set: each one's
    latency in seconds (a failure or a status other than 200 raises)."""
    import httpx

    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        while not until.is_set():
            started = time.monotonic()
            response = await client.get(url, headers={"Connection": "close"})
            response.raise_for_status()
            latencies.append(time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), every)
    return latencies
