"""One conformance suite for every Store backend: the embedded directory and PostgreSQL.

Each test runs against both (parametrized); time is an injected clock. Tests that only
mean something where several processes share the store (leases, claims) follow at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store import (
    EmbeddedStore,
    KnownFeed,
    LeaseLost,
    Notice,
    PollOutcome,
    SourceState,
    Store,
    TakenOver,
    TargetState,
    notice_key,
)
from feedbridge.store.base import seen_slack

TTL = 1000.0
T0 = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


Opener = Callable[[], Store]


@pytest.fixture(params=["embedded", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Opener, Clock]]:
    """A way to open (and reopen) one empty store of each backend, with one clock."""
    clock = Clock()
    opened: list[Store] = []
    if request.param == "embedded":

        def opener() -> Store:
            opened.append(EmbeddedStore(tmp_path / "store", seen_ttl=TTL, clock=clock))
            return opened[-1]
    else:
        from feedbridge.store.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")

        def opener() -> Store:
            opened.append(PostgresStore(url, seen_ttl=TTL, clock=clock))
            return opened[-1]

    yield opener, clock
    for store in opened:
        store.close()


@pytest.fixture
def store(backend: tuple[Opener, Clock]) -> Store:
    return backend[0]()


def entry(key: str, score: float | None = 1, source: str = "s") -> Entry:
    return Entry(source=source, key=key, title=f"t {key}", link=f"https://x/{key}", score=score)


def notice(target: str, e: Entry) -> Notice:
    return Notice(target, "entry", notice_key("entry", e.to_dict()), e.to_dict())


def poll(
    entries: list[Entry], targets: tuple[str, ...] = ("t",), seen: dict[str, Any] | None = None
) -> PollOutcome:
    return PollOutcome(
        state=SourceState(last_poll=T0, status="ok", validators={"etag": '"x"'}),
        next_due=T0 + 60,
        feed=entries,
        seen=entries,
        seen_before=seen or {},
        notices=[notice(t, e) for t in targets for e in entries],
    )


# --- sources, polls, feeds ---------------------------------------------------------------


def test_a_new_source_has_an_empty_state_and_feed(store: Store) -> None:
    assert store.source_state("s") == SourceState()
    view = store.poll_view("s", ["a"], ["t"])
    assert (view.feed, view.seen, view.knows) == ([], {}, frozenset())
    assert view.handed == {"t": frozenset()}
    assert store.feed_versions({}) == {}


def test_apply_poll_writes_everything_and_a_reopen_reads_it(
    backend: tuple[Opener, Clock],
) -> None:
    opener, _ = backend
    store = opener()
    state = SourceState(last_poll=T0, status="ok", extra={"from_a_newer_version": 1})
    outcome = poll([entry("a", 3), entry("b", None)])
    store.apply_poll(
        "s",
        PollOutcome(
            state=state,
            feed=outcome.feed,
            seen=outcome.seen,
            notices=outcome.notices[:1],
            suppressed={"t": ["b"]},
            first_cycle=["t"],
        ),
    )
    store.close()
    store = opener()
    assert store.source_state("s") == state
    view = store.poll_view("s", ["a", "b", "c"], ["t", "u"])
    assert [e.key for e in view.feed] == ["a", "b"]
    assert view.seen == {"a": 3, "b": None}
    assert view.handed == {"t": frozenset({"a", "b"}), "u": frozenset()}
    assert view.knows == frozenset({"t"})
    versions = store.feed_versions({})
    assert list(versions) == ["s"]
    assert store.feed_versions(versions) == {}, "an unchanged version is not reloaded"
    assert [r.payload["key"] for r in store.claim_due("t", T0)] == ["a"]


def test_a_retried_poll_never_queues_twice(store: Store) -> None:
    outcome = poll([entry("a"), entry("b")], targets=("t", "t-2"))
    store.apply_poll("s", outcome)
    store.apply_poll("s", outcome)
    assert store.pending_count("t") == 2 and store.pending_count("t-2") == 2
    assert store.enqueue(outcome.notices, T0) == 0


def test_a_feed_version_rises_with_every_change_of_the_feed(store: Store) -> None:
    first = store.apply_poll("s", poll([entry("a")]))
    assert first is not None and store.feed_versions({}) == {"s": first}
    second = store.apply_poll("s", poll([entry("b")]))
    assert second is not None and second > first
    assert store.feed_versions({"s": first}) == {"s": second}, "another node would reload it"
    assert store.apply_poll("s", PollOutcome(SourceState(last_poll=T0 + 1))) is None
    assert store.feed_versions({"s": second}) == {}, "an unchanged feed keeps its version"
    assert [e.key for e in store.feed_entries("s")] == ["b"]


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    bad = Notice("t", "entry", "s:x", {"not json": {1, 2}})
    outcome = poll([entry("a")])
    broken = PollOutcome(
        state=outcome.state, feed=outcome.feed,
        seen=outcome.seen, notices=[*outcome.notices, bad],
    )  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017 - the backends differ in what they raise
        store.apply_poll("s", broken)
    assert store.feed_entries("s") == []
    assert store.poll_view("s", ["a"], ["t"]).seen == {}
    assert store.pending_count("t") == 0
    assert store.source_state("s") == SourceState()
    assert store.feed_versions({}) == {}


def plant_state(store: Store, source: str, value: object) -> None:
    """Write `value` as the source's stored state behind the store's back (a hostile or
    damaged row), in each backend's own format."""
    if isinstance(store, EmbeddedStore):
        store._set(f"state:source:{source}", value)
        return
    from psycopg.types.json import Jsonb

    store.register_sources([source], T0)
    with store._tx() as conn:  # type: ignore[attr-defined]
        conn.execute("UPDATE sources SET state = %s WHERE name = %s", (Jsonb(value), source))


