"""Detection of one page: every plausible list, checked through the real source kinds, ranked.

Cheapest and most faithful first: a feed the page advertises, then structured data (JSON-LD,
microdata, microformats, embedded application state), then the page's repeating structure.
"""

from __future__ import annotations

from typing import Any, Literal

from feedbridge.core.models import Page
from feedbridge.core.wording import plural
from feedbridge.detect.jsondata import json_lists
from feedbridge.detect.page import PageView, TooDeep
from feedbridge.detect.reading import complete, draft
from feedbridge.detect.result import Candidate, Detection
from feedbridge.detect.semantic import choose_fields, microdata, microformats
from feedbridge.detect.structure import MIN_ITEMS, item_sets
from feedbridge.detect.verify import difference, run

MAX_DETAILED = 6  # drafts whose every field is chosen
MAX_CHECKED = 4  # candidates run through the source kind
MIN_SCORE = 200.0  # about ten items of a title and a line: less is navigation or a teaser
MIN_COVERAGE = 0.3  # ... unless the items hold this share of the page's text: a short list
_MOUNTS = "#root, #app, #__next, #__nuxt, [data-reactroot], [ng-app], app-root"

Fetch = Literal["http", "browser"]


def structure_candidates(view: PageView, fetch: Fetch) -> list[Candidate]:
    """Lists found in the repeating structure, best first, the best few checked."""
    drafts = [d for s in item_sets(view) if (d := draft(view, s)) is not None]
    drafts.sort(key=lambda d: -d.score)
    found: list[tuple[float, dict[str, Any], Any]] = []
    for candidate in drafts[:MAX_DETAILED]:
        fields = complete(view, candidate)
        if "link" not in fields.specs or fields.score <= 0:
            continue
        table: dict[str, Any] = {"kind": "html", "url": view.page.url, "item": fields.item}
        table.update(fields.specs)
        if fetch == "browser":
            table["fetch"] = "browser"
        found.append((fields.score, table, fields))
    found.sort(key=lambda f: -f[0])
    text = max(view.body_text(), 1)
    out = []
    for n, (score, table, fields) in enumerate(found):
        entries: tuple[Any, ...] = ()
        matched: dict[str, int] = {}
        problem: str | None = "not checked"
        items = len(fields.items)
        if n < MAX_CHECKED:
            result = run(table, view.page)
            if isinstance(result, str):
                problem = result
            else:
                entries, matched, items = tuple(result.entries), result.matched, result.items
                problem = difference(fields.expected, result.entries)
        description = f"{plural(len(fields.expected), 'item')} matching {fields.item!r}"
        held = sum(min(len(item.text(deep=True, strip=True)), 2000) for item in fields.items)
        out.append(
            Candidate("structure", description, table, entries, score, problem, matched, items,
                      min(1.0, held / text))
        )  # fmt: skip
    return out


MAX_STRUCTURED = 4  # lists from JSON-LD, microdata, microformats and app state, each


def structured_candidates(view: PageView, fetch: Fetch) -> list[Candidate]:
    """Lists the page describes itself, each read by the source kind that reads that markup."""
    out = []
    for found in json_lists(view)[:MAX_STRUCTURED]:
        table: dict[str, Any] = {"kind": "json", "url": view.page.url}
        table.update(embedded=found.embedded, items=found.items, **found.fields)
        where = "JSON-LD" if found.method == "json-ld" else f"the JSON in {found.embedded!r}"
        description = f"{plural(len(found.expected), 'item')} in {where}"
        out.append(_checked(view, found.method, description, table, found.expected, found.count))
    for marked in (microdata(view) + microformats(view))[:MAX_STRUCTURED]:
        if not choose_fields(view, marked):
            continue
        table = {"kind": "html", "url": view.page.url, "item": marked.item, **marked.specs}
        if fetch == "browser":
            table["fetch"] = "browser"
        description = f"{plural(len(marked.expected), 'item')} marked up as {marked.item}"
        out.append(
            _checked(view, marked.method, description, table, marked.expected, len(marked.items))
        )
    return out


