"""The PostgreSQL store's page-made sources: a row each in `page_sources`, and the one-row
`config_version` raised in the same transaction, which every node watches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from feedbridge.store.base import PageConflict, PageSource
from feedbridge.store.postgres.base import Base

_BUMP = "UPDATE config_version SET version = version + 1 WHERE id = 1"


class PageSources(Base):
    """Sources made on the web page, shared by every node."""

    def page_sources(self) -> list[PageSource]:
        with self._tx(transaction=False) as conn:
            rows = conn.execute(
                "SELECT name, config, revision, created_at, updated_at FROM page_sources "
                "ORDER BY created_at, name"
            ).fetchall()
        return [PageSource(n, dict(t), int(r), float(c), float(u)) for n, t, r, c, u in rows]

    def save_page_source(
        self, table: Mapping[str, Any], now: float, *, revision: int | None = None
    ) -> PageSource:
        name = str(table["name"])
        with self._tx() as conn:
            if revision is None:  # create: the name must be free
                row = conn.execute(
                    "INSERT INTO page_sources (name, config, created_at, updated_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING "
                    "RETURNING revision, created_at",
                    (name, Jsonb(dict(table)), now, now),
                ).fetchone()
                if row is None:
                    raise PageConflict(f'a source named "{name}" exists already')
            else:
                row = conn.execute(
                    "UPDATE page_sources SET config = %s, revision = revision + 1, "
                    "updated_at = %s WHERE name = %s AND revision = %s "
                    "RETURNING revision, created_at",
                    (Jsonb(dict(table)), now, name, revision),
                ).fetchone()
                if row is None:
                    raise PageConflict(
                        f'source "{name}" was changed or deleted elsewhere since this page '
                        "was opened"
                    )
            conn.execute(_BUMP)
        return PageSource(name, dict(table), int(row[0]), float(row[1]), now)

    def delete_page_source(self, name: str, now: float, *, revision: int | None = None) -> bool:
        with self._tx() as conn:
            query = "DELETE FROM page_sources WHERE name = %s"
            args: tuple[Any, ...] = (name,)
            if revision is not None:
                query, args = query + " AND revision = %s", (name, revision)
            deleted = conn.execute(query + " RETURNING 1", args).fetchone() is not None
            if not deleted and revision is not None:
                raise PageConflict(
                    f'source "{name}" was changed or deleted elsewhere since this page was opened'
                )
            if deleted:
                conn.execute(_BUMP)
        return deleted

    def config_version(self) -> int:
        with self._tx(transaction=False) as conn:
            row = conn.execute("SELECT version FROM config_version WHERE id = 1").fetchone()
        return int(row[0]) if row else 0