def test_source_states_reads_many_sources_as_source_state_reads_each(store: Store) -> None:
    """Every name asked is a key, in the order asked (repeats once); one never polled or
    unknown to the store has the empty state, as `source_state` gives it."""
    store.register_sources(["registered"], T0)  # a row, never polled
    for i in range(3):
        store.apply_poll(f"s{i}", PollOutcome(SourceState(last_poll=T0 + i, last_count=i)))
    wanted = ["s2", "nobody", "s0", "registered", "s1", "s2", "it's; DROP TABLE sources"]
    states = store.source_states(wanted)
    assert list(states) == ["s2", "nobody", "s0", "registered", "s1", "it's; DROP TABLE sources"]
    assert states == {name: store.source_state(name) for name in wanted}
    assert states["s1"] == SourceState(last_poll=T0 + 1, last_count=1)
    assert states["nobody"] == states["registered"] == SourceState()
    assert store.source_states([]) == {}
    many = [f"m{i}" for i in range(1200)]  # more than one chunk of names (embedded: 500)
    store.apply_poll("m1100", PollOutcome(SourceState(last_count=7)))
    read = store.source_states(many)
    assert len(read) == 1200 and read["m1100"].last_count == 7 and read["m0"] == SourceState()


@pytest.mark.parametrize("value", [[1, 2], "a string", 3])
def test_a_state_that_is_not_an_object_is_an_error_naming_its_source(
    store: Store, value: object
) -> None:
    """A hostile or damaged row: both reads refuse it with a StoreError that names the source
    (never an AttributeError deep in a page), and a good row beside it still reads alone."""
    store.apply_poll("good", PollOutcome(SourceState(last_count=1)))
    plant_state(store, "bad", value)
    with pytest.raises(StoreError, match=r"corrupt: the state of source 'bad' is \w+, not a JSON"):
        store.source_state("bad")
    with pytest.raises(StoreError, match=r"state of source 'bad'"):
        store.source_states(["good", "bad"])
    assert store.source_states(["good"])["good"].last_count == 1


# --- expiry --------------------------------------------------------------------------------


