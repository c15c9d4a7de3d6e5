"""The embedded store's own guarantees: JSON only, no pickles, clear errors, old data migrated.

What every backend must do is in test_store_conformance.py.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import pytest

from feedbridge.errors import StoreError
from feedbridge.store import EmbeddedStore, PollOutcome, SourceState, open_embedded


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
    with EmbeddedStore(tmp_path) as store, pytest.raises(StoreError, match="unpickle"):
        store.source_state("s")
    assert not marker.exists()


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
