"""Case 7, browser: 20 script-built pages through `fetch = "browser"`, at max_pages 1, 2, 4.

Each page fetches its own JSON file and adds its ten items after a 100 ms timer, as the
tests' page does; a `python -m http.server` process serves them on 127.0.0.1. Per run: a
fresh BrowserPool (Debian's Chromium, started and warmed by one page outside the timing),
then the 20 pages fetched and extracted by an html source, all at once as the worker's
pollers would, `max_pages` at a time. Reported: pages per second, and peak memory of
feedbridge plus every process below it (Chromium's, Playwright's driver), sampled every
20 ms from /proc: the sum of RSS (what `top` adds up; shared pages counted in each
process) and of PSS (shared pages split; closer to what the machine really spends).
Baseline for speed: the same 20 GETs through the http fetcher (which finds no items).
Also one page's load time (page, its JSON and favicon; image blocked) through the pool's
proxy, which makes every connection of the page under the address policy, against the same
page with Chromium connecting by itself: one pool, alternating A B A B.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, Row, Stat, free_port, wait_port

PAGES = 20
MAX_PAGES = (1, 2, 4)
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Board {n}</title></head>
<body><h1>Board {n}</h1><ul id="items"></ul><img src="/logo.png" alt="">
<script>
fetch("items-{n}.json").then(r => r.json()).then(items => setTimeout(() => {{
  const list = document.getElementById("items");
  for (const it of items) {{
    const li = document.createElement("li");
    li.className = "item";
    li.innerHTML = `<a href="${{it.path}}">${{it.title}}</a> <time datetime="${{it.date}}"></time>`
      + `<p>${{it.text}}</p>`;
    list.appendChild(li);
  }}
}}, 100));
</script></body></html>"""


def write_site(root: Path) -> None:
    for n in range(PAGES):
        (root / f"page-{n}.html").write_text(PAGE.format(n=n))
        items = [
            {
                "path": f"/posts/{n}/{i}",
                "title": f"Post {i} on board {n}",
                "date": f"2026-11-{1 + i:02d}T09:00:00Z",
                "text": "A paragraph of text about this post, as a list page shows it. " * 3,
            }
            for i in range(10)
        ]
        (root / f"items-{n}.json").write_text(json.dumps(items))


EXCLUDE: set[int] = set()  # the page server: a child of the bench, not part of the cost


def tree_memory(root: int) -> tuple[float, float]:
    """RSS and PSS (MB) summed over `root` and every process below it (but EXCLUDE)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    pids, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [
            c for c, p in parents.items() if p == pid and c not in pids and c not in EXCLUDE
        ]
        pids.update(children)
        frontier.extend(children)
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


class Sampler:
    """Peak memory of this process tree while a block runs, sampled in a thread."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.peak = (0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss = tree_memory(os.getpid())
            self.peak = (max(self.peak[0], rss), max(self.peak[1], pss))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _source(base: str, n: int) -> Any:
    from feedbridge.config import adhoc_source_config
    from feedbridge.sources import build_source

    table = {
        "name": f"board-{n}",
        "kind": "html",
        "url": f"{base}/page-{n}.html",
        "item": "li.item",
        "title": "a",
        "link": "a@href",
        "date": "time@datetime",
        "summary": "p",
        "fetch": "browser",
    }
    return build_source(adhoc_source_config(table))


async def _browser_run(base: str, max_pages: int) -> dict[str, float]:
    from feedbridge.fetch.browser import BrowserPool, BrowserSettings

    sources = [_source(base, n) for n in range(PAGES)]
    async with BrowserPool(BrowserSettings(max_pages=max_pages)) as pool:
        started = time.perf_counter()
        warm = sources[0]
        warm.extract(await pool.fetcher(warm.name, warm.config).get(warm.url))
        startup = time.perf_counter() - started
        idle = tree_memory(os.getpid())

        async def one(source: Any) -> int:
            page = await pool.fetcher(source.name, source.config).get(source.url)
            return len(source.extract(page))

        with Sampler() as sampler:
            started = time.perf_counter()
            counts = await asyncio.gather(*(one(s) for s in sources))
            wall = time.perf_counter() - started
    if counts != [10] * PAGES:
        raise RuntimeError(f"browser run extracted {counts}, expected 10 items per page")
    return {
        "pages_per_s": PAGES / wall,
        "rss_mb": sampler.peak[0],
        "pss_mb": sampler.peak[1],
        "idle_rss_mb": idle[0],
        "idle_pss_mb": idle[1],
        "startup_s": startup,
    }