def test_seen_keys_and_marks_expire_unless_seen_again(backend: tuple[Opener, Clock]) -> None:
    opener, clock = backend
    store = opener()
    store.apply_poll("s", poll([entry("a"), entry("b")]))
    clock.now += TTL * 0.8
    # only `a` is on the page again: its seen key (and its score) are refreshed in bulk
    store.apply_poll("s", PollOutcome(SourceState(), seen=[entry("a")], seen_before={"a": 1}))
    store.apply_poll("s", PollOutcome(SourceState(), seen=[entry("c", 5)]))
    clock.now += TTL * 0.5
    assert store.expire() >= 1
    view = store.poll_view("s", ["a", "b", "c"], ["t"])
    assert view.seen == {"a": 1, "c": 5}
    assert view.handed["t"] == frozenset(), "the delivery marks of a and b expired"
    clock.now += TTL * 2
    store.expire()
    assert store.poll_view("s", ["a", "b", "c"], ["t"]).seen == {}


def test_a_seen_key_lives_ttl_after_it_was_last_seen_and_at_most_the_slack_longer(
    backend: tuple[Opener, Clock],
) -> None:
    """A poll that sees the same entries writes a key's expiry only once it is nearer than
    the ttl: never early, at most `seen_slack` late."""
    opener, clock = backend
    store = opener()
    slack = seen_slack(TTL)
    assert 0 < slack <= TTL * 0.02

    def see(*entries: Entry) -> None:
        before = store.poll_view("s", [e.key for e in entries], []).seen
        store.apply_poll("s", PollOutcome(SourceState(), seen=list(entries), seen_before=before))

    see(entry("a"), entry("b"))
    clock.now = T0 + slack / 2
    see(entry("a"), entry("b", 9))  # within the slack: `a` not rewritten, `b` re-scored
    clock.now = T0 + slack / 2 + TTL - 1
    store.expire()
    assert store.poll_view("s", ["a", "b"], []).seen == {"a": 1, "b": 9}, "never early"
    clock.now = T0 + slack / 2 + TTL + slack + 1
    store.expire()
    assert store.poll_view("s", ["a", "b"], []).seen == {}, "at most the slack late"
    see(entry("c"))
    clock.now += slack * 3
    see(entry("c"))  # past the slack: its expiry moves
    clock.now += TTL - 1
    store.expire()
    assert store.poll_view("s", ["c"], []).seen == {"c": 1}


def test_poll_view_returns_the_callers_feed_while_the_stored_version_is_the_one_it_holds(
    store: Store,
) -> None:
    version = store.apply_poll("s", poll([entry("a"), entry("b")]))
    assert version is not None
    mine = [entry("a"), entry("b")]
    assert store.poll_view("s", ["a"], [], KnownFeed(version, mine)).feed is not mine
    assert store.poll_view("s", ["a"], [], KnownFeed(version, mine)).feed == mine
    held = [entry("x")]  # what the caller holds is taken at its word while the version holds
    assert store.poll_view("s", ["a"], [], KnownFeed(version, held)).feed == held
    assert store.poll_view("s", ["a"], [], KnownFeed(version - 1, held)).feed == mine
    store.apply_poll("s", poll([entry("c")]))  # another writer: the version moved on
    assert store.poll_view("s", ["a"], [], KnownFeed(version, held)).feed == [entry("c")]
    assert store.poll_view("new", ["a"], [], KnownFeed(version, held)).feed == []


def test_a_changed_score_is_written(store: Store) -> None:
    store.apply_poll("s", PollOutcome(SourceState(), seen=[entry("a", 1)]))
    store.apply_poll("s", PollOutcome(SourceState(), seen=[entry("a", 7)], seen_before={"a": 1}))
    assert store.poll_view("s", ["a"], []).seen == {"a": 7}


# --- outbox --------------------------------------------------------------------------------


