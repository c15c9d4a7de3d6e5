"""Case port: an exposed port under attack, feedbridge's guarded uvicorn against uvicorn's
own httptools and h11 protocols (`bench/serve_app.py`), each in a process of its own.

- header flood: 4 connections each sending up to 200 MB of request headers at once; the
  server's resident memory before, at its peak and 1 s after (a protocol whose memory grows
  past 400 MB is stopped there: the row then says "stopped").
- trickle: 300 connections sending their headers a byte a second for 15 s while a normal
  reader GETs the feed every 0.1 s: the reader's p99 latency and how many slow connections
  the server still held at the end.

Everything is on 127.0.0.1 (tests/attacks.py has the clients).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import LOCAL, ROOT, Row, Stat, free_port, stop, wait_port
from tests.attacks import flood_headers, served_meanwhile, trickle

PROTOCOLS = ("guarded", "httptools", "h11")
FEED = "/feeds/papers.atom"


def _start(protocol: str, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.serve_app", str(port), str(work), protocol],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, proc=proc)
    return proc, port


def _p99(values: list[float]) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))] if ranked else float("nan")


async def _trickled(port: int, connections: int, seconds: float) -> dict[str, float]:
    # the reader in a process of its own: the attackers' loop must not delay its timing
    reader = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.case_port", f"http://{LOCAL}:{port}{FEED}", str(seconds),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    slow = await trickle(port, connections=connections, interval=1.0, duration=seconds)
    latencies = json.loads((await reader.communicate())[0])
    return {
        "reader_p99_ms": _p99(latencies) * 1000,
        "reader_requests": float(len(latencies)),
        "held_at_end": float(sum(1 for c in slow.closed_after if c is None)),
    }


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    runs = 1 if quick else 2
    seconds = 12.0 if quick else 15.0
    work = Path(tempfile.mkdtemp(prefix="fb-bench-port-"))
    growth: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    after: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    p99: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    held: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    stopped: dict[str, bool] = dict.fromkeys(PROTOCOLS, False)
    for _ in range(runs):
        for protocol in PROTOCOLS:  # alternating, so that all see the same machine
            proc, port = _start(protocol, work)
            try:
                flood = asyncio.run(flood_headers(port, proc.pid, give_up_mb=400))
                growth[protocol].append(flood.growth_mb)
                after[protocol].append(flood.after_mb - flood.before_mb)
                stopped[protocol] |= flood.stopped
                slow = asyncio.run(_trickled(port, 300, seconds))
                p99[protocol].append(slow["reader_p99_ms"])
                held[protocol].append(slow["held_at_end"])
            finally:
                stop(proc)
    rows: list[Row] = []
    for protocol in PROTOCOLS[1:]:
        note = "stopped at 400 MB" if stopped[protocol] else ""
        rows += [
            Row("port", "header flood 4 x 200 MB: peak memory growth", "MB",
                Stat(growth["guarded"]), f"uvicorn {protocol}", Stat(growth[protocol]),
                note=note),
            Row("port", "header flood: memory kept 1 s after", "MB",
                Stat(after["guarded"]), f"uvicorn {protocol}", Stat(after[protocol])),
            Row("port", "300 trickling connections: a reader's p99", "ms",
                Stat(p99["guarded"]), f"uvicorn {protocol}", Stat(p99[protocol])),
            Row("port", f"300 trickling connections: held after {seconds:.0f} s", "conns",
                Stat(held["guarded"]), f"uvicorn {protocol}", Stat(held[protocol])),
        ]  # fmt: skip
    details = {"growth_mb": growth, "after_mb": after, "reader_p99_ms": p99, "held": held,
               "stopped": stopped}  # fmt: skip
    return rows, details


async def _read_for(url: str, seconds: float) -> list[float]:
    over = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, over.set)
    return await served_meanwhile(url, over)


if __name__ == "__main__":  # the reader: python -m bench.case_port URL SECONDS
    print(json.dumps(asyncio.run(_read_for(sys.argv[1], float(sys.argv[2])))))
