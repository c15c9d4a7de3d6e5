"""The PostgreSQL schema: versioned SQL files shipped in the package, applied at start-up.

Every process runs `migrate` when it opens the store; an advisory lock makes
concurrent start-ups apply each file once, in order, each in one transaction.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from feedbridge.core.errors import StoreError

_LOCK = 0x66656564  # "feed": the advisory lock id that serializes migrations
_NAME = re.compile(r"(\d+)_[a-z0-9_]+\.sql")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every schema file, in version order."""
    found = []
    for item in resources.files("feedbridge.store.postgres").joinpath("schema").iterdir():
        match = _NAME.fullmatch(item.name)
        if match:
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def latest() -> int:
    return migrations()[-1][0]


def current(conn: Any) -> int | None:
    """The schema version in the database, None when feedbridge never ran there."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return None
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row[0] is not None else None


def migrate(conn: Any) -> list[int]:
    """Apply the schema files newer than the database; returns the versions applied.

    Raises StoreError when the database is newer than this feedbridge (an older
    process must not write a schema it does not know).
    """
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        have = current(conn) or 0
        if have > latest():
            raise StoreError(
                f"the database has schema version {have}, newer than this feedbridge knows "
                f"({latest()}); upgrade feedbridge on this node"
            )
        for version, name, sql in migrations():
            if version <= have:
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(version)
    return applied
