"""The embedded store's tables beside diskcache's key-value rows: seen keys, delivery marks and
feeds, each a row of its own in the same SQLite database and transaction.

A poll writes its seen keys and marks with one batched statement each (an upsert that writes
nothing for a key whose score is unchanged and whose expiry is still far enough ahead), and
its feed as one row of UTF-8 JSON that stays in the database, however long (no file beside
it). No index on `expires`: it would double the cost of a poll's inserts; `expire` finds
the expired rows with a scan that takes no lock, then deletes them by key. Stores of the
earlier layout (`seen:`, `sent:`, `feed:`, `fver:` rows in diskcache's `Cache` table) move
over once when opened. Used only by the embedded store, whose transaction holds every write.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from feedbridge.core.models import Entry
from feedbridge.store.embedded.diskjson import chunks
from feedbridge.store.feedjson import feed_entries, feed_json, json_text

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS Seen (source TEXT NOT NULL, key TEXT NOT NULL, score REAL,"
    " expires REAL NOT NULL, PRIMARY KEY (source, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS Handed (source TEXT NOT NULL, target TEXT NOT NULL,"
    " key TEXT NOT NULL, how TEXT NOT NULL, expires REAL NOT NULL,"
    " PRIMARY KEY (source, target, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS Feeds (source TEXT PRIMARY KEY, version INTEGER NOT NULL,"
    " entries BLOB NOT NULL)",
)

# One statement for every seen key of a poll: a new key is inserted, a known one is written
# only when its score changed or its expiry is nearer than `seen_ttl` (the `?` last).
_SEE = (
    "INSERT INTO Seen (source, key, score, expires) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (source, key) DO UPDATE SET score = excluded.score, expires = excluded.expires "
    "WHERE Seen.score IS NOT excluded.score OR Seen.expires < ?"
)
_MARK = (
    "INSERT INTO Handed (source, target, key, how, expires) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (source, target, key) DO UPDATE SET expires = excluded.expires"
)


def create(con: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        con.execute(statement)


def see(
    con: sqlite3.Connection, source: str, entries: Sequence[Entry], until: float, floor: float
) -> None:
    """Write the seen keys of one poll: expiring at `until`, refreshed when below `floor`."""
    if entries:
        con.executemany(_SEE, [(source, e.key, e.score, until, floor) for e in entries])


def mark(
    con: sqlite3.Connection, source: str, target: str, keys: Iterable[str], how: str, until: float
) -> None:
    con.executemany(_MARK, [(source, target, key, how, until) for key in keys])


def seen_scores(
    con: sqlite3.Connection, source: str, keys: Sequence[str], now: float
) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for part in chunks(keys):
        marks = ",".join("?" * len(part))
        query = f"SELECT key, score FROM Seen WHERE source = ? AND key IN ({marks}) AND expires > ?"
        found.update(con.execute(query, (source, *part, now)).fetchall())
    return found


def handed(
    con: sqlite3.Connection, source: str, targets: Sequence[str], keys: Sequence[str], now: float
) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {t: set() for t in targets}
    for target in targets:
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            query = (
                f"SELECT key FROM Handed WHERE source = ? AND target = ? AND key IN ({marks}) "
                "AND expires > ?"
            )
            found[target].update(r[0] for r in con.execute(query, (source, target, *part, now)))
    return {t: frozenset(k) for t, k in found.items()}


def save_feed(con: sqlite3.Connection, source: str, feed: Sequence[Entry]) -> int:
    """Replace the source's feed; returns its new version (one more than the last)."""
    text = feed_json(feed)
    con.execute(
        "INSERT INTO Feeds (source, version, entries) VALUES (?, 1, ?) ON CONFLICT (source) "
        "DO UPDATE SET version = Feeds.version + 1, entries = excluded.entries",
        (source, text),
    )
    (version,) = con.execute("SELECT version FROM Feeds WHERE source = ?", (source,)).fetchone()
    return int(version)


def feed(con: sqlite3.Connection, source: str) -> list[Entry]:
    row = con.execute("SELECT entries FROM Feeds WHERE source = ?", (source,)).fetchone()
    try:
        return feed_entries(row[0]) if row else []
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the stored feed of source {source!r} is damaged ({exc!r})") from exc


def version(con: sqlite3.Connection, source: str) -> int:
    row = con.execute("SELECT version FROM Feeds WHERE source = ?", (source,)).fetchone()
    return int(row[0]) if row else 0


def versions(con: sqlite3.Connection) -> dict[str, int]:
    return {name: int(v) for name, v in con.execute("SELECT source, version FROM Feeds")}


