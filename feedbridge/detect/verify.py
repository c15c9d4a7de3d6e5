"""A candidate's source run through the real source kind on the same page, and how what it
yields differs from what the detector saw."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feedbridge.config import adhoc_source_config
from feedbridge.core.errors import FeedbridgeError
from feedbridge.core.models import Entry, Page
from feedbridge.core.wording import plural
from feedbridge.sources import build_source
from feedbridge.sources.collect import Extraction


def run(table: Mapping[str, Any], page: Page) -> Extraction | str:
    """What the source yields from `page`, or why it cannot run (a config or parse error)."""
    try:
        source = build_source(adhoc_source_config({"name": "detected", **table}))
        return source.analyze(page)
    except FeedbridgeError as exc:
        return str(exc)


def difference(expected: list[tuple[str, str]], entries: list[Entry]) -> str | None:
    """None when the entries are the expected (link, title) pairs in order; else what differs."""
    got = [(entry.link, entry.title) for entry in entries]
    if got == expected:
        return None
    if len(got) != len(expected):
        wanted = {link for link, _ in expected}
        missing = [title for link, title in expected if link not in {g for g, _ in got}]
        extra = [title for link, title in got if link not in wanted]
        parts = [
            f"the source yields {plural(len(got), 'entry')} where the page shows {len(expected)}"
        ]
        if missing:
            parts.append(f"missing {missing[0]!r}")
        if extra:
            parts.append(f"extra {extra[0]!r}")
        return "; ".join(parts)
    for (link, title), (got_link, got_title) in zip(expected, got, strict=True):
        if link != got_link:
            return f"the link of {title!r} comes out as {got_link}, not {link}"
        if title != got_title:
            return f"a title comes out as {got_title!r}, not {title!r}"
    return "the entries come out in another order"  # pragma: no cover - zip covers the rest
