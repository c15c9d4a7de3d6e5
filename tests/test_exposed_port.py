"""Hostile clients against `feedbridge run`'s port, on loopback: header floods, trickling and
silent connections cost bounded memory, are dropped in bounded time, and a normal reader is
served meanwhile (app/guard.py)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks import MB, flood_headers, served_meanwhile, trickle
from tests.conftest import start_run
from tests.test_run import free_port, wait_for


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`feedbridge run` with no sources, its request timeout at 2 s and 400 connections."""
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
request_timeout = "2s"
max_connections = 400
""")
    proc = start_run(config, tmp_path, output=False)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield port, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_flood_of_request_headers_is_refused_and_costs_the_server_a_few_mb(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    """4 connections each sending up to 200 MB of headers: each is answered 431 and closed
    after its first 64 KB (the client gets a few MB into kernel buffers first), and the
    server's memory barely moves (uvicorn's httptools parser alone keeps every byte)."""
    port, proc = server
    flood = asyncio.run(flood_headers(port, proc.pid, give_up_mb=100))
    assert not flood.stopped, f"the server grew by {flood.growth_mb:.0f} MB"
    assert all(sent < 16 * MB for sent in flood.sent), flood.sent  # kernel buffers, then reset
    assert flood.growth_mb < 8, f"{flood.before_mb:.0f} -> {flood.peak_mb:.0f} MB"
    answered = [a for a in flood.answers if a]  # a reset may beat the answer to the client
    assert all(a.startswith(b"HTTP/1.1 431 ") for a in answered), answered
    wait_for(f"http://127.0.0.1:{port}/healthz")


def _ask(port: int, headers: int, pad: int = 0) -> bytes:
    """One GET /healthz with `headers` headers in all (Host included), each a few bytes but
    the last, padded by `pad` bytes, sent in one write: the answer, read until the server
    closes the connection."""
    head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    head += b"".join(b"X-N%d: 1\r\n" % i for i in range(headers - 3))
    head += b"X-Pad: " + b"a" * pad + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    return answer


def test_a_head_of_more_than_100_headers_or_64_kb_is_refused_however_it_arrives(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    """The head's count is bounded as well as its size: 101 headers of a few bytes are
    answered 431, 100 are served; and a 70 KB head is refused even when it arrives in one
    read (the flood test sends it over many), where a 60 KB one is served."""
    port, _ = server
    refused = b"HTTP/1.1 431 Request Header Fields Too Large"
    assert _ask(port, 100).startswith(b"HTTP/1.1 200 ")
    answer = _ask(port, 101)
    assert answer.startswith(refused) and answer.endswith(b"request headers too large\n")
    assert _ask(port, 3, pad=70_000).startswith(refused)
    assert _ask(port, 3, pad=60_000).startswith(b"HTTP/1.1 200 ")
    assert _ask(port, 3).startswith(b"HTTP/1.1 200 ")  # the server goes on serving


def test_trickling_connections_are_dropped_and_a_reader_is_served_meanwhile(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    """300 connections sending their headers a byte every half second: each is answered 408
    and closed once its request took 2 s (request_timeout), while a reader's GETs go through
    (uvicorn alone held every one for as long as it trickled)."""
    port, _ = server

    async def attack() -> tuple[list[float | None], list[bytes], list[float]]:
        over = asyncio.Event()
        reader = asyncio.create_task(served_meanwhile(f"http://127.0.0.1:{port}/healthz", over))
        slow = await trickle(port, connections=300, interval=0.5, duration=12)
        over.set()
        return slow.closed_after, slow.answers, await reader

    closed_after, answers, latencies = asyncio.run(attack())
    assert None not in closed_after, "connections still held after 12 s"
    assert all(1.5 < c < 10 for c in closed_after if c is not None), closed_after
    assert {a[:13] for a in answers} == {b"HTTP/1.1 408 "}, set(answers)
    assert len(latencies) >= 3 and max(latencies) < 5, latencies


def test_silent_connections_are_closed_and_those_past_the_limit_at_once(
    server: tuple[int, subprocess.Popen[str]],
) -> None:
    """410 connections that say nothing: the 10 past `max_connections` (400) are closed at
    once, the others after request_timeout (2 s); the port then serves as before."""
    port, _ = server

    async def silent() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()  # before the server's clock starts
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.wait_for(reader.read(1), 10)
        except (ConnectionResetError, TimeoutError):
            pass
        finally:
            writer.transport.abort()
        return loop.time() - started

    async def attack() -> list[float]:
        return list(await asyncio.gather(*(silent() for _ in range(410))))

    held = sorted(asyncio.run(attack()))
    assert max(held[:10]) < 1, held[:10]  # refused at once, not kept to answer 503
    assert all(1.5 < t < 8 for t in held[10:]), held[10:]
    wait_for(f"http://127.0.0.1:{port}/healthz")
