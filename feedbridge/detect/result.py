"""What detection finds, as typed values a command or a web page can show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from feedbridge.core.models import Entry

Method = Literal[
    "hub", "feed", "json-ld", "microdata", "microformats", "app state", "structure"
]
Verdict = Literal["found", "no list", "scripted"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One plausible list on the page and the source that reads it.

    `source` is the `[[sources]]` table (without `name`); `entries` is what that source yields
    from the page, run through the real source kind; `problem` says how they differ from the
    items the detector saw (None: they are the same, the candidate is checked).
    """

    method: Method
    description: str
    source: Mapping[str, Any]
    entries: tuple[Entry, ...]
    score: float
    problem: str | None = None
    matched: Mapping[str, int] = field(default_factory=dict)  # items each field matched
    items: int = 0  # items the item selector (or expression) matched
    coverage: float = 0.0  # share of the page's text inside the items (structure only)

    @property
    def checked(self) -> bool:
        """Whether the printed source reproduces exactly the items the detector saw."""
        return self.problem is None and bool(self.entries)

    def table(self, name: str) -> dict[str, Any]:
        """The `[[sources]]` table with its name first."""
        return {"name": name, **self.source}


@dataclass(frozen=True, slots=True)
class Detection:
    """Every candidate list of one page, best first, and what to tell the user."""

    url: str
    title: str
    candidates: tuple[Candidate, ...]
    verdict: Verdict
    message: str  # plain words: what was found, or why nothing was
    fetch: Literal["http", "browser"] = "http"

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.verdict == "found" and self.candidates else None
