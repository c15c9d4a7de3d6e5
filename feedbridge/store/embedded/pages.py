"""The embedded store's page-made sources: one JSON row each (`page:source:NAME`) and the
config version that rises with every change, written in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from feedbridge.store.base import PageConflict, PageSource
from feedbridge.store.embedded.base import Base

_PREFIX = "page:source:"
_VERSION = "meta:config_version"


class PageSources(Base):
    """Sources made on the web page, and the config version; one process owns the directory,
    so `make_due` has nothing to do (the source's own loop restarts, due now)."""

    def make_due(
        self, names: Sequence[str], now: float, *, fingerprints: Sequence[str | None] | None = None
    ) -> None:
        """Nothing to do: the worker restarts a changed source's loop, due now."""

    def page_sources(self) -> list[PageSource]:
        with self._failing():
            rows = [self._get(key) for key in self._keys_with_prefix(_PREFIX)]
        found = [_record(row) for row in rows if isinstance(row, dict)]
        return sorted(found, key=lambda p: (p.created_at, p.name))

    def save_page_source(
        self, table: Mapping[str, Any], now: float, *, revision: int | None = None
    ) -> PageSource:
        name = str(table["name"])
        with self._transaction():
            stored = self._get(_PREFIX + name)
            _check(name, stored, revision, creating=True)
            created = stored["created_at"] if stored else now
            row = {"table": dict(table), "revision": (stored or {}).get("revision", 0) + 1,
                   "created_at": created, "updated_at": now}  # fmt: skip
            self._set(_PREFIX + name, row)
            self._set(_VERSION, int(self._get(_VERSION, 0)) + 1)
        return _record(row)

    def delete_page_source(self, name: str, now: float, *, revision: int | None = None) -> bool:
        with self._transaction():
            stored = self._get(_PREFIX + name)
            if stored is None and revision is None:
                return False
            _check(name, stored, revision, creating=False)
            self._cache.delete(_PREFIX + name, retry=True)
            self._set(_VERSION, int(self._get(_VERSION, 0)) + 1)
        return True

    def config_version(self) -> int:
        return int(self._get(_VERSION, 0))


def _check(name: str, stored: Any, revision: int | None, *, creating: bool) -> None:
    """PageConflict unless the stored row is the one the caller started from."""
    have = stored.get("revision") if isinstance(stored, dict) else None
    if revision is None and have is not None and creating:
        raise PageConflict(f'a source named "{name}" exists already')
    if revision is not None and have != revision:
        what = "deleted" if have is None else "changed"
        raise PageConflict(f'source "{name}" was {what} elsewhere since this page was opened')


def _record(row: Mapping[str, Any]) -> PageSource:
    table = dict(row["table"])
    return PageSource(str(table["name"]), table, int(row["revision"]),
                      float(row["created_at"]), float(row["updated_at"]))  # fmt: skip
