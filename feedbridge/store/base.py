"""The store interface: typed records and the `Store` protocol both backends implement.

Callers (worker, notifier, server, feed board) see only these records and calls;
key formats and SQL stay inside the backends, `embedded/` and `postgres/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

from feedbridge.core.errors import StoreError
from feedbridge.core.models import Entry
from feedbridge.store.status import StoreStatus
from feedbridge.store.status import StoreUnavailable as StoreUnavailable  # beside its raiser

P = ParamSpec("P")
T = TypeVar("T")

Kind = Literal["entry", "digest", "health"]


class LeaseLost(StoreError):
    """This process no longer holds the lease (it expired and another worker took it over);
    nothing of the outcome was written."""


class TakenOver(StoreError):
    """This node just took a target over from a node whose lease ran out: it claims no rows
    for `wait` seconds, so that the other node's last settle (a message it sent before it
    stalled) lands first. The lease is this node's; claim again after the wait."""

    def __init__(self, target: str, previous: str, wait: float) -> None:
        self.wait = wait
        super().__init__(
            f"target {target!r} taken over from {previous}; its rows are claimed in {wait:g}s"
        )


class PageConflict(StoreError):
    """A page-made source was saved from a revision that is no longer the stored one (someone
    changed or deleted it meanwhile), or created under a name already taken; nothing written."""


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """A record's field names but `extra` (every poll converts a state: look them up once)."""
    found = _NAMES.get(cls)
    if found is None:
        found = _NAMES[cls] = tuple(f.name for f in fields(cls) if f.name != "extra")
    return found