async def _proxy_run(base: str, runs: int) -> tuple[list[float], list[float]]:
    """Milliseconds to fetch one page through the proxy, and with Chromium connecting itself."""
    from feedbridge.fetch.browser import BrowserPool, BrowserSettings

    source = _source(base, 0)
    async with BrowserPool(BrowserSettings(max_pages=1)) as pool:
        proxy = pool._proxy

        async def once(through: bool) -> float:
            pool._proxy = proxy if through else None
            started = time.perf_counter()
            page = await pool.fetcher(source.name, source.config).get(source.url)
            took = (time.perf_counter() - started) * 1000
            if len(source.extract(page)) != 10:
                raise RuntimeError("the proxy run's page lost its items")
            return took

        await once(True)  # warm: the browser starts, the first page is slow
        await once(False)
        proxied, direct = [], []
        for _ in range(runs):
            proxied.append(await once(True))
            direct.append(await once(False))
        pool._proxy = proxy
    return proxied, direct


async def _http_run(base: str) -> float:
    from feedbridge.fetch.http import HttpClient

    async with HttpClient() as http:
        sources = [_source(base, n) for n in range(PAGES)]
        started = time.perf_counter()
        pages = await asyncio.gather(
            *(http.fetcher(s.name).get(s.url, conditional=False) for s in sources)
        )
        for source, page in zip(sources, pages, strict=True):
            source.extract(page)
        return PAGES / (time.perf_counter() - started)


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    if shutil.which("chromium") is None and shutil.which("chromium-headless-shell") is None:
        raise RuntimeError("no chromium: apt-get install chromium")
    runs = 1 if quick else 3
    docroot = Path(tempfile.mkdtemp(prefix="fb-bench-browser-"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=docroot,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    EXCLUDE.add(server.pid)
    raw: dict[str, list[dict[str, float]]] = {str(k): [] for k in MAX_PAGES}
    http: list[float] = []
    proxied: list[float] = []
    direct: list[float] = []
    try:
        write_site(docroot)
        wait_port(port, proc=server)
        base = f"http://127.0.0.1:{port}"
        for _ in range(runs):  # interleaved: A B C A B C ...
            for k in MAX_PAGES:
                raw[str(k)].append(asyncio.run(_browser_run(base, k)))
            http.append(asyncio.run(_http_run(base)))
        proxied, direct = asyncio.run(_proxy_run(base, 5 if quick else 15))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(docroot, ignore_errors=True)
    rows: list[Row] = []
    for k in MAX_PAGES:
        runs_k = raw[str(k)]
        rows.append(
            Row(
                "browser",
                f"{PAGES} JS pages, max_pages {k}",
                "pages/s",
                Stat([r["pages_per_s"] for r in runs_k]),
                baseline="http fetcher (no items)",
                base_stat=Stat(http),
                better="higher",
            )
        )
    for k in MAX_PAGES:
        runs_k = raw[str(k)]
        rows.append(
            Row(
                "browser",
                f"peak memory, max_pages {k} (RSS sum)",
                "MB",
                Stat([r["rss_mb"] for r in runs_k]),
                note="feedbridge + Chromium + Playwright driver",
                extra={
                    "pss_mb": [r["pss_mb"] for r in runs_k],
                    "idle_rss_mb": [r["idle_rss_mb"] for r in runs_k],
                    "idle_pss_mb": [r["idle_pss_mb"] for r in runs_k],
                    "startup_s": [r["startup_s"] for r in runs_k],
                },
            )
        )
        rows.append(
            Row(
                "browser",
                f"peak memory, max_pages {k} (PSS sum)",
                "MB",
                Stat([r["pss_mb"] for r in runs_k]),
            )
        )
    rows.append(
        Row(
            "browser",
            "one JS page through the browser's proxy",
            "ms",
            Stat(proxied),
            baseline="Chromium connecting itself",
            base_stat=Stat(direct),
            note="page + JSON + favicon; includes a 100 ms timer",
        )
    )
    return rows, {
        "raw": raw,
        "http_pages_per_s": http,
        "pages": PAGES,
        "root": str(ROOT),
        "proxy_ms": proxied,
        "direct_ms": direct,
    }
