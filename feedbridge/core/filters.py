"""Pure predicates built from a target's config: sources, score, words, regexes, age."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from feedbridge.core.models import Entry

_REGEX = re.compile(r"^/(?P<body>.*)/(?P<flags>[aimsx]*)$", re.DOTALL)
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "a": re.ASCII}


def compile_pattern(text: str) -> re.Pattern[str]:
    """`/regex/flags` as written, or a word or phrase matched case-insensitively as a whole."""
    found = _REGEX.match(text)
    if found:
        flags = 0
        for letter in found["flags"]:
            flags |= _FLAGS[letter]
        return re.compile(found["body"], flags)
    return re.compile(r"(?<!\w)" + re.escape(text.strip()) + r"(?!\w)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Whether an entry is eligible for one target."""

    sources: frozenset[str] | None = None
    min_score: float | None = None
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    max_age: timedelta | None = None

    @classmethod
    def build(
        cls,
        *,
        sources: Iterable[str] | None = None,
        min_score: float | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        max_age: timedelta | None = None,
    ) -> EntryFilter:
        return cls(
            sources=frozenset(sources) if sources is not None else None,
            min_score=min_score,
            include=tuple(compile_pattern(p) for p in include),
            exclude=tuple(compile_pattern(p) for p in exclude),
            max_age=max_age,
        )

    def wants_source(self, source: str) -> bool:
        return self.sources is None or source in self.sources

    def matches(self, entry: Entry, now: datetime) -> bool:
        if not self.wants_source(entry.source):
            return False
        if self.min_score is not None and (entry.score is None or entry.score < self.min_score):
            return False
        if self.include or self.exclude:
            text = f"{entry.title}\n{entry.summary}"
            if self.include and not any(p.search(text) for p in self.include):
                return False
            if any(p.search(text) for p in self.exclude):
                return False
        if self.max_age is not None:
            born = entry.published or entry.updated
            if born is not None and now - born > self.max_age:
                return False
        return True
