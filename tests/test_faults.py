"""Three `feedbridge run` nodes on one PostgreSQL through the faults of issue 20: the database
stopped for 30 s, every table a node writes locked for 20 s, a node SIGSTOPped past its lease,
claims held up past their lease.

12 sources on a local origin (8 get new items, 4 never change: those are the cached feeds the
probes read), two webhook targets. Each scenario asserts that every new entry reached both
targets exactly once, that every node served its cached feeds and answered /healthz
throughout, and that polls resumed within 3 s of the database's return. Run with `pytest -s`
to see the figures: on a quiet machine feeds' p99 stays under 50 ms and /healthz under a
second (the issue's targets); the bounds asserted here are what a loaded 2-core CI machine
meets without a false alarm (at load 8, one node's answers all took ~3 s at once while the
others answered in milliseconds; with the whole suite beside it, the p99 of cached feeds was
253 ms once), still far below what
a node whose event loop waits on the store costs (the whole outage: 30 s, or every lock's
wait).
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cluster import (
    Answer,
    Nodes,
    Prober,
    World,
    hooks_handler,
    origin_handler,
    p99,
    serve,
    wait_until,
)
from tests.pg import PgServer, pg_server

SOURCES = 12
GROWING = range(8)  # sources that get new items
STEADY = range(8, 12)  # sources that never change: their feeds stay cached on every node
LEASE = 3.0
FETCH_DELAY = 0.2
SEND_DELAY = 0.01
NODES = 3
FEED_P99 = 1.0  # seconds, asserted (the target, 50 ms, is printed beside it; see above)
HEALTH_WITHIN = 5.0  # seconds, asserted (the target: 1 s)
RESUMED_WITHIN = 3.0  # seconds after the database is back
TABLES = "sources, seen, handed, target_known, targets, outbox, failed"  # what nodes write


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    """A PostgreSQL of this module's own: the tests stop and start it."""
    with pg_server() as server:
        yield server


@pytest.fixture
def world() -> World:
    return World(sources=SOURCES)


@pytest.fixture
def origin(world: World) -> Iterator[ThreadingHTTPServer]:
    yield from serve(origin_handler(world, FETCH_DELAY))


@pytest.fixture
def hooks(world: World) -> Iterator[ThreadingHTTPServer]:
    yield from serve(hooks_handler(world, SEND_DELAY))


@pytest.fixture
def cluster(
    tmp_path: Path, pg: PgServer, origin: ThreadingHTTPServer, hooks: ThreadingHTTPServer
) -> Iterator[tuple[Nodes, str]]:
    """Three nodes' config on a fresh database (started by `bring_up`), and its URL."""
    url = pg.database()
    feeds = f"http://127.0.0.1:{origin.server_port}/feed"
    hook = f"json://127.0.0.1:{hooks.server_port}"
    sources = "".join(
        f'[[sources]]\nname = "src-{n:02d}"\nkind = "feed"\nurl = "{feeds}/{n}"\n'
        'interval = "10s"\njitter = 0\n'
        for n in range(SOURCES)
    )
    config = tmp_path / "config.toml"
    config.write_text(
        '[storage]\nurl = "${DATABASE_URL}"\n'
        f'lease = "{LEASE:.0f}s"\n'
        '[server]\nport = "${PORT}"\nbase_url = "http://feeds.example.org"\n'
        "[http]\nper_host = 50\n"
        f'[[targets]]\nname = "a"\nurl = "{hook}/a"\n'
        f'[[targets]]\nname = "b"\nurl = "{hook}/b"\n{sources}'
    )
    nodes = Nodes(config, NODES, env={"DATABASE_URL": url})
    yield nodes, url
    nodes.stop()


