"""The embedded store's own guarantees: JSON only, no pickles, clear errors, old data migrated.

What every backend must do is in test_store_conformance.py.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import diskcache
import pytest

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store import EmbeddedStore, PollOutcome, SourceState, open_embedded
from feedbridge.store.embedded.diskjson import JSONOnlyDisk
from feedbridge.store.feedjson import feed_entries, feed_json


def test_a_planted_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        store.apply_poll("s", PollOutcome(SourceState(last_count=1)))
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.touch, ())  # type: ignore[return-value]

    payload = pickle.dumps(Exploit())
    db = sqlite3.connect(tmp_path / "cache.db")
    db.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = 'state:source:s'", (payload,))
    db.commit()
    db.close()
    with EmbeddedStore(tmp_path) as store:
        with pytest.raises(StoreError, match="unpickle"):
            store.source_state("s")
        with pytest.raises(StoreError, match="unpickle"):  # the batched read of the index
            store.source_states(["other", "s"])
    assert not marker.exists()


@pytest.mark.parametrize("where", ["absolute", "dotdot"])
def test_a_row_naming_a_file_outside_the_store_is_corrupt_and_the_file_is_left_alone(
    tmp_path: Path, where: str
) -> None:
    """A planted row whose value file is `/…/victim` or `../victim`: reading it is a
    StoreError that says corrupt, and neither reading nor expiring it touches the file."""
    store_dir = tmp_path / "data"
    victim = tmp_path / "victim"
    victim.write_text('{"secret": "outside the store"}')
    name = str(victim) if where == "absolute" else "../victim"
    with EmbeddedStore(store_dir) as store:
        store.apply_poll("s", PollOutcome(SourceState(last_count=1)))
    db = sqlite3.connect(store_dir / "cache.db")
    db.execute(
        "UPDATE Cache SET mode = 3, value = NULL, filename = ? WHERE key = 'state:source:s'",
        (name,),
    )
    db.commit()
    db.close()
    with EmbeddedStore(store_dir) as store:
        with pytest.raises(StoreError) as checked:  # what `check`, `once` and `run` say
            store.check()
        assert str(checked.value).startswith(
            f"store at {store_dir} is corrupt: a row names the file {name!r}, not one of the "
            "store's; check that"
        )
        with pytest.raises(StoreError, match=r"corrupt.*not one of the store's"):
            store.source_state("s")
        with pytest.raises(StoreError, match=r"corrupt.*not one of the store's"):
            store.source_states(["s"])
        store._sql("UPDATE Cache SET expire_time = 1 WHERE key = 'state:source:s'")
        store.expire(now=10.0)  # the row is past its expiry: diskcache deletes its file
        assert store.source_state("s") == SourceState()  # the row is gone, the file is not
    assert victim.read_text() == '{"secret": "outside the store"}'


def test_the_store_directory_and_its_files_are_the_owners_only(tmp_path: Path) -> None:
    """0700 for the directory (even one that existed 0755), 0600 for the database, its WAL and
    every value file: they hold source URLs and the outbox."""
    store_dir = tmp_path / "data"
    store_dir.mkdir(mode=0o755)
    with EmbeddedStore(store_dir) as store:
        store.apply_poll("s", PollOutcome(SourceState(last_count=1)))
        store._set("meta:big", "x" * 100_000)  # above diskcache's 32 KB: a file of its own
        files = [p for p in store_dir.rglob("*") if p.is_file()]
        folders = [store_dir, *(p for p in store_dir.rglob("*") if p.is_dir())]
        assert any(p.suffix == ".val" for p in files) and (store_dir / "cache.db-wal").exists()
        assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}, files
        assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}, folders


def test_rows_queued_by_an_earlier_version_are_delivered_by_this_one(tmp_path: Path) -> None:
    """Outbox rows of the untyped layout (`outbox:TARGET-N`, {"type": ...}) move over once."""
    entry = {"source": "s", "key": "k1", "title": "T", "link": "https://x/1"}
    rows = [
        ("outbox:team-500000000000000", {"type": "entry", "entry": entry, "queued_at": 5.0,
                                         "attempts": 2, "done": [0], "next_at": 9.0}),
        ("outbox:team-ops-500000000000000", {"type": "health", "queued_at": 6.0, "event": {
            "subject": "source s", "kind": "failing", "message": "m", "at": "2026-01-01"}}),
    ]  # fmt: skip
    with EmbeddedStore(tmp_path) as store:
        store.check()
    db = sqlite3.connect(tmp_path / "cache.db")
    for key, value in rows:
        db.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count, "
            "tag, size, mode, filename, value) VALUES (?, 1, 0, NULL, 0, 0, NULL, 0, 1, NULL, ?)",
            (key, json.dumps(value)),
        )
    db.commit()
    db.close()
    with open_embedded(tmp_path) as store:
        store.check()
        (team,) = store.claim_due("team", 10.0)
        (ops,) = store.claim_due("team-ops", 10.0)
    assert (team.kind, team.key, team.payload, team.attempts) == ("entry", "s:k1", entry, 2)
    assert (team.done_urls, team.next_at, team.queued_at) == (frozenset({0}), 9.0, 5.0)
    assert (ops.kind, ops.payload["subject"]) == ("health", "source s")


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cache.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StoreError, match=r"corrupt|cannot open"):
        open_embedded(tmp_path).check()


def test_unopenable_store_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the store"):
        EmbeddedStore(blocker / "data")


def test_a_store_of_the_row_per_key_layout_moves_into_the_tables_once(tmp_path: Path) -> None:
    """Before the tables, every seen key, delivery mark and feed was a diskcache row (`seen:`,
    `sent:`, `feed:` with `fver:`; a long feed in a file beside the database). Such a store
    opens with all of it, expiries kept, the old rows and files gone."""
    t0 = 1_000_000.0
    feed = [
        Entry(source="hf", key=f"https://x.org/p/{n}", title=f"Paper {n}", link=f"https://x/{n}",
              summary="words " * 400, score=n, published=datetime(2026, 5, n + 1, tzinfo=UTC))
        for n in range(20)
    ]  # fmt: skip
    old = {
        "feed:hf": ([e.to_dict() for e in feed], None),  # ~90 KB: diskcache puts it in a file
        "fver:hf": (7, None),
        "tinit:team:hf": (t0, None),
        "seen:hf:https://x.org/p/1": ({"score": 12, "at": t0}, t0 + 500),
        "seen:hf:https://x.org/p/2": ({"score": None, "at": t0}, t0 + 900),
        "seen:hf:gone": ({"score": 3, "at": t0 - 1000}, t0 - 1),
        "sent:team:hf:https://x.org/p/1": ({"how": "first_run", "at": t0}, t0 + 500),
        "sent:team-digest:hf:https://x.org/p/2": ({"how": "queued", "at": t0}, t0 + 900),
    }
    settings = {"disk": JSONOnlyDisk, "eviction_policy": "none", "cull_limit": 0}  # as the store
    with diskcache.Cache(str(tmp_path), **settings) as cache:
        for key, (value, expires) in old.items():
            cache.set(key, value)
            cache._sql("UPDATE Cache SET expire_time = ? WHERE key = ?", (expires, key))
    assert len(list(tmp_path.rglob("*.val"))) == 1, "the old feed lives in a file"

    clock = iter([t0 + 10] * 20).__next__
    with EmbeddedStore(tmp_path, seen_ttl=1000, clock=clock) as store:
        store.check(deep=True)
        keys = ["https://x.org/p/1", "https://x.org/p/2", "gone"]
        view = store.poll_view("hf", keys, ["team", "team-digest"])
        assert view.seen == {"https://x.org/p/1": 12, "https://x.org/p/2": None}
        assert view.handed == {
            "team": frozenset({"https://x.org/p/1"}),
            "team-digest": frozenset({"https://x.org/p/2"}),
        }
        assert view.knows == frozenset({"team"})
        assert view.feed == feed == store.feed_entries("hf")
        assert store.feed_versions({}) == {"hf": 7}
        assert store._keys_with_prefix("seen:") == store._keys_with_prefix("sent:") == []
        assert store._keys_with_prefix("feed:") == store._keys_with_prefix("fver:") == []
        assert list(tmp_path.rglob("*.val")) == []
        assert store.apply_poll("hf", PollOutcome(SourceState(), feed=feed[:3])) == 8
        assert store.expire(t0 + 600) == 3, "'gone', and p/1's seen key and mark: as before"
        assert store.poll_view("hf", keys, []).seen == {"https://x.org/p/2": None}
    with EmbeddedStore(tmp_path, seen_ttl=1000, clock=clock) as store:  # nothing left to move
        assert store.feed_versions({}) == {"hf": 8}
        assert store.poll_view("hf", keys, []).seen == {"https://x.org/p/2": None}


def test_a_feed_stored_as_orjson_reads_back_as_the_entries_that_were_written() -> None:
    """orjson writes the dataclasses directly; what it cannot write the same way as
    `Entry.to_dict()` + json (an int past 64 bits, an infinite score) goes through json."""
    india = timezone(timedelta(hours=5, minutes=30))
    entries = [
        Entry(source="s", key="k1", title="Ünïcode “quotes” <b>", link="https://x/1",
              summary="a\nb", content_html="<p>é</p>", authors=("Zoë", "李"), score=3,
              published=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=india),
              updated=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), image="https://x/i.png",
              extras={"stars": 12, "tags": ["a", {"b": None}], "ratio": 0.1}),
        Entry(source="s", key="k2", title="", link="https://x/2", extras={"id": 2**70 + 1}),
        Entry(source="s", key="k3", title="", link="https://x/3", score=float("inf")),
    ]  # fmt: skip
    for feed in (entries[:1], entries[:2], entries):
        data = feed_json(feed)
        assert json.loads(data) == [e.to_dict() for e in feed]
        assert feed_entries(data) == feed


def test_a_poll_that_sees_the_same_entries_again_writes_only_its_state(tmp_path: Path) -> None:
    """37 seen keys within their refresh window: the upsert writes none of them."""
    entries = [Entry(source="s", key=f"k{n}", title="t", link=f"https://x/{n}", score=n)
               for n in range(37)]  # fmt: skip
    with EmbeddedStore(tmp_path) as store:
        store.apply_poll("s", PollOutcome(SourceState(), feed=entries, seen=entries))
        con = store._cache._con

        def rows_written(outcome: PollOutcome) -> int:
            before = con.total_changes
            store.apply_poll("s", outcome)
            return con.total_changes - before

        state_only = rows_written(PollOutcome(SourceState(last_count=37)))
        assert rows_written(PollOutcome(SourceState(last_count=37), seen=entries)) == state_only
        rescored = [*entries[:36], replace(entries[36], score=99)]
        assert rows_written(PollOutcome(SourceState(), seen=rescored)) == state_only + 1


def test_a_damaged_stored_feed_is_a_clear_error_naming_the_store(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        entry = Entry(source="s", key="k", title="t", link="https://x/k")
        store.apply_poll("s", PollOutcome(SourceState(), feed=[entry]))
    db = sqlite3.connect(tmp_path / "cache.db")
    db.execute("UPDATE Feeds SET entries = ?", (b'[{"source": "s", "key"',))
    db.commit()
    db.close()
    with EmbeddedStore(tmp_path) as store:
        store.check()  # start-up reads no feed
        with pytest.raises(StoreError, match=r"is corrupt: the stored feed of source .s. is dam"):
            store.check(deep=True)
        with pytest.raises(StoreError, match=f"store at {tmp_path} failed: the stored feed of"):
            store.feed_entries("s")
        with pytest.raises(StoreError, match=f"store at {tmp_path} failed: the stored feed of"):
            store.poll_view("s", ["k"], [])
