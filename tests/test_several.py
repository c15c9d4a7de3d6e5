"""Three `feedbridge run` processes on one PostgreSQL, one of them SIGKILLed twice.

200 sources on a local HTTP server that counts requests per source, two webhook
targets. At the end: every source was fetched once per due period (a repeat only
after a counted lease takeover), every new entry reached both targets with at most
one repeat per kill, and every node serves every feed with the same ETag.
Run with `pytest -s` to see the figures.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.cluster import World, origin_handler, serve, wait_until
from tests.pg import free_port

SOURCES = 200
INTERVAL = 10.0  # the shortest interval the config accepts
LEASE = 3.0
FETCH_DELAY = 0.3  # each fetch takes this long, so that a kill lands mid-poll
SEND_DELAY = 0.01
NODES = 3


@pytest.fixture
def world() -> World:
    return World(sources=SOURCES)


@pytest.fixture
def origin(world: World) -> Iterator[ThreadingHTTPServer]:
    yield from serve(origin_handler(world, FETCH_DELAY))


@pytest.fixture
def hooks(world: World) -> Iterator[ThreadingHTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(SEND_DELAY)
            with world.lock:
                world.received[self.path.strip("/")][data["title"]] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    yield from serve(Handler)


@pytest.mark.slow
@pytest.mark.timeout(360)  # its own waits add up to more than the default 120 s on a loaded machine
def test_three_workers_share_the_polling_and_survive_kills(
    tmp_path: Path,
    pg_url: str,
    world: World,
    origin: ThreadingHTTPServer,
    hooks: ThreadingHTTPServer,
) -> None:
    feeds = f"http://127.0.0.1:{origin.server_port}/feed"
    hook = f"json://127.0.0.1:{hooks.server_port}"
    sources = "".join(
        f'[[sources]]\nname = "src-{n:03d}"\nkind = "feed"\nurl = "{feeds}/{n}"\n'
        f'interval = "{INTERVAL:.0f}s"\njitter = 0\n'
        for n in range(SOURCES)
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{pg_url}"\nlease = "{LEASE:.0f}s"\n'
        '[server]\nport = "${PORT}"\nbase_url = "http://feeds.example.org"\n'
        "[http]\nper_host = 50\n"  # every test source is on one host
        f'[[targets]]\nname = "a"\nurl = "{hook}/a"\n'
        f'[[targets]]\nname = "b"\nurl = "{hook}/b"\n{sources}'
    )
    ports = [free_port() for _ in range(NODES)]
    logs = [tmp_path / f"node{i}.log" for i in range(NODES)]

    def start(i: int) -> subprocess.Popen[bytes]:
        with logs[i].open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
                cwd=tmp_path,
                stdout=log,
                stderr=log,
                env={**os.environ, "PORT": str(ports[i])},
            )

    def db(query: str) -> list[tuple[object, ...]]:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            try:
                return conn.execute(query).fetchall()
            except psycopg.errors.UndefinedTable:  # no node has created the schema yet
                return [(0,)]

    nodes = [start(i) for i in range(NODES)]
    kills = 0
    try:
        polled = "SELECT count(*) FROM sources WHERE state ? 'last_poll'"
        assert wait_until(lambda: db(polled)[0][0] == SOURCES, 60), "first polls"
        expected = world.add_items()  # new entries: owed to both targets

        # kill 1: the node delivering target a, mid-delivery (its polls die with it)
        assert wait_until(lambda: len(world.received["a"]) >= 20, 60), "deliveries started"
        (owner,) = db("SELECT lease_owner FROM targets WHERE name = 'a'")[0]
        victim = next(i for i, p in enumerate(nodes) if f":{p.pid}:" in str(owner))
        nodes[victim].send_signal(signal.SIGKILL)
        nodes[victim].wait()
        kills += 1
        assert len(world.received["a"]) < SOURCES, "the kill should land mid-delivery"
        time.sleep(1)
        nodes[victim] = start(victim)

        # kill 2: a node with polls in flight, once the second round of entries is out
        time.sleep(INTERVAL)
        expected |= world.add_items()
        busy = "SELECT lease_owner FROM sources WHERE lease_owner IS NOT NULL"
        assert wait_until(lambda: bool(db(busy)), 30), "no poll in flight"
        owner = db(busy)[0][0]
        victim = next(i for i, p in enumerate(nodes) if f":{p.pid}:" in str(owner))
        nodes[victim].send_signal(signal.SIGKILL)
        nodes[victim].wait()
        kills += 1
        time.sleep(1)
        nodes[victim] = start(victim)

        def delivered() -> bool:
            return all(set(c) >= expected for c in world.received.values())

        assert wait_until(delivered, 90), "every entry reaches every target"
        time.sleep(INTERVAL)  # one more period: the feeds settle, the counts go on

        # every node serves every feed identically (each renders the stored entries the same)
        def same_feeds() -> bool:
            for n in range(0, SOURCES, 7):
                seen = set()
                for port in ports:
                    r = httpx.get(f"http://127.0.0.1:{port}/feeds/src-{n:03d}.atom")
                    if r.status_code != 200 or f"Source {n} item" not in r.text:
                        return False
                    seen.add((r.headers["etag"], r.content))
                if len(seen) != 1:
                    return False
            return True

        assert wait_until(same_feeds, 30), "the nodes serve different feeds"
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in nodes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    text = "".join(log.read_text(errors="replace") for log in logs)
    assert "Traceback" not in text, text[-3000:]
    takeovers = len(re.findall(r"lease taken over", text))
    # once per due period: two fetches of a source closer than the interval are a repeat,
    # and only a takeover (the killed node fetched, never wrote) may cause one
    repeats = 0
    longest = 0.0
    for times in world.fetches.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        repeats += sum(1 for g in gaps if g < INTERVAL * 0.8)
        longest = max([longest, *gaps])
    fetched = sum(len(t) for t in world.fetches.values())
    late = sorted(
        round(b - a, 1) for t in world.fetches.values() for a, b in itertools.pairwise(t)
    )[-8:]
    print(f"\nlongest gaps: {late}")
    sent = {t: sum(c.values()) for t, c in world.received.items()}
    dupes = {t: sum(v - 1 for v in c.values()) for t, c in world.received.items()}
    print(
        f"\nseveral: {NODES} nodes, {SOURCES} sources, {fetched} fetches, {repeats} repeats, "
        f"{takeovers} takeovers, longest gap {longest:.1f}s, {kills} kills, sent {sent}, "
        f"duplicates {dupes}"
    )
    assert len(world.fetches) == SOURCES
    assert repeats <= takeovers, f"{repeats} repeated fetches but {takeovers} takeovers"
    assert longest < INTERVAL + LEASE + 8, "a source missed its due time"
    for target, counts in world.received.items():
        assert set(counts) >= expected, f"target {target} lost entries"
        assert not set(counts) - expected, f"target {target} got entries of the baseline"
        assert dupes[target] <= kills, f"{dupes[target]} repeats at {target} for {kills} kills"


def test_check_once_and_a_serve_only_node_on_postgresql(
    tmp_path: Path, pg_url: str, world: World, origin: ThreadingHTTPServer
) -> None:
    """`check` reports the server, schema and lag; `once` polls every source into the shared
    store, due or not; a node
    with `[worker] enabled = false` polls nothing and serves what the others stored."""
    from tests.conftest import run_cli

    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{pg_url}"\n[server]\nport = {port}\n[worker]\nenabled = false\n'
        f'[[sources]]\nname = "one"\nkind = "feed"\n'
        f'url = "http://127.0.0.1:{origin.server_port}/feed/1"\n'
    )
    check = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert re.search(r"^store: PostgreSQL 1\d\.\d+ .* at postgresql://", check.stdout, re.M)
    assert "schema version 3" in check.stdout and "worker: off (serves only)" in check.stdout
    assert "store: 1 configured source not yet taken up by any node" in check.stdout
    once = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert "one: 2 entries" in once.stdout
    again = run_cli("--config", str(config), "once", cwd=tmp_path)  # from cron: not due yet
    assert again.returncode == 0, again.stdout
    assert "one: unchanged since the last poll" in again.stdout
    fetched = len(world.fetches[1])
    check = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert "store: 0 sources due and waiting for a worker" in check.stdout, check.stdout
    assert "not yet taken up" not in check.stdout
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE sources SET next_due = 0")  # due: a polling node would fetch it

    node = subprocess.Popen(
        [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/feeds/one.atom"

        def served() -> bool:
            try:
                return "Source 1 item 1" in httpx.get(url).text
            except httpx.HTTPError:
                return False

        assert wait_until(served, 30)
        time.sleep(2)  # a polling node claims due sources every second
    finally:
        node.send_signal(signal.SIGTERM)
        _, err = node.communicate(timeout=30)
    assert node.returncode == 0, err
    assert len(world.fetches[1]) == fetched == 2, "only the two `once` fetched"


async def test_a_poll_that_outruns_its_limit_gives_up_its_lease_to_another_node(
    tmp_path: Path, pg_url: str, origin: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A poll whose fetch never ends (here: a source that waits forever, deaf to every
    deadline) must not hold its source through endless lease renewals: past the worker's
    poll limit it is cancelled, the lease lapses, and another node polls the source."""
    import asyncio

    from feedbridge.app.runtime import runtime
    from feedbridge.config import load_config
    from feedbridge.store.postgres import PostgresStore

    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{pg_url}"\nlease = "2s"\n[server]\nenabled = false\n'
        f'[[sources]]\nname = "stuck"\nkind = "feed"\n'
        f'url = "http://127.0.0.1:{origin.server_port}/feed/1"\n'
    )
    async with runtime(load_config(config)) as rt:
        worker = rt.worker
        worker.leases.poll_limit = 2.0
        source = worker.sources[0]
        never = asyncio.Event()

        async def hang(fetcher: object, now: object) -> None:
            await never.wait()

        source.poll = hang  # type: ignore[method-assign]
        worker.store.register_sources(["stuck"], time.time())
        (lease,) = worker.store.claim_sources(["stuck"], time.time(), 1, worker.lease)
        started = time.monotonic()
        report = await asyncio.wait_for(worker.leases.poll_leased(source, lease), 30)
        took = time.monotonic() - started
        assert not report.ok and report.lease_lost
        assert report.error == "poll still running after 2s; its lease is left to lapse"
        assert 2.0 <= took < 10, took
        await asyncio.sleep(0)  # the cancelled poll unwinds
        assert "stuck" not in worker.poller.polling
        assert "poll overran" in caplog.text

        other = PostgresStore(pg_url)
        try:
            assert other.claim_sources(["stuck"], time.time(), 1, 1.0) == [], "still leased"
            await asyncio.sleep(2.5)  # no renewal since the limit: the lease lapses
            (taken,) = other.claim_sources(["stuck"], time.time(), 1, 1.0)
            assert taken.taken_over == worker.store.owner  # type: ignore[attr-defined]
        finally:
            other.close()