def db(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        try:
            return conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:  # no node has created the schema yet
            return [(0,)]


CACHED = [f"/feeds/src-{n:02d}.atom" for n in STEADY[:2]]  # the probes' feeds


def test_a_store_whose_database_stops_refuses_calls_at_once_and_comes_back_by_itself(
    pg: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's connections time out quickly (statement and lock timeouts are set); when
    the database goes away the call that sees it fails, the next ones are refused without
    waiting on it, and once it is back a call works again and the log says each change once."""
    import logging

    from feedbridge.core.errors import StoreError
    from feedbridge.store import StoreUnavailable
    from feedbridge.store.postgres import PostgresStore

    caplog.set_level(logging.INFO, "feedbridge.store")
    with PostgresStore(pg.database()) as store:
        with store._pool.connection() as conn:
            timeouts = (
                conn.execute("SHOW statement_timeout").fetchone(),
                conn.execute("SHOW lock_timeout").fetchone(),
            )
        assert timeouts == (("5s",), ("1s",))
        store.register_sources(["s"], 0.0)
        pg.stop()
        try:
            with pytest.raises(StoreError, match=r"administrator command|connection"):
                store.source_state("s")
            assert not store.status.up
            with pytest.raises(StoreUnavailable, match="store down for"):
                store.source_state("s")
        finally:
            pg.start()

        def works() -> bool:
            try:
                store.source_state("s")
            except StoreUnavailable:
                return False
            return True

        assert wait_until(works, 10), "back by itself"
        assert store.status.up
    lines = [r.getMessage() for r in caplog.records if r.name == "feedbridge.store"]
    assert lines == ["store down", "store back"]


async def test_a_node_whose_database_stops_serves_what_it_holds_and_503s_what_it_must_read(
    pg: PgServer, tmp_path: Path
) -> None:
    """A node's own app while PostgreSQL is stopped: a feed it holds in memory is served as
    it is, a configured feed it would have to read from the database is a 503 with
    Retry-After (not a 404), an unknown name is still a 404, /healthz says the store is down;
    once the database is back the other feed is served again."""
    import asyncio

    from feedbridge.app.runner import _server
    from feedbridge.app.runtime import runtime
    from feedbridge.config import load_config
    from feedbridge.store.postgres import PostgresStore

    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nbase_url = "http://feeds.example.org"\n'
        + "".join(
            f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "http://127.0.0.1:9/{name}"\n'
            for name in ("held", "cold")
        )
    )
    settings = load_config(config)
    with PostgresStore(pg.database()) as store:
        async with runtime(settings, store) as rt:
            app = _server(settings, rt).config.app
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://node", timeout=30
            ) as c:
                assert (await c.get("/feeds/held.atom")).status_code == 200  # now in memory
                pg.stop()
                try:
                    held = await c.get("/feeds/held.atom")
                    cold = await c.get("/feeds/cold.atom")
                    unknown = await c.get("/feeds/nope.atom")
                    health = await c.get("/healthz")
                finally:
                    pg.start()

                async def cold_again() -> bool:
                    for _ in range(100):
                        if (await c.get("/feeds/cold.atom")).status_code == 200:
                            return True
                        await asyncio.sleep(0.1)
                    return False

                assert await cold_again(), "served again once the database is back"
    assert held.status_code == 200 and b"<feed" in held.content
    assert (cold.status_code, cold.headers["retry-after"]) == (503, "5")
    assert cold.text == "feed 'cold' cannot be read from the store now; try again in 5s\n"
    assert unknown.status_code == 404
    assert health.status_code == 503
    assert health.text.startswith("unhealthy: store down for "), health.text


def bring_up(nodes: Nodes, url: str, world: World) -> set[str]:
    """Start the nodes; once every source was polled, every node holds every steady feed
    (read once) and a first round of new entries reached both targets. Returns the titles
    every target is owed from then on."""
    nodes.start()
    polled = "SELECT count(*) FROM sources WHERE state ? 'last_poll'"
    assert wait_until(lambda: db(url, polled)[0][0] == SOURCES, 60), "first polls"

    def cached() -> bool:
        for port in nodes.ports:
            for path in CACHED:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}{path}").status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True

    assert wait_until(cached, 30), "every node serves the steady feeds"
    expected = world.add_items(GROWING)
    assert wait_until(lambda: world.delivered(expected), 60), "first deliveries"
    return expected


def settle_and_stop(nodes: Nodes, world: World, expected: set[str]) -> str:
    """Every owed entry delivered, a moment for a late repeat to show, then SIGTERM; returns
    every node's log."""
    assert wait_until(lambda: world.delivered(expected), 60), "every entry reaches every target"
    time.sleep(2)
    codes = nodes.stop()
    logs = "".join(nodes.log(i) for i in range(NODES))
    assert codes == [0] * NODES, logs[-3000:]
    assert "Traceback" not in logs, logs[-3000:]
    for target, counts in world.received.items():
        assert set(counts) == expected, f"target {target}: lost or unexpected entries"
    assert world.duplicates() == {"a": 0, "b": 0}
    return logs


def assert_served(
    prober: Prober, start: float, end: float, skip: tuple[int, float, float] | None = None
) -> str:
    """Cached feeds p99 under FEED_P99 and /healthz within HEALTH_WITHIN on every node between
    `start` and `end` (but node `skip[0]` between `skip[1]` and `skip[2]`: it was stopped)."""
    answers = [
        a
        for a in prober.between(start, end)
        # a request to the stopped node that was in flight when it stopped counts as its own
        if skip is None
        or a.node != skip[0]
        or not (skip[1] <= a.at + a.seconds and a.at <= skip[2])
    ]
    feeds = [a for a in answers if a.path in CACHED]
    health = [a for a in answers if a.path == "/healthz"]
    assert feeds and health
    assert {a.status for a in feeds} == {200}, Counter(a.status for a in feeds)
    worst = max(health, key=lambda a: a.seconds)
    assert worst.seconds < HEALTH_WITHIN, (
        f"node {worst.node}'s /healthz took {worst.seconds:.2f}s ({worst.status}), "
        f"{worst.at - start:.1f}s into the scenario; {_meanwhile(answers, worst)}"
    )
    slowest = worst.seconds
    assert {a.status for a in health} <= {200, 503}
    figures = (
        f"feeds: {len(feeds)} answers, p99 {p99([a.seconds for a in feeds]) * 1000:.1f} ms, "
        f"max {max(a.seconds for a in feeds) * 1000:.1f} ms; /healthz: {len(health)} answers, "
        f"max {slowest * 1000:.0f} ms, {sum(a.status == 503 for a in health)} were 503"
    )
    assert p99([a.seconds for a in feeds]) < FEED_P99, figures
    return figures


def _meanwhile(answers: list[Answer], slow: Answer) -> str:
    """The slowest answer of each node and path sent while `slow` waited: whether the node
    alone was slow (its loop) or every node was (the machine, or the probing process)."""
    during = [a for a in answers if slow.at - 0.5 <= a.at <= slow.at + slow.seconds]
    worst: dict[tuple[int, str], float] = {}
    for a in during:
        worst[a.node, a.path] = max(worst.get((a.node, a.path), 0.0), a.seconds)
    parts = [f"node {n} {path} {s * 1000:.0f} ms" for (n, path), s in sorted(worst.items())]
    return "meanwhile, the slowest answers: " + ", ".join(parts)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_database_stopped_for_30_seconds(
    cluster: tuple[Nodes, str], pg: PgServer, world: World
) -> None:
    """While PostgreSQL is stopped every node serves its cached feeds and answers /healthz
    with a 503 that says why; the log says "store down" once and "store back" once; polls
    resume within 3 s of its return, and deliveries cut off mid-round are neither lost nor
    repeated."""
    nodes, url = cluster
    expected = bring_up(nodes, url, world)
    with Prober(nodes.ports, [*CACHED, "/healthz"]) as prober:
        start = time.monotonic()
        expected |= world.add_items(GROWING)
        assert wait_until(lambda: sum(world.received["a"].values()) > len(GROWING), 30)
        pg.stop()  # mid-round: some of the new entries are out, some are not
        stopped = time.monotonic()
        time.sleep(15)
        expected |= world.add_items(GROWING)
        time.sleep(15)
        starting = time.monotonic()  # nodes may reconnect before `pg.start()` returns
        pg.start()
        back = time.monotonic()
        resumed = wait_until(lambda: world.fetched_after(back) is not None, 10)
        assert resumed, "no poll after the database's return"
        first = world.fetched_after(back)
        assert first is not None and first - back < RESUMED_WITHIN, first - back
        assert wait_until(lambda: world.delivered(expected), 60)
        time.sleep(max(0.0, back + RESUMED_WITHIN + 1 - time.monotonic()))
        end = time.monotonic()
        figures = assert_served(prober, start, end)
        # answered before the database started again: one answered while `pg_ctl start` waits
        # for it to accept connections may already say healthy
        down = [
            a
            for a in prober.between(stopped + 2, starting, "/healthz")
            if a.at + a.seconds < starting
        ]
        assert down and all(a.status == 503 for a in down), "503 while the store is down"
        assert all(a.body.startswith(b"unhealthy: store down for ") for a in down), down[0].body
        late = [a for a in prober.between(back + RESUMED_WITHIN, end, "/healthz")]
        assert late and all(a.status == 200 for a in late), "healthy again"
    logs = settle_and_stop(nodes, world, expected)
    for i in range(NODES):
        log = nodes.log(i)
        assert log.count(" store down ") == 1, log[-3000:]
        (down_s,) = re.findall(r" store back .*down_s=([\d.]+)", log)
        assert 25 < float(down_s) < 40, down_s
    print(f"\noutage 30 s: polls resumed {first - back:.2f} s after the return; {figures}")
    print(f"takeovers: {logs.count('lease taken over')}")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_table_a_node_writes_locked_for_20_seconds(
    cluster: tuple[Nodes, str], world: World
) -> None:
    """`LOCK TABLE` on every table a node writes, for 20 s: statements give up after their lock
    timeout, HTTP answers as before, nothing is lost or sent twice, and polls resume within
    3 s of the unlock."""
    nodes, url = cluster
    expected = bring_up(nodes, url, world)
    with Prober(nodes.ports, [*CACHED, "/healthz"]) as prober:
        start = time.monotonic()
        expected |= world.add_items(GROWING)
        assert wait_until(lambda: sum(world.received["a"].values()) > len(GROWING), 30)
        with psycopg.connect(url) as locker:
            locker.execute(f"LOCK TABLE {TABLES}")
            time.sleep(10)
            expected |= world.add_items(GROWING)
            time.sleep(10)
            locker.commit()
        unlocked = time.monotonic()
        assert wait_until(lambda: world.fetched_after(unlocked) is not None, 10)
        first = world.fetched_after(unlocked)
        assert first is not None and first - unlocked < RESUMED_WITHIN, first - unlocked
        assert wait_until(lambda: world.delivered(expected), 60)
        figures = assert_served(prober, start, time.monotonic())
    settle_and_stop(nodes, world, expected)
    print(f"\nlocks 20 s: polls resumed {first - unlocked:.2f} s after; {figures}")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_node_sigstopped_past_its_leases(cluster: tuple[Nodes, str], world: World) -> None:
    """A node stopped while it holds source leases, for three leases: the others take its
    sources over and deliver what it would have; woken, it writes nothing of its stale polls
    (fenced) and sends nothing twice."""
    nodes, url = cluster
    expected = bring_up(nodes, url, world)
    held = "SELECT lease_owner FROM sources WHERE lease_owner IS NOT NULL LIMIT 1"
    with Prober(nodes.ports, [*CACHED, "/healthz"]) as prober:
        start = time.monotonic()
        assert wait_until(lambda: bool(db(url, held)), 30), "no poll in flight"
        victim = nodes.index_of(db(url, held)[0][0])
        nodes.procs[victim].send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        expected |= world.add_items(GROWING)
        time.sleep(3 * LEASE)
        nodes.procs[victim].send_signal(signal.SIGCONT)
        woke = time.monotonic()
        assert wait_until(lambda: world.delivered(expected), 60)
        time.sleep(LEASE)  # the woken node's stale polls end
        figures = assert_served(prober, start, time.monotonic(), skip=(victim, stopped, woke + 1))
    logs = settle_and_stop(nodes, world, expected)
    assert "lease lost" in nodes.log(victim), nodes.log(victim)[-3000:]
    assert "lease taken over" in logs
    print(f"\nSIGSTOP {3 * LEASE:.0f} s: {figures}")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_claims_held_up_past_their_lease(cluster: tuple[Nodes, str], world: World) -> None:
    """With a lock timeout longer than the lease (the URL's own options), claims wait on
    locked `targets` and `sources` for twice the lease while messages are queued: those that
    waited past their lease get nothing, the next ones get fresh leases, and no target is
    delivered by two nodes at once."""
    nodes, url = cluster
    patient = "options=-c%20lock_timeout%3D20s%20-c%20statement_timeout%3D30s"
    nodes.env["DATABASE_URL"] = f"{url}?{patient}"
    expected = bring_up(nodes, url, world)
    queued = "SELECT count(*) FROM outbox"
    with Prober(nodes.ports, [*CACHED, "/healthz"]) as prober:
        start = time.monotonic()
        with psycopg.connect(url) as locker:
            locker.execute("LOCK TABLE targets")  # deliveries wait; polls queue new entries
            expected |= world.add_items(GROWING)
            owed = 2 * len(GROWING)
            assert wait_until(lambda: db(url, queued)[0][0] == owed, 30), "entries queued"
            locker.execute("LOCK TABLE sources")  # and now the claims of sources wait too
            time.sleep(2 * LEASE)
            locker.commit()
        assert wait_until(lambda: world.delivered(expected), 60)
        figures = assert_served(prober, start, time.monotonic())
    settle_and_stop(nodes, world, expected)
    print(f"\nclaims held up {2 * LEASE:.0f} s: {figures}")
