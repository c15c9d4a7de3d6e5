"""The diskcache store: JSON only, no pickles, ordered outbox, atomic groups of writes."""

from __future__ import annotations

import pickle
import sqlite3
import time
from pathlib import Path

import pytest

from feedbridge.errors import StoreError
from feedbridge.models import Entry
from feedbridge.store import Queued, Store, open_store


def entry(key: str, score: float | None = 1) -> Entry:
    return Entry(source="s", key=key, title=f"t {key}", link=f"https://x/{key}", score=score)


def test_feed_round_trips_entries(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.save_feed("s", [entry("a"), entry("b", None)])
    with Store(tmp_path) as store:
        assert [e.key for e in store.feed_entries("s")] == ["a", "b"]
        assert store.feed_entries("s")[1].score is None


def test_a_planted_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.save_state("source", "s", {"ok": True})
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.touch, ())  # type: ignore[return-value]

    payload = pickle.dumps(Exploit())
    db = sqlite3.connect(tmp_path / "cache.db")
    db.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = 'state:source:s'", (payload,))
    db.commit()
    db.close()
    with Store(tmp_path) as store, pytest.raises(StoreError, match="unpickle"):
        store.state("source", "s")
    assert not marker.exists()


def test_outbox_keeps_order_per_target_and_survives_reopen(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        for n in range(5):
            store.enqueue("t1", Queued("entry", {"n": n}, 0.0))
        store.enqueue("t2", Queued("entry", {"n": 99}, 0.0))
    with Store(tmp_path) as store:
        pending = store.pending("t1")
        assert [d.payload["n"] for d in pending] == [0, 1, 2, 3, 4]
        store.complete(pending[0])
        assert [d.payload["n"] for d in store.pending("t1")] == [1, 2, 3, 4]
        assert store.pending_count("t2") == 1
        store.record_failed(pending[1], "HTTP 500")
        assert store.pending_count("t1") == 3
        assert store.failed("t1")[0]["reason"] == "HTTP 500"


def test_a_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.enqueue("t", Queued("entry", {"n": 1}, 0.0))
            store.mark_handed("t", "s", ["a"], "queued")
            raise RuntimeError("crash mid-write")
        assert store.pending_count("t") == 0
        assert store.handed("t", "s", ["a"]) == set()


def test_seen_scores_and_handed_marks(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.mark_seen("s", [entry("a", 3), entry("b", None)])
        assert store.seen_scores("s", ["a", "b", "c"]) == {"a": 3, "b": None}
        store.mark_handed("t", "s", ["a"], "queued")
        assert store.handed("t", "s", ["a", "b"]) == {"a"}
        assert not store.target_knows("t", "s")
        store.mark_target_knows("t", "s")
        assert store.target_knows("t", "s")


def test_seen_keys_expire_after_their_ttl(tmp_path: Path) -> None:
    with Store(tmp_path, seen_ttl=0.01) as store:
        store.mark_seen("s", [entry("a")])
        time.sleep(0.05)
        store.expire()
        assert store.seen_scores("s", ["a"]) == {}


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cache.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StoreError, match="corrupt"):
        open_store(tmp_path)


def test_unopenable_store_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(blocker / "data")
