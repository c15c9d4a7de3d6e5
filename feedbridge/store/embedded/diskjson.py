"""The embedded store's disk format: string keys, JSON values, never a pickle; outbox rows as
JSON and target names as key segments. Used only by the embedded store."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import diskcache

from feedbridge.core.errors import StoreError
from feedbridge.store.base import OutboxRow

log = logging.getLogger("feedbridge.store")

_PICKLE_MODE = 4
# diskcache names every value file `ab/cd/<28 hex>.val` inside the directory (Disk.filename)
_VALUE_FILE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{28}\.val")
FILE_MODE, DIR_MODE = 0o600, 0o700  # the store holds source URLs: its owner's only
_UNKNOWN = diskcache.core.UNKNOWN
_CHUNK = 500  # keys per IN (...) list: below SQLite's variable limit


class JSONOnlyDisk(diskcache.Disk):  # type: ignore[misc]
    """String keys, JSON values, and a refusal to unpickle anything found on disk, or to read
    or delete a file that is not one of the store's own (a row naming `/etc/x` or `../x`)."""

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"store keys are strings, not {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise StoreError("refusing to unpickle a key found in the store")
        return super().get(key, raw)

    def filename(self, key: Any = _UNKNOWN, value: Any = _UNKNOWN) -> Any:
        """diskcache's name for a new value file, its two folders made owner-only."""
        name, full_path = super().filename(key, value)
        outer = os.path.join(self._directory, name[:2])
        for folder in (outer, os.path.join(outer, name[3:5])):
            os.makedirs(folder, DIR_MODE, exist_ok=True)
        return name, full_path

    def store(self, value: Any, read: bool, key: Any = _UNKNOWN) -> Any:
        size, mode, name, db_value = super().store(
            json.dumps(value, separators=(",", ":")), read, key=key
        )
        if name is not None:
            os.chmod(os.path.join(self._directory, name), FILE_MODE)
        return size, mode, name, db_value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == _PICKLE_MODE:
            raise StoreError("refusing to unpickle a value found in the store")
        if filename is not None and not _VALUE_FILE.fullmatch(filename):
            raise StoreError(f"corrupt: a row names the file {filename!r}, not one of the store's")
        data = super().fetch(mode, filename, value, read)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise StoreError(f"a value in the store is not JSON ({exc})") from exc

    def remove(self, file_path: str) -> None:
        if not _VALUE_FILE.fullmatch(file_path):
            log.error(
                "store row names a file outside the store (corrupt); not deleted",
                extra={"file": file_path},
            )
            return
        super().remove(file_path)


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
