"""The embedded store's outbox and targets: rows under `outbox:{target}:` in queue order, the
index `obk:` that queues a notice once, settling an attempt, the failed log, target state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feedbridge.store.base import FailedRow, Notice, OutboxCalls, OutboxRow, TargetState
from feedbridge.store.embedded.base import Base
from feedbridge.store.embedded.diskjson import row_from_json, row_to_json, target_segment


class Outbox(Base, OutboxCalls):
    """Outbox and targets: one process delivers every target, so there are no leases."""

    def enqueue(self, notices: Sequence[Notice], now: float) -> int:
        with self._transaction() as con:
            return self._enqueue(con, notices, now)

    def claim_due(
        self, target: str, now: float, limit: int | None = None, ttl: float = 300.0
    ) -> list[OutboxRow]:
        rows = []
        for key in self._keys_with_prefix(f"outbox:{target_segment(target)}:", limit):
            value = self._get(key)
            if value is not None:
                rows.append(row_from_json(key, target, value))
        return rows

    def hold(self, target: str, ttl: float) -> None:
        """One process owns the directory: it always holds its targets."""

    def _remove(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            if row.id:
                self._cache.delete(row.id, retry=True)
                self._cache.delete(f"obk:{row.target}:{row.kind}:{row.key}", retry=True)

    def settle(
        self,
        target: str,
        state: TargetState,
        *,
        done: Sequence[OutboxRow] = (),
        retry: Sequence[OutboxRow] = (),
        failed: Sequence[OutboxRow] = (),
        reason: str = "",
        notices: Sequence[Notice] = (),
        now: float | None = None,
        hold: float | None = None,
    ) -> None:
        now = self.clock() if now is None else now
        with self._transaction() as con:
            self._remove(done)
            for row in retry:
                if row.id and row.id in self._cache:
                    self._set(row.id, row_to_json(row))
            for row in failed:
                value: dict[str, Any] = {"kind": row.kind, "payload": dict(row.payload)}
                value.update(reason=reason, attempts=row.attempts)
                key = f"failed:{target_segment(target)}:{row.id or 'digest'}:{now}"
                self._set(key, {**value, "at": now})
                self._expire_at([key], self.clock() + self.seen_ttl)
            self._remove(failed)
            self._set(f"state:target:{target}", state.to_dict())
            self._enqueue(con, notices, now)

    def pending(self, target: str, limit: int | None = None) -> list[OutboxRow]:
        return self.claim_due(target, self.clock(), limit)

    def pending_count(self, target: str) -> int:
        return len(self._keys_with_prefix(f"outbox:{target_segment(target)}:"))

    def failed(self, target: str) -> list[FailedRow]:
        found = []
        keys = self._keys_with_prefix(f"failed:{target_segment(target)}:")
        for value in self._live(keys, self.clock()).values():
            if value is not None:
                kind = value.get("kind") or value["payload"].get("type", "entry")
                attempts = int(value.get("attempts", 0))
                payload, reason, at = value["payload"], value["reason"], value["at"]
                found.append(FailedRow(target, kind, payload, reason, at, attempts))
        return found

    def target_state(self, target: str) -> TargetState:
        return TargetState.from_dict(self._get(f"state:target:{target}", {}))

    def save_target_state(self, target: str, state: TargetState) -> None:
        with self._transaction():
            self._set(f"state:target:{target}", state.to_dict())
