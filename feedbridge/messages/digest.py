"""A digest: the period's entries ranked (highest score first, else newest first) as one
message, or as parts split between entries where a service's size limit calls for it.

A part is the digest template rendered for a run of consecutive entries (`part` and
`parts` say which), so no entry is ever cut in two; `e.number` keeps each entry's place in
the whole digest. Only an entry longer than the limit by itself is left to the service's
own overflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from feedbridge.core.models import Entry
from feedbridge.core.wording import plural
from feedbridge.messages import builtin
from feedbridge.messages.escape import Dialect
from feedbridge.messages.sandbox import render
from feedbridge.messages.templates import (
    NO_TEMPLATES,
    Message,
    Templates,
    entry_context,
    render_or_builtin,
)

Fits = Callable[[Message], bool]


def rank(entries: Sequence[Entry]) -> list[Entry]:
    """Highest score first, entries without one after them; among equals the newest first
    (by publication, else update time), undated last."""

    def key(entry: Entry) -> tuple[bool, float, float]:
        when = entry.published or entry.updated
        newest = -when.timestamp() if when else math.inf
        return (entry.score is None, -(entry.score or 0.0), newest)

    return sorted(entries, key=key)


def noun(entries: Sequence[Entry]) -> str:
    """What a digest's entries all are: papers, models, datasets, Spaces; else entries."""
    if entries and all(e.extras.get("arxiv_id") for e in entries):
        return "paper"
    kinds = {e.extras.get("repo_type") for e in entries}
    if len(kinds) == 1 and (kind := kinds.pop()) in ("model", "dataset", "space"):
        return "Space" if kind == "space" else str(kind)
    return "entry"


def digest_context(entries: Sequence[Entry], top: int | None, now: datetime) -> dict[str, Any]:
    """The variables of a whole digest: `entries` (each as for one entry, with `number` and
    `date` in the digest's zone), `count`, `more`, `noun`, `date`, `part` and `parts`."""
    ranked = rank(entries)
    shown = ranked[:top] if top else ranked
    return _Digest(entries, ranked, shown, now).context(0, len(shown), 1, 1)


class _Digest:
    """One digest's entries, ranked and with their variables computed once for every part."""

    def __init__(
        self, entries: Sequence[Entry], ranked: list[Entry], shown: list[Entry], now: datetime
    ) -> None:
        zone = now.tzinfo or UTC
        self.items = [{**entry_context(e, zone), "number": n} for n, e in enumerate(shown, 1)]
        self.ranked = ranked
        self.common = {
            "count": len(entries),
            "noun": plural(len(entries), noun(entries), with_count=False),
            "date": now.strftime("%Y-%m-%d"),
        }

    def context(self, start: int, stop: int, part: int, parts: int) -> dict[str, Any]:
        """Entries `start:stop` as part `part` of `parts`; the last says how many were left
        out (by `top`, or by truncation)."""
        last = part == parts
        more = len(self.ranked) - stop if last else 0
        return {**self.common, "entries": self.items[start:stop], "more": more,
                "part": part, "parts": parts}  # fmt: skip


def digest_message(
    entries: Sequence[Entry],
    dialect: Dialect | str,
    top: int | None,
    now: datetime,
    templates: Templates = NO_TEMPLATES,
) -> Message:
    """Many entries as one message, ranked, at most `top` of them."""
    return digest_messages(entries, dialect, top, now, templates)[0]


def digest_messages(
    entries: Sequence[Entry],
    dialect: Dialect | str,
    top: int | None,
    now: datetime,
    templates: Templates = NO_TEMPLATES,
    fits: Fits | None = None,
    truncate: bool = False,
) -> list[Message]:
    """The digest as one message when it `fits` the service (or nothing limits it), else as
    parts that each fit, split between entries; with `truncate` only the first part, whose
    "…and N more" counts the rest."""
    dialect = Dialect.of(dialect)
    ranked = rank(entries)
    shown = ranked[:top] if top else ranked
    digest = _Digest(entries, ranked, shown, now)

    def message(start: int, stop: int, part: int, parts: int) -> Message:
        return _render(digest.context(start, stop, part, parts), dialect, templates)

    whole = message(0, len(shown), 1, 1)
    if fits is None or fits(whole):
        return [whole]
    bounds: list[tuple[int, int]] = []
    start = size = 0
    while start < len(shown):
        # sized as a middle part of many, with the "…and N more" line a last one may carry
        size = _most(partial(_fits_from, fits, message, start), len(shown) - start, size)
        bounds.append((start, start + size))
        start += size
        if truncate:
            break
    parts = len(bounds)
    return [message(a, b, i, parts) for i, (a, b) in enumerate(bounds, 1)]


def _fits_from(
    fits: Fits, message: Callable[[int, int, int, int], Message], start: int, count: int
) -> bool:
    return fits(message(start, start + count, 98, 99))


def _most(ok: Callable[[int], bool], limit: int, guess: int = 1) -> int:
    """The largest count in 1..limit that is `ok` (at least 1), for `ok` true up to some
    count and false after it: galloping from `guess` (the previous part's size: parts are
    alike, so mostly two renders), then bisecting."""
    low = high = max(1, min(guess, limit))
    step = 1
    if ok(low):
        while low < limit:
            high = min(low + step, limit)
            if not ok(high):
                break
            low, step = high, step * 2
        else:
            return low
    else:
        while True:
            if high == 1:
                return 1
            low = max(high - step, 1)
            if ok(low):
                break
            high, step = low, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        if ok(middle):
            low = middle
        else:
            high = middle
    return low


def _render(context: dict[str, Any], dialect: Dialect, templates: Templates) -> Message:
    fmt = dialect.body_format
    title, title_problem = render_or_builtin(
        "digest_title",
        templates.digest_title,
        builtin.DIGEST_TITLE,
        dialect.title_markup,
        context,
        dialect.mentions,
    )
    body, body_problem = render_or_builtin(
        "digest_body",
        templates.digest_body,
        builtin.DIGEST_BODY[fmt],
        dialect.markup,
        context,
        dialect.mentions,
    )
    custom = templates.digest_body is not None and body_problem is None
    text = None
    if fmt == "html" and not custom:
        text = render(builtin.DIGEST_BODY["text"], "text", context)
    return Message(title, body, fmt, text, title_problem or body_problem)
