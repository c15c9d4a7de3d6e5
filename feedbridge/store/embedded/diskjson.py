"""The embedded store's disk format: string keys, JSON values, never a pickle; outbox rows as
JSON and target names as key segments. Used only by the embedded store."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import diskcache

from feedbridge.core.errors import StoreError
from feedbridge.store.base import OutboxRow

_PICKLE_MODE = 4
_CHUNK = 500  # keys per IN (...) list: below SQLite's variable limit


class JSONOnlyDisk(diskcache.Disk):  # type: ignore[misc]
    """String keys, JSON values, and a refusal to unpickle anything found on disk."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"store keys are strings, not {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise StoreError("refusing to unpickle a key found in the store")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        return super().store(json.dumps(value, separators=(",", ":")), read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == _PICKLE_MODE:
            raise StoreError("refusing to unpickle a value found in the store")
        data = super().fetch(mode, filename, value, read)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise StoreError(f"a value in the store is not JSON ({exc})") from exc


def target_segment(target: str) -> str:
    """A target's name as a key segment, escaped so that it holds no `:` nor `-`: the prefix
    `outbox:{segment}:` of one target never matches another's rows, whatever the names."""
    return quote(target, safe="").replace("-", "%2D")


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def row_from_json(key: str, target: str, value: Mapping[str, Any]) -> OutboxRow:
    return OutboxRow(
        id=key,
        target=target,
        kind=value["kind"],
        key=value["key"],
        payload=value["payload"],
        queued_at=float(value["queued_at"]),
        attempts=int(value.get("attempts", 0)),
        first_attempt_at=value.get("first_attempt_at"),
        next_at=float(value.get("next_at", 0.0)),
        done_urls=frozenset(value.get("done_urls", ())),
        last_error=value.get("last_error"),
    )


def row_to_json(row: OutboxRow) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "key": row.key,
        "payload": dict(row.payload),
        "queued_at": row.queued_at,
        "attempts": row.attempts,
        "first_attempt_at": row.first_attempt_at,
        "next_at": row.next_at,
        "done_urls": sorted(row.done_urls),
        "last_error": row.last_error,
    }