_KEYS = {"Seen": ("source", "key"), "Handed": ("source", "target", "key")}


def expired(con: sqlite3.Connection, now: float) -> dict[str, list[tuple[Any, ...]]]:
    """The keys of the rows expired at `now`, per table: read outside a transaction."""
    return {
        table: con.execute(f"SELECT {', '.join(cols)}, expires FROM {table} WHERE expires < ?",
                           (now,)).fetchall()
        for table, cols in _KEYS.items()
    }  # fmt: skip


def delete(con: sqlite3.Connection, rows: Mapping[str, Sequence[tuple[Any, ...]]]) -> int:
    """Delete those rows, unless a poll refreshed them since (their expiry changed)."""
    removed = 0
    for table, found in rows.items():
        match = " AND ".join(f"{col} = ?" for col in (*_KEYS[table], "expires"))
        cur = con.executemany(f"DELETE FROM {table} WHERE {match}", found)
        removed += max(cur.rowcount, 0)
    return removed


def check(con: sqlite3.Connection, deep: bool) -> None:
    """Read what start-up reads (feed versions); `deep` also parses every feed and reads every
    seen key and mark. Raises sqlite3.Error or ValueError on damage."""
    versions(con)
    if deep:
        for (source,) in con.execute("SELECT source FROM Feeds").fetchall():
            feed(con, source)
        for table in ("Seen", "Handed"):
            con.execute(f"SELECT count(*), max(expires) FROM {table}").fetchone()


# --- the earlier layout: one diskcache row per seen key, mark and feed ------------------------


def _range(prefix: str) -> tuple[str, str]:
    """Bounds of the keys that start with `prefix` ending in ':' (';' sorts right after it)."""
    return prefix, prefix[:-1] + ";"


def legacy_keys(con: sqlite3.Connection) -> bool:
    """Whether any row of the earlier layout is left (four index probes)."""
    query = "SELECT 1 FROM Cache WHERE key >= ? AND key < ? AND raw = 1 LIMIT 1"
    return any(
        con.execute(query, _range(p)).fetchone() for p in ("seen:", "sent:", "feed:", "fver:")
    )


def migrate_keys(con: sqlite3.Connection, feeds: Mapping[str, Any], until: float) -> list[str]:
    """Move rows of the earlier layout into the tables and delete them; `feeds` maps each
    `feed:NAME` key to its value as diskcache reads it (files included). A key without an
    expiry gets `until`. Returns the files of the deleted rows, to remove after the commit."""
    con.execute(
        "INSERT OR REPLACE INTO Seen (source, key, score, expires) "
        "SELECT substr(r, 1, instr(r, ':') - 1), substr(r, instr(r, ':') + 1),"
        " json_extract(value, '$.score'), coalesce(expire_time, ?) "
        "FROM (SELECT substr(key, 6) AS r, value, expire_time FROM Cache"
        " WHERE key >= ? AND key < ? AND raw = 1 AND mode = 1)",
        (until, *_range("seen:")),
    )
    con.execute(
        "INSERT OR REPLACE INTO Handed (source, target, key, how, expires) "
        "SELECT substr(r2, 1, instr(r2, ':') - 1), t, substr(r2, instr(r2, ':') + 1),"
        " coalesce(json_extract(value, '$.how'), 'queued'), coalesce(expire_time, ?) "
        "FROM (SELECT substr(r, 1, instr(r, ':') - 1) AS t, substr(r, instr(r, ':') + 1) AS r2,"
        "  value, expire_time"
        "  FROM (SELECT substr(key, 6) AS r, value, expire_time FROM Cache"
        "   WHERE key >= ? AND key < ? AND raw = 1 AND mode = 1))",
        (until, *_range("sent:")),
    )
    known = {}
    query = "SELECT key, value FROM Cache WHERE key >= ? AND key < ? AND raw = 1"
    for key, value in con.execute(query, _range("fver:")).fetchall():
        known[key[len("fver:") :]] = int(json.loads(value))
    for key, entries in feeds.items():
        name = key[len("feed:") :]
        con.execute(
            "INSERT OR REPLACE INTO Feeds (source, version, entries) VALUES (?, ?, ?)",
            (name, known.get(name, 1), json_text(entries)),
        )
    files = []
    for prefix in ("seen:", "sent:", "feed:", "fver:"):
        bounds = _range(prefix)
        query = "SELECT filename FROM Cache WHERE key >= ? AND key < ? AND filename IS NOT NULL"
        files += [row[0] for row in con.execute(query, bounds)]
        con.execute("DELETE FROM Cache WHERE key >= ? AND key < ? AND raw = 1", bounds)
    return files
