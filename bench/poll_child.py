"""One poll-cycle measurement in a fresh process (so that its peak RSS is its own).

    python -m bench.poll_child '{"mode": "feedbridge", "n": 1000, "base": "http://127.0.0.1:PORT",
                                 "work": "/tmp/...", "cycles304": 3}'

Modes:
- `feedbridge`: writes a config.toml with N html sources, builds the runtime exactly as
  `feedbridge once` does (`feedbridge.app.runtime.runtime`: store, HttpClient, Notifier, FeedBoard,
  Worker, metrics; logging at the config's level, to stderr), then calls `Worker.run_once()`:
  first cycle every page is new (200), then `cycles304` cycles where nothing changed (304 via
  the stored ETag / Last-Modified), then optionally one cycle after every page changed.
- `aiohttp`, `httpx-aiohttp`: the transport floor: the same GETs, 50 at a time, no feedbridge.

Prints one JSON line: per phase wall s, CPU s (getrusage of this process, all threads), statuses,
and ru_maxrss (MB) after each phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, peak_rss_mb

CONCURRENCY = 50


def page_path(i: int) -> str:
    return f"/s/{i:05d}.html"


def write_pages(root: Path, n: int, version: int = 0) -> None:
    """N small distinct pages, five articles each (about 2 KB); `version` shifts the newest."""
    (root / "s").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arts = []
        for j in range(version, version + 5):
            arts.append(
                f'<article class="post"><h2><a href="/s/{i:05d}/post-{j}.html">Source {i} '
                f"post {j}: notes on feeds and bridges</a></h2>"
                f'<time datetime="2026-05-{1 + j % 28:02d}T{j % 24:02d}:00:00Z">May {1 + j % 28}'
                f"</time><p>Post {j} of source {i}. A short excerpt of the post that a feed "
                "reader shows under the title, long enough to look like a real summary of the "
                "article it stands for.</p></article>"
            )
        body = (
            f"<!doctype html><html><head><meta charset=utf-8><title>Source {i}</title></head>"
            f"<body><h1>Source {i}</h1><main>{''.join(reversed(arts))}</main></body></html>"
        )
        path = root / page_path(i).lstrip("/")
        path.write_text(body)
        # nginx's ETag is mtime-size in whole seconds: make each version's distinct
        stamp = 1_780_000_000 + version * 3600
        os.utime(path, (stamp, stamp))


def config_toml(n: int, base: str, store: Path, db: str | None = None) -> str:
    parts = [
        'log_level = "info"',
        "[storage]",
        f'url = "{db}"' if db else f'path = "{store}"',
        "[server]",
        "enabled = false",
        "[http]",
        # every bench source is on 127.0.0.1: let one host take the global 50 at a time
        f"per_host = {CONCURRENCY}",
        f"concurrency = {CONCURRENCY}",
    ]
    for i in range(n):
        parts += [
            "[[sources]]",
            f'name = "s{i:05d}"',
            'kind = "html"',
            f'url = "{base}{page_path(i)}"',
            'item = "article"',
            'title = "h2 a"',
            'link = "h2 a@href"',
            'summary = "p"',
            'date = "time@datetime"',
        ]
    return "\n".join(parts) + "\n"


class Phases:
    def __init__(self) -> None:
        self.out: list[dict[str, Any]] = []

    def start(self) -> tuple[float, float]:
        return time.perf_counter(), cpu_seconds()

    def done(self, name: str, mark: tuple[float, float], **info: Any) -> None:
        wall = time.perf_counter() - mark[0]
        cpu = cpu_seconds() - mark[1]
        self.out.append({"phase": name, "wall": wall, "cpu": cpu, "rss_mb": peak_rss_mb(), **info})


async def feedbridge_mode(args: dict[str, Any]) -> list[dict[str, Any]]:
    from feedbridge.app.runtime import runtime
    from feedbridge.config import load_config
    from feedbridge.core.logs import setup_logging

    n, base, work = int(args["n"]), str(args["base"]), Path(args["work"])
    phases = Phases()
    cfg_path = work / "config.toml"
    db = args.get("db")
    cfg_path.write_text(config_toml(n, base, work / "store", db))
    mark = phases.start()
    config = load_config(cfg_path)
    setup_logging(config.log_level)
    phases.done("config", mark)
    mark = phases.start()
    async with runtime(config) as rt:
        phases.done("startup", mark)  # open store, build sources, publish_stored()

        async def cycle(name: str, expect_changed: bool) -> None:
            if db:
                make_due(db)  # a shared store polls only due sources: make every one due
            m = phases.start()
            reports = await rt.worker.run_once()
            ok = sum(r.ok for r in reports)
            changed = sum(r.changed for r in reports)
            entries = sum(r.entries for r in reports)
            errors = sorted({r.error or "" for r in reports if not r.ok})[:3]
            phases.done(name, m, ok=ok, changed=changed, entries=entries, errors=errors)
            if ok != n or (changed == n) != expect_changed:
                raise SystemExit(f"{name}: {ok}/{n} ok, {changed} changed, errors {errors}")

        await cycle("200 first", True)
        for k in range(int(args.get("cycles304", 3))):
            await cycle(f"304 #{k + 1}", False)
        if args.get("changed"):
            write_pages(Path(args["docroot"]), n, version=1)
            await cycle("200 changed", True)
            await cycle("304 after change", False)
    return phases.out


def make_due(db: str) -> None:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE sources SET next_due = 0")


async def shared_mode(args: dict[str, Any]) -> list[dict[str, Any]]:
    """One of several worker processes on one PostgreSQL: at `start_at`, claim due sources
    (up to the concurrency) and poll them under their leases until none is due."""
    from feedbridge.app.runtime import runtime
    from feedbridge.config import load_config

    n, base, work, db = int(args["n"]), str(args["base"]), Path(args["work"]), str(args["db"])
    cfg_path = work / "config.toml"
    cfg_path.write_text(config_toml(n, base, work / "store", db))
    config = load_config(cfg_path)
    async with runtime(config) as rt:
        worker, store = rt.worker, rt.store
        names = [s.name for s in worker.sources]
        by_name = {s.name: s for s in worker.sources}
        go = Path(args["go"])
        Path(f"{go}.ready.{args['index']}").touch()  # noqa: ASYNC240 - before the timed part
        while not go.exists():  # noqa: ASYNC110, ASYNC240 - all children start together
            await asyncio.sleep(0.01)
        mark = time.perf_counter(), cpu_seconds()
        started = time.time()
        polled = 0
        running: set[asyncio.Task[Any]] = set()
        while True:
            free = CONCURRENCY - len(running)
            leases = store.claim_sources(names, time.time(), free, 60) if free else []
            for lease in leases:
                task = asyncio.create_task(worker.leases.poll_leased(by_name[lease.source], lease))
                running.add(task)
                task.add_done_callback(running.discard)
            polled += len(leases)
            if not leases and not running:
                break
            if running:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        return [{
            "phase": "shared", "polled": polled, "wall": time.perf_counter() - mark[0],
            "cpu": cpu_seconds() - mark[1], "started": started, "finished": time.time(),
        }]  # fmt: skip


async def transport_mode(args: dict[str, Any]) -> list[dict[str, Any]]:
    import aiohttp

    n, base, mode = int(args["n"]), str(args["base"]), str(args["mode"])
    urls = [f"{base}{page_path(i)}" for i in range(n)]
    validators: dict[str, dict[str, str]] = {}
    phases = Phases()
    sem = asyncio.Semaphore(CONCURRENCY)

    if mode == "aiohttp":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY))

        async def get(url: str, headers: dict[str, str]) -> int:
            async with sem, session.get(url, headers=headers) as r:
                body = await r.read()
                if r.status == 200:
                    validators[url] = {
                        "If-None-Match": r.headers.get("etag", ""),
                        "If-Modified-Since": r.headers.get("last-modified", ""),
                    }
                return r.status if body is not None else 0

        close = session.close
    else:
        import httpx
        from httpx_aiohttp import AiohttpTransport

        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=20)
        client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits))

        async def get(url: str, headers: dict[str, str]) -> int:
            async with sem, client.stream("GET", url, headers=headers) as r:
                body = b"".join([c async for c in r.aiter_bytes()])
                if r.status_code == 200:
                    validators[url] = {
                        "If-None-Match": r.headers.get("etag", ""),
                        "If-Modified-Since": r.headers.get("last-modified", ""),
                    }
                return r.status_code if body is not None else 0

        close = client.aclose

    async def cycle(name: str, want: int) -> None:
        m = phases.start()
        statuses = await asyncio.gather(*(get(u, validators.get(u, {})) for u in urls))
        ok = sum(s == want for s in statuses)
        phases.done(name, m, ok=ok)
        if ok != n:
            raise SystemExit(f"{name}: {ok}/{n} answered {want}")

    await cycle("200 first", 200)
    for k in range(int(args.get("cycles304", 3))):
        await cycle(f"304 #{k + 1}", 304)
    await close()
    return phases.out


def main() -> None:
    args = json.loads(sys.argv[1])
    if args["mode"] == "feedbridge":
        out = asyncio.run(feedbridge_mode(args))
    elif args["mode"] == "shared":
        out = asyncio.run(shared_mode(args))
    else:
        out = asyncio.run(transport_mode(args))
    print(json.dumps({"phases": out, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
