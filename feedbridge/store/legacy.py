"""Outbox rows as feedbridge wrote them before the typed outbox, read once and requeued."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feedbridge.store.base import Kind, Notice
from feedbridge.store.notices import notice_key


def legacy_row(target: str, value: Mapping[str, Any]) -> tuple[Notice, dict[str, Any]]:
    """An outbox value of an earlier layout as a notice plus its delivery progress."""
    if "kind" in value:  # typed rows under the `outbox:TARGET-N` keys
        kind_: Kind = value["kind"]
        notice = Notice(target, kind_, notice_key(kind_, value["payload"]), value["payload"])
        names = ("queued_at", "attempts", "first_attempt_at", "next_at", "done_urls")
        return notice, {k: value[k] for k in (*names, "last_error") if k in value}
    kind: Kind = "health" if value.get("type") == "health" else "entry"
    field = "event" if kind == "health" else "entry"
    payload = dict(value[field])
    notice = Notice(target, kind, notice_key(kind, payload), payload)
    extra = {
        "queued_at": float(value.get("queued_at", 0.0)),
        "attempts": int(value.get("attempts", 0)),
        "first_attempt_at": value.get("queued_at") if value.get("attempts") else None,
        "next_at": float(value.get("next_at", 0.0)),
        "done_urls": list(value.get("done", [])),
        "last_error": value.get("last_error"),
    }
    return notice, extra