def _split(cls: type, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = _names(cls)
    known = {k: v for k, v in data.items() if k in names}
    return known, {k: v for k, v in data.items() if k not in names}


def _present(record: Any) -> dict[str, Any]:
    """The record's fields as a dict, leaving out those that are None (absent)."""
    return {n: v for n in _names(type(record)) if (v := getattr(record, n)) is not None}


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers of a source between polls, stored as a JSON object of these
    keys (None ones left out). `extra` keeps keys this version does not know, so an older
    process never drops a newer one's fields."""

    last_poll: float | None = None
    last_success: float | None = None
    last_count: int = 0
    failures: int = 0
    status: str | None = None  # "ok", "warning", "failing", "empty"; None before the first poll
    last_error: str | None = None
    retry_after: float | None = None  # the last failure's Retry-After, in seconds
    validators: Mapping[str, Any] = field(default_factory=dict)  # ETag, Last-Modified, digest
    feed_changed_at: float | None = None
    upstream: Mapping[str, Any] = field(default_factory=dict)  # the feed's own title and site
    config: str | None = None  # fingerprint of the config the validators were read with
    warning: str | None = None  # the last poll worked but found something wrong
    # the last polls, newest first: {"at", "status", "entries", "new", "error"} (the web page)
    history: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = _present(self)
        out["validators"] = dict(self.validators)
        out["upstream"] = dict(self.upstream)
        if self.history:
            out["history"] = [dict(h) for h in self.history]
        else:
            out.pop("history", None)
        return {**self.extra, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceState:
        known, extra = _split(cls, data)
        known["history"] = tuple(known.get("history") or ())
        return cls(**known, extra=extra)


@dataclass(frozen=True, slots=True)
class TargetState:
    """A target's delivery health, rate-limit window and digest clock."""

    failures: int = 0
    status: str = "ok"
    last_error: str | None = None
    sent_times: tuple[float, ...] = ()
    last_digest: float | None = None
    digest_next_at: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = _present(self)
        out["sent_times"] = list(self.sent_times)
        return {**self.extra, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetState:
        known, extra = _split(cls, data)
        known["sent_times"] = tuple(known.get("sent_times") or ())
        return cls(**known, extra=extra)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something owed to one target: an entry, or a health event. `key` makes it unique per
    (target, kind): queuing the same notice twice (a retried poll) queues it once."""

    target: str
    kind: Kind
    key: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One queued delivery. `done_urls` are the target's URL indexes that already took it
    (a retry skips them); the retry window runs from `first_attempt_at`."""

    id: str  # opaque, ordered per target
    target: str
    kind: Kind
    key: str
    payload: Mapping[str, Any]
    queued_at: float
    attempts: int = 0
    first_attempt_at: float | None = None
    next_at: float = 0.0
    done_urls: frozenset[int] = frozenset()
    last_error: str | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A delivery given up after its retry window, kept for the operator."""

    target: str
    kind: Kind
    payload: Mapping[str, Any]
    reason: str
    at: float
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class PollView:
    """Everything one poll reads before deciding, fetched in one batch."""

    feed: list[Entry]
    seen: dict[str, float | None]  # key -> score it had when last seen
    handed: dict[str, frozenset[str]]  # target -> keys already queued, sent or suppressed
    knows: frozenset[str]  # targets past their first cycle for this source


@dataclass(frozen=True, slots=True)
class KnownFeed:
    """A feed as the caller holds it (the feed board), at that stored version."""

    version: int
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """Everything one poll writes, in one transaction. `feed` is None when the feed did not
    change; `seen` are the entries extracted: a key is written when it is new, re-scored or
    its expiry nearer than the ttl (see `seen_slack`), decided by the store against its own
    rows in the same statement; `seen_before` is what `poll_view` read (for callers)."""

    state: SourceState
    next_due: float | None = None
    feed: Sequence[Entry] | None = None
    seen: Sequence[Entry] = ()
    seen_before: Mapping[str, float | None] = field(default_factory=dict)
    notices: Sequence[Notice] = ()
    suppressed: Mapping[str, Sequence[str]] = field(default_factory=dict)
    first_cycle: Sequence[str] = ()


def stored_state(location: str, source: str, data: object) -> SourceState:
    """A source's state as read from the store at `location` (None: never written, the
    empty state); a value that is not a JSON object is a StoreError naming the source."""
    if data is None:
        return SourceState()
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise StoreError(
            f"store at {location} is corrupt: the state of source {source!r} is "
            f"{type(data).__name__}, not a JSON object"
        )
    return SourceState.from_dict(data)


def seen_slack(ttl: float) -> float:
    """How much later than `ttl` after it was last seen a seen key may expire. A poll rewrites
    a key's expiry (to now + ttl + slack) only once it is nearer than `ttl`, so polls that see
    the same entries write nothing for them: 2 % of the ttl, at most a day."""
    return min(ttl * 0.02, 86400.0)


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to poll one source until `until`; `version` fences a stale holder out."""

    source: str
    owner: str
    version: int
    until: float
    taken_over: str | None = None  # the previous holder, when its lease had expired
    state: SourceState | None = None  # the source's state as claimed (saves a read)


@dataclass(frozen=True, slots=True)
class PageSource:
    """A source made on the web page, kept in the store beside the config file's sources, so
    that every node reads it and a read-only config file is no obstacle. `table` is its
    `[[sources]]` table as the page wrote it (name included, no `${ENV}` expanded);
    `revision` rises with each save, so an edit names the revision it started from."""

    name: str
    table: Mapping[str, Any]
    revision: int
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What `feedbridge check` reports about the store."""

    backend: str
    location: str  # a path, or the URL with its password masked
    server: str | None = None
    schema_version: int | None = None
    due_sources: int = 0  # due and waiting for a worker (not being polled)
    due_lag: float = 0.0  # seconds the most overdue of them is late
    details: Mapping[str, Any] = field(default_factory=dict)


class OutboxCalls:
    """`complete`, the common case of `settle` (both backends)."""

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
        raise NotImplementedError

    def complete(
        self,
        target: str,
        rows: Sequence[OutboxRow],
        state: TargetState,
        notices: Sequence[Notice] = (),
    ) -> None:
        self.settle(target, state, done=rows, notices=notices)


class Store(Protocol):
    """Persistent state of feedbridge. Every method raises StoreError when the backend fails
    (disk, database, network) and writes nothing of a call that raised (but `settle`: see
    there). Async code calls them through `run`, so that none blocks the event loop."""

    shared: bool  # True when several processes may share it (leases and claims matter)
    owner: str  # this process's identity in leases and claims
    status: StoreStatus  # whether it answers (the embedded store is always up)

    def close(self) -> None: ...

    def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]:
        """`call(*args)` (one of this store's calls) from async code without blocking the event
        loop: in a worker thread for a shared store, inline for the embedded one."""

    async def probe(self) -> None:
        """`ping` from async code, on a lane of its own (its own connection and thread), so
        that a busy store does not delay it; raises StoreError."""

    def check(
        self, *, deep: bool = False, now: float | None = None, sources: Sequence[str] = ()
    ) -> StoreInfo:
        """Verify the store is intact and writable (and migrated); raises StoreError with a
        remedy. Reports the lag of the due ones among `sources`."""

    def release(self) -> None:
        """Give up every lease this process holds (a clean shutdown), so that other nodes
        take its sources and targets at once instead of after the lease runs out."""

    def ping(self) -> None:
        """A cheap liveness probe (a write and read-back, or a round trip); raises StoreError,
        StoreUnavailable at once while the store is down and no probe is due."""

    # --- sources ---------------------------------------------------------------------

    def register_sources(self, names: Sequence[str], now: float) -> None:
        """Make sure each configured source has a row (due now when new)."""

    def source_state(self, source: str) -> SourceState:
        """The source's stored state (`SourceState()` for a source never polled); raises
        StoreError when its stored row is corrupt (not a JSON object, or unreadable)."""

    def source_states(self, names: Sequence[str]) -> dict[str, SourceState]:
        """Every named source's state in one read (one query; the index pages, metrics and
        start-up use it for all their sources): a key for each name, `SourceState()` for
        one never polled or unknown, so `source_states(n)[x] == source_state(x)`. Raises
        StoreError as `source_state` would for any of them (a corrupt row names its source)."""

    def poll_view(
        self,
        source: str,
        keys: Sequence[str],
        targets: Sequence[str],
        known: KnownFeed | None = None,
    ) -> PollView:
        """The stored feed, seen scores of `keys`, and each target's marks, in one read.
        `known` is the feed the caller holds with its stored version: while the stored
        version is that one, its entries are the view's feed and the stored one is not read."""

    def apply_poll(
        self, source: str, outcome: PollOutcome, lease: Lease | None = None
    ) -> int | None:
        """Write one poll's outcome atomically; with a lease, only while it is still held
        (raises LeaseLost otherwise) and release it with `outcome.next_due`. Returns the
        feed's new version when the outcome changed the feed."""

    def claim_sources(
        self,
        names: Sequence[str],
        now: float,
        limit: int,
        ttl: float,
        *,
        due_only: bool = True,
        fingerprints: Sequence[str | None] | None = None,
    ) -> list[Lease]:
        """Lease up to `limit` sources among `names` due at `now` that nobody holds (or whose
        holder's lease expired), oldest due first; shared stores only. `due_only=False` (the
        `once` command) leases every source nobody holds, due or not. Leases are timed by
        the store's clock: `ttl` from when the claim was made, and a claim that waited
        longer than `ttl` gets nothing. `fingerprints` (one per name: the config this node
        runs) keep a source made due for another config to the nodes running that one, for
        a grace of seconds: a node that has not reloaded the change yet does not poll it."""

    def renew(self, lease: Lease, now: float, ttl: float) -> Lease:
        """Extend a lease still held (`ttl` from now, by the store's clock); raises LeaseLost
        when another node took it."""

    def make_due(
        self, names: Sequence[str], now: float, *, fingerprints: Sequence[str | None] | None = None
    ) -> None:
        """Make these sources due now (their config changed: re-poll them); on a shared store
        whichever node is free polls them, elsewhere the source's own loop does. With
        `fingerprints` (one per name: the changed config's), once per config: every node
        reloading the same change calls this, and only the first call makes a source due. A
        source made due while a poll holds its lease stays due after that poll."""

    # --- sources made on the web page ------------------------------------------------

    def page_sources(self) -> list[PageSource]:
        """Every page-made source, oldest first."""

    def save_page_source(
        self, table: Mapping[str, Any], now: float, *, revision: int | None = None
    ) -> PageSource:
        """Create a page-made source (`revision` None: its name must be free) or replace one
        (`revision`: the one the edit started from); raises PageConflict when that does not
        hold. Raises the config version in the same transaction."""

    def delete_page_source(self, name: str, now: float, *, revision: int | None = None) -> bool:
        """Remove a page-made source (at `revision`, when given; else PageConflict); False if
        there was none. Raises the config version."""

    def config_version(self) -> int:
        """A number that rises with every change of the page-made sources: a node that sees
        it move reloads its configuration."""

    # --- outbox ----------------------------------------------------------------------

    def enqueue(self, notices: Sequence[Notice], now: float) -> int:
        """Queue notices (one transaction); a notice already queued is not queued again.
        Returns how many were new."""

    def claim_due(
        self, target: str, now: float, limit: int | None = None, ttl: float = 300.0
    ) -> list[OutboxRow]:
        """The target's oldest `limit` queued rows, oldest first, with `next_at` passed or not
        (the caller decides). On a shared store this takes (or renews) the target's lease for
        `ttl` seconds by the store's clock, so one node at a time delivers a target, in order;
        raises LeaseLost when another node holds it. A claim that waited longer than `ttl`
        gets nothing. One that took the target over from a node whose lease ran out raises
        TakenOver: this node claims its rows only after a grace (that node's late settle
        lands first)."""

    def hold(self, target: str, ttl: float) -> None:
        """Before a send: check, by the store's clock, that this node still delivers `target`
        and extend its lease by `ttl`; raises LeaseLost when another node took it over."""

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
        """One delivery attempt's outcome in one transaction: remove the `done` rows, save the
        `retry` rows' progress (attempts, done_urls, next_at, first_attempt_at), move the
        `failed` rows (past their retry window) to the failed log with `reason`, save the
        target's state and queue `notices` (health events for other targets). On a shared
        store raises LeaseLost when the target went to another node: then only the `done`
        rows are removed (they were delivered; sending them again would repeat them). With
        `hold`, a shared store also extends the lease by that many seconds (by its clock): the
        check `hold()` makes before the next send, in the same round trip."""

    def complete(
        self,
        target: str,
        rows: Sequence[OutboxRow],
        state: TargetState,
        notices: Sequence[Notice] = (),
    ) -> None:
        """`settle` with every row done."""

    def pending(self, target: str, limit: int | None = None) -> list[OutboxRow]:
        """The target's queued rows, oldest first, read only (no lease): for reports."""

    def pending_count(self, target: str) -> int: ...

    def failed(self, target: str) -> list[FailedRow]: ...

    # --- targets, feeds, housekeeping ------------------------------------------------

    def target_state(self, target: str) -> TargetState: ...

    def save_target_state(self, target: str, state: TargetState) -> None:
        """The end of a delivery round: save the target's state; on a shared store also hand
        the target back (any node may take the next round). Raises LeaseLost when another
        node delivers this target."""

    def feed_entries(self, source: str) -> list[Entry]: ...

    def feed_versions(self, known: Mapping[str, int]) -> dict[str, int]:
        """The sources whose stored feed version differs from `known` (a version rises with
        every change of the feed), with their versions."""

    def expire(self, now: float | None = None) -> int:
        """Drop seen keys, delivery marks and failed rows past their age; returns how many."""
