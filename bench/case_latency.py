"""Case latency: serving while the sources send what is costly to parse (issue 19, item 9).

`feedbridge run` (a process of its own) polls 50 `feed` sources every 10 s from
`bench/hostile_upstream.py`: 25 answer 1.2 MB of deeply nested XML, 25 a 4 MB RSS feed, a
different body each time. Meanwhile a reader (another process) GETs a cached feed
(`/feeds/quiet.atom`) and `/healthz` in turn, one request every 20 ms on one kept-alive
connection, and records each latency. Three variants, alternating:

- quiet: only the cached feed's source, nothing else polling (the baseline);
- processes: the 50 sources, large pages examined in worker processes (the default);
- event loop: the 50 sources, `[worker] extraction_processes = 0` (every page examined on
  the event loop, as before issue 19).

Reported: the reader's p99 (and p50, max, requests in the extras), and the polls done.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import LOCAL, ROOT, Row, Stat, free_port, stop, wait_port

VARIANTS = ("quiet", "processes", "event loop")
SOURCES = 50


def _config(work: Path, port: int, upstream: int, variant: str) -> Path:
    lines = [
        "log_level = \"warning\"",
        f"[storage]\npath = \"{work / variant.replace(' ', '-')}\"",
        f"[server]\nport = {port}",
        "[worker]" + ("\nextraction_processes = 0" if variant == "event loop" else ""),
        "[http]\nconcurrency = 50\nper_host = 50",
        f"[[sources]]\nname = \"quiet\"\nkind = \"feed\"\nurl = \"http://{LOCAL}:{upstream}/quiet.rss\"",
    ]
    if variant != "quiet":
        for i in range(SOURCES):
            path = f"nested/{i}.xml" if i % 2 else f"big/{i}.rss"
            lines.append(
                f"[[sources]]\nname = \"hostile-{i}\"\nkind = \"feed\"\n"
                f"url = \"http://{LOCAL}:{upstream}/{path}\"\ninterval = \"10s\""
            )
    config = work / f"{variant.replace(' ', '-')}.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _polls(port: int) -> float:
    import httpx

    try:  # on the event loop a request may wait for minutes of parsing
        text = httpx.get(f"http://{LOCAL}:{port}/metrics", timeout=600).text
    except httpx.HTTPError:
        return float("nan")
    pattern = r'^feedbridge_source_polls_total\{source="hostile-[^"]*"\} (\S+)'
    found = re.findall(pattern, text, re.M)
    return sum(float(v) for v in found)


def _percentile(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(len(ranked) * q))] if ranked else float("nan")


def _measure(config: Path, work: Path, port: int, seconds: float) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, timeout=30, proc=proc)
        base = f"http://{LOCAL}:{port}"
        deadline = time.monotonic() + 60
        while _get_status(f"{base}/feeds/quiet.atom") != 200:  # the quiet feed, polled once
            if time.monotonic() > deadline:
                raise RuntimeError("the quiet feed was not served within 60 s")
            time.sleep(0.2)
        reader = subprocess.run(
            [sys.executable, "-m", "bench.case_latency", f"{base}/feeds/quiet.atom",
             f"{base}/healthz", str(seconds)],
            cwd=ROOT, capture_output=True, text=True, timeout=seconds + 900, check=False,
        )  # fmt: skip
        if reader.returncode:
            raise RuntimeError(f"the reader failed: {reader.stderr[-1500:]}")
        latencies = [v * 1000 for v in json.loads(reader.stdout)]
        polls = _polls(port)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
            stopped = time.monotonic() - started
        except subprocess.TimeoutExpired:
            stopped = float("nan")
    finally:
        stop(proc)
    return {
        "p50_ms": _percentile(latencies, 0.5),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "requests": float(len(latencies)),
        "polls": polls,
        "stop_s": stopped,
    }


def _get_status(url: str) -> int:
    import httpx

    try:
        return httpx.get(url, timeout=30).status_code
    except httpx.HTTPError:
        return 0


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    runs = 1  # each run is long: polls must finish inside it (1.2 MB of nesting: ~7 s of CPU)
    seconds = 30.0 if quick else 60.0
    work = Path(tempfile.mkdtemp(prefix="fb-bench-latency-"))
    upstream_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "bench.hostile_upstream", str(upstream_port)], cwd=ROOT
    )
    found: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    try:
        wait_port(upstream_port, timeout=30, proc=upstream)
        for _ in range(runs):
            for variant in VARIANTS:
                port = free_port()
                config = _config(work, port, upstream_port, variant)
                found[variant].append(_measure(config, work, port, seconds))
    finally:
        stop(upstream)
    quiet = Stat([r["p99_ms"] for r in found["quiet"]])
    rows = [
        Row("latency", f"cached feed + /healthz p99, {SOURCES} hostile sources, {variant}",
            "ms", Stat([r["p99_ms"] for r in found[variant]]), "quiet run", quiet,
            extra={"runs": found[variant]})
        for variant in VARIANTS[1:]
    ]  # fmt: skip
    return rows, {"runs": found, "seconds": seconds}


async def _read(urls: list[str], seconds: float, every: float = 0.02) -> list[float]:
    import httpx

    latencies: list[float] = []
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=600) as client:  # on the event loop: 40 s seen
        i = 0
        while time.monotonic() < end:
            started = time.monotonic()
            response = await client.get(urls[i % len(urls)])
            if response.status_code != 200:
                raise RuntimeError(f"{response.url}: {response.status_code} {response.text!r}")
            latencies.append(time.monotonic() - started)
            i += 1
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))
    return latencies


if __name__ == "__main__":  # the reader: python -m bench.case_latency URL... SECONDS
    print(json.dumps(asyncio.run(_read(sys.argv[1:-1], float(sys.argv[-1])))))
