"""Pure decisions for one poll: the new feed, what is new, what each target is owed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from feedbridge.config.models import SourceBase
from feedbridge.core.filters import EntryFilter
from feedbridge.core.models import Entry
from feedbridge.store import PollView

FirstRun = Literal["baseline", "notify", "latest"]


@dataclass(frozen=True, slots=True)
class TargetRule:
    """A configured target as every poll applies it: its filter, and whether it gets
    health events (sources failing, recovering)."""

    name: str
    filter: EntryFilter
    health: bool = False


@dataclass(frozen=True, slots=True)
class TargetView:
    """What the pipeline needs to know of one target for one source."""

    name: str
    filter: EntryFilter
    knows_source: bool  # False on the target's first cycle for this source
    handed: frozenset[str] = frozenset()  # keys already queued, sent or suppressed


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one successful poll."""

    feed: list[Entry]  # newest first, at most `keep`
    new: list[Entry]
    updated: list[Entry]
    deliveries: dict[str, list[Entry]] = field(default_factory=dict)  # target -> oldest first
    suppressed: dict[str, list[str]] = field(default_factory=dict)  # target -> keys not sent
    first_cycle: list[str] = field(default_factory=list)  # targets whose first cycle this was
    empty: bool = False  # yielded nothing while the feed had entries: the feed was kept


def newest_first(entries: Sequence[Entry]) -> list[Entry]:
    """By time, newest first; entries of equal (or no) time keep the order given."""
    return sorted(entries, key=lambda e: e.sort_time, reverse=True)


def merge_feed(previous: Sequence[Entry], fresh: Sequence[Entry], keep: int) -> list[Entry]:
    """Fresh entries (in page order) replace stored ones with the same key; the newest `keep`
    stay, so a page without dates keeps its own order."""
    fresh_keys = {e.key for e in fresh}
    merged = [*fresh, *(e for e in previous if e.key not in fresh_keys)]
    return newest_first(merged)[:keep]


def keep_identities(
    extracted: Sequence[Entry],
    alternates: Mapping[str, Sequence[Entry]],
    previous_feed: Sequence[Entry],
) -> list[Entry]:
    """Where a document gave one key to several items, the one the stored feed has keeps it:
    an item prepended with an old guid must not take over that entry's title, link and date.
    `alternates` are the later items of each such key; a key the feed does not have yet
    keeps its first item."""
    if not alternates or not previous_feed:
        return list(extracted)
    stored = {e.key: e for e in previous_feed if e.key in alternates}
    if not stored:
        return list(extracted)
    kept = []
    for entry in extracted:
        old = stored.get(entry.key)
        if old is not None:
            entry = _closest(old, [entry, *alternates[entry.key]])
        kept.append(entry)
    return kept


def _closest(old: Entry, candidates: Sequence[Entry]) -> Entry:
    """The candidate most like `old`: same link and title, else same link, else same title,
    else the first."""
    ranked = sorted(
        candidates,
        key=lambda e: (
            e.link != old.link or e.title != old.title,
            e.link != old.link,
            e.title != old.title,
        ),
    )  # stable: ties keep document order
    return ranked[0]


def dedupe(entries: Sequence[Entry]) -> list[Entry]:
    """The first entry of each key, in the given order."""
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.key not in seen:
            seen.add(entry.key)
            unique.append(entry)
    return unique


def decide(
    *,
    extracted: Sequence[Entry],
    previous_feed: Sequence[Entry],
    seen: Mapping[str, float | None],
    targets: Sequence[TargetView],
    keep: int,
    first_run: FirstRun = "baseline",
    first_run_latest: int | None = None,
    now: datetime,
) -> Decision:
    """Decide what one poll changes. `seen` maps already-seen keys to their last score.

    `targets` are the targets that want this source. A target's first cycle for a
    source applies `first_run`: what is eligible then is suppressed (baseline),
    sent (notify) or sent for the newest N only (latest).
    """
    fresh = dedupe(extracted)
    if not fresh and previous_feed:
        return Decision(feed=list(previous_feed), new=[], updated=[], empty=True)

    new = [e for e in fresh if e.key not in seen]
    updated = [e for e in fresh if e.key in seen and seen[e.key] != e.score]
    chronological = newest_first(fresh)[::-1]  # oldest first; ties: the page's last first

    deliveries: dict[str, list[Entry]] = {}
    suppressed: dict[str, list[str]] = {}
    first_cycle: list[str] = []
    for target in targets:
        owed = [
            e for e in chronological if e.key not in target.handed and target.filter.matches(e, now)
        ]
        if not target.knows_source:
            first_cycle.append(target.name)
            if first_run == "baseline":
                owed, skipped = [], owed
            elif first_run == "latest":
                count = first_run_latest or 0
                cut = max(len(owed) - count, 0)
                owed, skipped = owed[cut:], owed[:cut]
            else:
                skipped = []
            if skipped:
                suppressed[target.name] = [e.key for e in skipped]
        if owed:
            deliveries[target.name] = owed

    return Decision(
        feed=merge_feed(previous_feed, fresh, keep),
        new=new,
        updated=updated,
        deliveries=deliveries,
        suppressed=suppressed,
        first_cycle=first_cycle,
    )


def decide_poll(
    config: SourceBase,
    extracted: Sequence[Entry],
    view: PollView,
    targets: Sequence[TargetRule],
    now: datetime,
) -> Decision:
    """`decide` for one poll of the source `config` describes: `targets` (those that want
    the source) as the store's `view` knows them."""
    views = [
        TargetView(t.name, t.filter, t.name in view.knows, view.handed.get(t.name, frozenset()))
        for t in targets
    ]
    return decide(
        extracted=extracted,
        previous_feed=view.feed,
        seen=view.seen,
        targets=views,
        keep=config.keep,
        first_run=config.first_run_mode,
        first_run_latest=config.first_run_latest,
        now=now,
    )