def _checked(
    view: PageView,
    method: Any,
    description: str,
    table: dict[str, Any],
    expected: list[tuple[str, str]],
    count: int,
) -> Candidate:
    result = run(table, view.page)
    if isinstance(result, str):
        return Candidate(method, description, table, (), 0.0, result, {}, count)
    problem = difference(expected, result.entries)
    score = float(len(result.entries))
    return Candidate(method, description, table, tuple(result.entries), score, problem,
                     result.matched, result.items)  # fmt: skip


def detect_page(page: Page, *, fetch: Fetch = "http") -> Detection:
    """Every list on one fetched page, best first; advertised feeds are not fetched here."""
    try:
        view = PageView.read(page)
    except TooDeep as exc:
        return refused(page, exc, fetch)
    return detect_view(view, fetch=fetch)


def refused(page: Page, reason: Exception, fetch: Fetch) -> Detection:
    """The Detection of a page too hostile to read: no list, and why."""
    return Detection(page.url, "", (), "no list", f"not read: {reason}", fetch)


def detect_view(
    view: PageView, *, fetch: Fetch = "http", more: list[Candidate] | None = None
) -> Detection:
    """`detect_page` on a page already read; `more`: candidates found elsewhere (the feeds
    the page advertises, fetched by the caller)."""
    candidates = list(more or [])
    candidates += structured_candidates(view, fetch)
    candidates += structure_candidates(view, fetch)
    return decide(view, candidates, fetch)


def decide(view: PageView, candidates: list[Candidate], fetch: Fetch) -> Detection:
    """The verdict: a list when the best candidate is checked and big enough, else why not."""
    structure = [c for c in candidates if c.method == "structure" and c.checked]
    widest = max((len(c.entries) for c in structure), default=0)
    ranked = sorted(candidates, key=lambda c: _rank(c, widest))
    best = ranked[0] if ranked else None
    if best is not None and best.checked and _enough(best):
        message = f"found {best.description} ({_HOW[best.method]})"
        return Detection(view.page.url, view.title, tuple(ranked), "found", message, fetch)
    if fetch == "http" and _scripted(view):
        message = (
            "no list of entries in the page as served: it is built by scripts; try --fetch browser"
        )
        return Detection(view.page.url, view.title, tuple(ranked), "scripted", message, fetch)
    message = "no list of entries on this page (a single article, a login wall, or a page "
    message += "whose items have no links)"
    if best is not None and not best.checked and best.problem and _enough(best):
        message = f"the best list found cannot be reproduced by a source: {best.problem}"
    return Detection(view.page.url, view.title, tuple(ranked), "no list", message, fetch)


_HOW = {
    "hub": "the Hugging Face Hub's API",
    "feed": "an advertised feed",
    "json-ld": "JSON-LD",
    "microdata": "microdata",
    "microformats": "microformats",
    "app state": "embedded app state",
    "structure": "the page's repeating structure",
}
_TIER = {"hub": 0, "feed": 0, "json-ld": 1, "microdata": 1, "microformats": 1, "app state": 1}


def _rank(candidate: Candidate, widest: int) -> tuple[int, int, float]:
    """Checked first; then feeds, then self-described lists unless they hold clearly fewer
    items than the page's structure shows (a teaser, a breadcrumb), then the structure."""
    tier = _TIER.get(candidate.method, 2)
    if tier == 1 and len(candidate.entries) < 0.8 * widest:
        tier = 3
    return (0 if candidate.checked else 1, tier, -candidate.score)


def _enough(candidate: Candidate) -> bool:
    if candidate.method != "structure":
        return len(candidate.entries) >= 2
    big = candidate.score >= MIN_SCORE or candidate.coverage >= MIN_COVERAGE
    return len(candidate.entries) >= MIN_ITEMS and big


def _scripted(view: PageView) -> bool:
    """Whether the page looks built by scripts: scripts, and little text or an empty mount."""
    if view.tree.css_first("script") is None:
        return False
    mount = view.tree.css_first(_MOUNTS)
    if mount is not None and len(mount.text(deep=True, strip=True)) < 40:
        return True
    return view.body_text() < 300