def test_outbox_keeps_order_per_target_and_never_mixes_targets(store: Store) -> None:
    store.enqueue([notice("mail", entry(f"{n}")) for n in range(5)], T0)
    store.enqueue([notice("mail-digest", entry("x"))], T0)
    rows = store.claim_due("mail", T0)
    assert [r.payload["key"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r.key for r in store.claim_due("mail-digest", T0)] == ["s:x"]
    store.complete("mail", rows[:1], TargetState(sent_times=(T0,)))
    assert store.pending_count("mail") == 4
    assert store.target_state("mail").sent_times == (T0,)


def test_a_retried_row_keeps_its_progress_a_failed_one_goes_to_the_failed_log(store: Store) -> None:
    store.enqueue([notice("t", entry("a")), notice("t", entry("b"))], T0)
    first, _ = store.claim_due("t", T0)
    tried = replace(
        first, attempts=2, first_attempt_at=T0, next_at=T0 + 30,
        done_urls=frozenset({0}), last_error="HTTP 500",
    )  # fmt: skip
    store.settle("t", TargetState(failures=1, status="ok", last_error="HTTP 500"), retry=[tried])
    again = store.claim_due("t", T0 + 1)
    assert again[0] == replace(tried, id=again[0].id)
    assert store.target_state("t").failures == 1
    health = Notice("ops", "health", "target t|failing|x", {"subject": "target t"})
    store.settle(
        "t", TargetState(failures=2), failed=[again[1]], reason="HTTP 500", notices=[health],
        now=T0 + 2,
    )  # fmt: skip
    assert [r.key for r in store.claim_due("t", T0 + 2)] == ["s:a"]
    (failed,) = store.failed("t")
    assert (failed.reason, failed.payload["key"], failed.at) == ("HTTP 500", "b", T0 + 2)
    assert store.pending_count("ops") == 1


def test_health_notices_queue_once(store: Store) -> None:
    event = {"subject": "source s", "kind": "failing", "message": "m", "at": "2026-01-01"}
    n = Notice("ops", "health", notice_key("health", event), event)
    assert store.enqueue([n], T0) == 1
    assert store.enqueue([n], T0) == 0
    assert store.claim_due("ops", T0)[0].payload == event


# --- crash consistency -----------------------------------------------------------------------

_CHILD = """
import sys
from feedbridge.core.models import Entry
from feedbridge.store import Notice, PollOutcome, SourceState, notice_key
if sys.argv[1] == "embedded":
    from feedbridge.store import EmbeddedStore
    store = EmbeddedStore(sys.argv[2])
else:
    from feedbridge.store.postgres import PostgresStore
    store = PostgresStore(sys.argv[2])
feed = []
n = 0
while True:
    e = Entry(source="s", key=f"k{n}", title=f"t{n}", link=f"https://x/{n}")
    feed = [e, *feed][:1000]
    notices = [Notice(t, "entry", notice_key("entry", e.to_dict()), e.to_dict()) for t in "ab"]
    store.apply_poll("s", PollOutcome(SourceState(last_count=n), feed=feed, seen=[e],
                                      notices=notices))
    n += 1
    if n == 20:
        print("going", flush=True)
"""


def test_sigkill_mid_write_leaves_every_poll_whole_or_absent(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A process killed while writing polls: each poll landed fully or not at all."""
    for kind in ("embedded", "postgresql"):
        where = str(tmp_path / "crash") if kind == "embedded" else request.getfixturevalue("pg_url")
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_CHILD), kind, where],
            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()},
        )  # fmt: skip
        assert child.stdout is not None
        with child.stdout:
            assert child.stdout.readline().strip() == b"going"
            time.sleep(0.3)
            child.send_signal(signal.SIGKILL)
            child.wait()
        if kind == "embedded":
            store: Store = EmbeddedStore(tmp_path / "crash")
        else:
            from feedbridge.store.postgres import PostgresStore

            store = PostgresStore(where)
        with store:  # type: ignore[attr-defined]
            store.check()
            count = store.source_state("s").last_count + 1
            feed = {e.key for e in store.feed_entries("s")}
            keys = [f"k{n}" for n in range(count + 5)]
            view = store.poll_view("s", keys, ["a", "b"])
            written = {f"k{n}" for n in range(count)}
            assert count > 20
            assert set(view.seen) == written == feed | (written - feed)
            assert view.handed == {"a": frozenset(written), "b": frozenset(written)}
            assert len(store.claim_due("a", time.time())) == count
            assert len(store.claim_due("b", time.time())) == count


# --- sources made on the web page ------------------------------------------------------------


def test_page_sources_are_kept_with_their_revision_and_survive_a_reopen(
    backend: tuple[Opener, Clock],
) -> None:
    opener, _ = backend
    store = opener()
    assert store.page_sources() == [] and store.config_version() == 0
    table = {"name": "blog", "kind": "html", "url": "https://x/", "item": "li", "title": "Ünïcode"}
    made = store.save_page_source(table, T0)
    assert (made.name, made.revision, made.created_at, made.updated_at) == ("blog", 1, T0, T0)
    store.save_page_source({"name": "another", "kind": "feed", "url": "https://y/"}, T0 + 1)
    edited = store.save_page_source({**table, "item": "article"}, T0 + 2, revision=1)
    assert (edited.revision, edited.created_at, edited.updated_at) == (2, T0, T0 + 2)
    version = store.config_version()
    assert version == 3, "each change raises the config version"
    store.close()
    store = opener()
    assert [(p.name, p.table.get("item"), p.revision) for p in store.page_sources()] == [
        ("blog", "article", 2), ("another", None, 1)
    ], "oldest first, as edited"
    assert store.page_sources()[0].table["title"] == "Ünïcode"
    assert store.config_version() == version


def test_a_page_edit_from_a_stale_revision_or_a_taken_name_is_refused(store: Store) -> None:
    from feedbridge.store import PageConflict

    table = {"name": "blog", "kind": "feed", "url": "https://x/"}
    store.save_page_source(table, T0)
    with pytest.raises(PageConflict, match="exists already"):
        store.save_page_source(table, T0 + 1)
    store.save_page_source({**table, "url": "https://x/2"}, T0 + 2, revision=1)
    with pytest.raises(PageConflict, match="elsewhere since this page was opened"):
        store.save_page_source({**table, "url": "https://x/3"}, T0 + 3, revision=1)
    with pytest.raises(PageConflict):
        store.delete_page_source("blog", T0 + 4, revision=1)
    assert [p.table["url"] for p in store.page_sources()] == ["https://x/2"], "nothing written"
    version = store.config_version()
    assert store.delete_page_source("blog", T0 + 5, revision=2)
    assert store.page_sources() == [] and store.config_version() == version + 1
    assert not store.delete_page_source("blog", T0 + 6), "already gone"
    assert store.config_version() == version + 1, "deleting nothing changes nothing"


# --- shared stores: leases and claims ----------------------------------------------------------


@pytest.fixture
def two_nodes(pg_url: str) -> Iterator[tuple[Store, Store, Clock]]:
    from feedbridge.store.postgres import PostgresStore

    clock = Clock()
    a, b = PostgresStore(pg_url, clock=clock), PostgresStore(pg_url, clock=clock)
    yield a, b, clock
    a.close()
    b.close()


def run_out(store: Store, table: str = "sources", seconds: float = 1000.0) -> None:
    """Leases are timed by the database's clock: move every lease in `table` `seconds` into
    the past, as if that much time had passed since it was taken."""
    with store._tx() as conn:  # type: ignore[attr-defined]
        conn.execute(f"UPDATE {table} SET lease_until = lease_until - %s", (seconds,))


def test_a_due_source_is_leased_to_one_node_and_fenced_after_takeover(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    a, b, _ = two_nodes
    a.register_sources(["s", "t"], T0)
    b.register_sources(["s", "t", "u"], T0 + 5)  # existing rows keep their due time
    (lease,) = a.claim_sources(["s"], T0, 10, ttl=30)
    assert lease.taken_over is None
    assert lease.until == pytest.approx(time.time() + 30, abs=5), "the database's clock"
    assert b.claim_sources(["s"], T0 + 1, 10, ttl=30) == [], "held: nobody else polls it"
    run_out(a, seconds=20)
    lease = a.renew(lease, T0 + 20, ttl=30)
    assert b.claim_sources(["s"], T0 + 40, 10, ttl=30) == [], "renewed"
    run_out(a)  # a stalled past its lease
    (stolen,) = b.claim_sources(["s"], T0 + 60, 10, ttl=30)
    assert stolen.taken_over == a.owner and stolen.version > lease.version
    with pytest.raises(LeaseLost):
        a.renew(lease, T0 + 61, ttl=30)
    with pytest.raises(LeaseLost):
        a.apply_poll("s", poll([entry("late")]), lease)
    assert a.feed_entries("s") == [], "the stale holder wrote nothing"
    b.apply_poll("s", replace(poll([entry("fresh")]), next_due=T0 + 120), stolen)
    assert [e.key for e in a.feed_entries("s")] == ["fresh"]
    assert b.claim_sources(["s"], T0 + 61, 10, ttl=30) == [], "released, due at T0 + 120"
    (forced,) = a.claim_sources(["s"], T0 + 62, 10, ttl=30, due_only=False)  # `once`
    assert b.claim_sources(["s"], T0 + 63, 10, ttl=30, due_only=False) == [], "held"
    a.apply_poll("s", replace(poll([entry("fresh")]), next_due=T0 + 120), forced)
    (again,) = a.claim_sources(["s"], T0 + 121, 10, ttl=30)
    assert again.taken_over is None, "a released lease is not a takeover"
    info = a.check(now=T0 + 121, sources=["s", "t", "u"])
    assert info.schema_version == 3 and info.server and info.due_sources == 2
    assert info.due_lag == pytest.approx(121)


def test_a_lease_is_timed_by_the_database_not_by_the_claiming_nodes_clock(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    """A node whose clock runs an hour ahead (its `now`) neither takes a held source nor
    leases one for longer: expiry is the database's."""
    a, b, _ = two_nodes
    a.register_sources(["s"], T0)
    assert len(a.claim_sources(["s"], T0, 1, ttl=30)) == 1
    assert b.claim_sources(["s"], T0 + 3600, 1, ttl=30) == [], "held by the database's clock"
    run_out(a, seconds=31)
    (taken,) = b.claim_sources(["s"], T0, 1, ttl=30)
    assert taken.taken_over == a.owner
    assert taken.until == pytest.approx(time.time() + 30, abs=5)


def test_concurrent_claims_split_the_due_sources(two_nodes: tuple[Store, Store, Clock]) -> None:
    a, b, _ = two_nodes
    names = [f"s{n:03d}" for n in range(200)]
    a.register_sources(names, T0)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def claim(node: Store, key: str) -> None:
        for _ in range(40):
            got[key] += [lease.source for lease in node.claim_sources(names, T0, 7, ttl=30)]

    threads = [threading.Thread(target=claim, args=(n, k)) for n, k in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got["a"] + got["b"]) == names, "every source claimed exactly once"


def test_one_node_delivers_a_target_until_its_lease_expires(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    a, b, _ = two_nodes
    a.enqueue([notice("t", entry("x")), notice("t", entry("y"))], T0)
    rows = a.claim_due("t", T0, ttl=30)
    assert len(rows) == 2
    with pytest.raises(LeaseLost):
        b.claim_due("t", T0 + 10, ttl=30)
    a.hold("t", ttl=30)  # before a send: still a's
    a.complete("t", rows[:1], TargetState())
    run_out(a, "targets")  # a died: its lease runs out
    with pytest.raises(TakenOver):  # a grace for a's last settle
        b.claim_due("t", T0 + 100, ttl=30)
    with pytest.raises(LeaseLost):
        a.hold("t", ttl=30)  # a woke: it sends nothing more
    with pytest.raises(LeaseLost):
        a.save_target_state("t", TargetState(failures=9))
    b._takeovers.clear()  # type: ignore[attr-defined]  # the grace passed
    taken = b.claim_due("t", T0 + 100, ttl=30)
    assert [r.key for r in taken] == ["s:y"]
    b.complete("t", taken, TargetState())
    assert a.pending_count("t") == 0
    assert b.target_state("t").failures == 0


def test_a_settle_with_hold_extends_the_lease_for_the_next_send(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    a, b, _ = two_nodes
    a.enqueue([notice("t", entry(k)) for k in "xy"], T0)
    x, _ = a.claim_due("t", T0, ttl=30)
    run_out(a, "targets", seconds=29)  # one second left
    a.settle("t", TargetState(), done=[x], hold=30)
    run_out(a, "targets", seconds=20)  # without the hold it would have run out
    with pytest.raises(LeaseLost):
        b.claim_due("t", T0, ttl=30)


def test_a_late_settle_removes_what_was_delivered_and_nothing_else(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    """A node that sent a message, then lost its target (the store was away past its lease)
    still removes that row when its settle lands late: sending it again would repeat it. Its
    retries and state are not written: the new holder owns them."""
    a, b, _ = two_nodes
    a.enqueue([notice("t", entry(k)) for k in "xyz"], T0)
    x, y, _ = a.claim_due("t", T0, ttl=30)
    run_out(a, "targets")
    with pytest.raises(TakenOver):  # b takes the target over
        b.claim_due("t", T0, ttl=30)
    with pytest.raises(LeaseLost):
        a.settle("t", TargetState(failures=5), done=[x], retry=[replace(y, attempts=3)])
    b._takeovers.clear()  # type: ignore[attr-defined]
    assert [r.key for r in b.claim_due("t", T0, ttl=30)] == ["s:y", "s:z"]
    assert [r.attempts for r in b.pending("t")] == [0, 0]
    assert a.target_state("t").failures == 0


def wait_for_lock_wait(conn: Any, timeout: float = 10.0, sessions: int = 1) -> bool:
    """Whether `sessions` other sessions came to wait on a lock (`pg_locks`), within `timeout`."""
    deadline = time.monotonic() + timeout
    query = "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted"
    while time.monotonic() < deadline:
        if conn.execute(query).fetchone()[0] >= sessions:
            return True
        time.sleep(0.01)
    return False


def test_a_claim_that_waited_past_its_lease_gets_nothing(pg_url: str) -> None:
    """A claim held up on a lock longer than its lease takes neither the target nor a source
    (a lease is not born expired), and the next claim takes them as usual. The lock timeout is
    raised through the URL's own `options` so that the claim really waits."""
    import psycopg

    from feedbridge.store.postgres import PostgresStore

    waiting = f"{pg_url}?options=-c%20lock_timeout%3D10s"
    with PostgresStore(pg_url) as setup:
        setup.register_sources(["s"], T0)
        setup.enqueue([notice("t", entry("x"))], T0)
        setup.claim_due("t", T0, ttl=30)
        setup.release()
    with PostgresStore(waiting) as node, psycopg.connect(pg_url) as locker:
        with node._pool.connection() as conn:
            assert conn.execute("SHOW lock_timeout").fetchone() == ("10s",)
        for table, claim in (
            ("targets", lambda: node.claim_due("t", T0, ttl=0.3)),
            ("sources", lambda: node.claim_sources(["s"], T0, 1, ttl=0.3)),
        ):
            locker.execute(f"LOCK TABLE {table}")
            got: list[object] = []
            thread = threading.Thread(target=lambda c=claim, g=got: g.append(c()))
            thread.start()
            assert wait_for_lock_wait(locker), "the claim waits on the lock"
            time.sleep(0.6)  # twice the lease, counted from when the claim began waiting
            locker.commit()
            thread.join(10)
            assert got == [[]], table
            owners = locker.execute(f"SELECT lease_owner FROM {table}").fetchall()
            assert owners == [(None,)], f"{table}: no lease born expired"
            locker.commit()
        assert len(node.claim_due("t", T0, ttl=30)) == 1
        assert len(node.claim_sources(["s"], T0, 1, ttl=30)) == 1


def test_the_schema_is_migrated_once_and_versioned(pg_url: str) -> None:
    import psycopg

    from feedbridge.store.postgres import PostgresStore, migrations

    with PostgresStore(pg_url), PostgresStore(pg_url):
        pass
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_version").fetchall()
        assert rows == [(v, n) for v, n, _ in migrations.migrations()]
        conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future.sql')")
        conn.commit()
    from feedbridge.core.errors import StoreError

    with pytest.raises(StoreError, match="newer than this feedbridge"):
        PostgresStore(pg_url)


def test_a_wrong_password_or_host_is_a_clear_error_without_the_password() -> None:
    from feedbridge.core.errors import StoreError
    from feedbridge.store.postgres import PostgresStore
    from tests.pg import free_port

    url = f"postgresql://feedbridge:s3cret-pw@127.0.0.1:{free_port()}/feedbridge"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    assert "s3cret-pw" not in str(caught.value)
    assert "postgresql://feedbridge:***@127.0.0.1" in str(caught.value)


def test_a_clean_shutdown_hands_leases_over_at_once(two_nodes: tuple[Store, Store, Clock]) -> None:
    a, b, _ = two_nodes
    a.register_sources(["s"], T0)
    a.enqueue([notice("t", entry("x"))], T0)
    assert len(a.claim_sources(["s"], T0, 1, ttl=30)) == 1
    assert len(a.claim_due("t", T0, ttl=30)) == 1
    a.release()
    assert [lease.source for lease in b.claim_sources(["s"], T0 + 1, 1, ttl=30)] == ["s"]
    assert len(b.claim_due("t", T0 + 1, ttl=30)) == 1


def test_a_changed_source_made_due_is_claimed_at_once_by_any_node(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    a, b, _ = two_nodes
    a.register_sources(["s"], T0)
    (lease,) = a.claim_sources(["s"], T0, 10, ttl=30)
    a.apply_poll("s", replace(poll([entry("x")]), next_due=T0 + 3600), lease)
    assert b.claim_sources(["s"], T0 + 1, 10, ttl=30) == [], "polled: due in an hour"
    a.make_due(["s"], T0 + 2)
    (taken,) = b.claim_sources(["s"], T0 + 2, 10, ttl=30)
    assert taken.source == "s" and taken.taken_over is None


def test_a_change_made_due_by_every_node_is_polled_once_by_a_node_running_it(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    """Every node that reloads a change calls make_due with the changed config's fingerprint:
    only the first call counts, and until a node running that config claims the source (or
    the grace runs out), a node still running the old one leaves it."""
    a, b, _ = two_nodes
    a.register_sources(["s"], T0)
    (lease,) = a.claim_sources(["s"], T0, 10, ttl=30, fingerprints=["old"])
    a.apply_poll("s", replace(poll([entry("x")]), next_due=T0 + 3600), lease)

    a.make_due(["s"], T0 + 10, fingerprints=["new"])  # a reloaded the change first
    assert b.claim_sources(["s"], T0 + 11, 10, ttl=30, fingerprints=["old"]) == [], \
        "b has not reloaded yet: it leaves the source to a node running the new config"  # fmt: skip
    b.make_due(["s"], T0 + 12, fingerprints=["new"])  # b reloads: nothing more to do
    (polled,) = b.claim_sources(["s"], T0 + 12, 10, ttl=30, fingerprints=["new"])
    b.apply_poll("s", replace(poll([entry("x")]), next_due=T0 + 3612), polled)
    a.make_due(["s"], T0 + 13, fingerprints=["new"])  # a late reload of the same change
    assert a.claim_sources(["s"], T0 + 14, 10, ttl=30, fingerprints=["new"]) == [], \
        "the change was polled once: due again only on its schedule"  # fmt: skip

    a.make_due(["s"], T0 + 20, fingerprints=["newer"])  # the next change counts
    assert b.claim_sources(["s"], T0 + 21, 10, ttl=30, fingerprints=["new"]) == []
    (late,) = b.claim_sources(["s"], T0 + 51, 10, ttl=30, fingerprints=["new"])
    assert late.source == "s", "past the grace any node polls it: none running it claimed it"


def test_a_source_made_due_while_a_poll_holds_it_stays_due_after_that_poll(
    two_nodes: tuple[Store, Store, Clock],
) -> None:
    a, b, _ = two_nodes
    a.register_sources(["s"], T0)
    (lease,) = a.claim_sources(["s"], T0, 10, ttl=30, fingerprints=["old"])
    b.make_due(["s"], T0 + 1, fingerprints=["new"])  # the config changed mid-poll
    a.apply_poll("s", replace(poll([entry("x")]), next_due=T0 + 3600), lease)  # the old one's
    assert a.claim_sources(["s"], T0 + 2, 10, ttl=30, fingerprints=["old"]) == []
    (again,) = b.claim_sources(["s"], T0 + 2, 10, ttl=30, fingerprints=["new"])
    b.apply_poll("s", replace(poll([entry("x")]), next_due=T0 + 3602), again)
    assert b.claim_sources(["s"], T0 + 3, 10, ttl=30, fingerprints=["new"]) == [], \
        "polled with the new config: scheduled again"  # fmt: skip
    (scheduled,) = a.claim_sources(["s"], T0 + 3602, 10, ttl=30, fingerprints=["old"])
    assert scheduled.source == "s", "a scheduled poll is any node's, whatever config it runs"
