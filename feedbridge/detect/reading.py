"""A set of items read as a list of entries: a quick score for every set, then the fields and
the final score for the few best."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborNode

from feedbridge.detect.fields import (
    DATED,
    HEADINGS,
    MAX_ITEMS,
    Anchor,
    Fields,
    anchors_by_item,
    choose,
    date_target,
    image_target,
    median,
    primary,
    score_target,
    spec,
    summary_target,
    title_node,
)
from feedbridge.detect.page import PageView
from feedbridge.detect.structure import MIN_ITEMS, ItemSet
from feedbridge.sources.collect import TITLE_LIMIT
from feedbridge.sources.html import item_matches
from feedbridge.sources.markup import node_text
from feedbridge.sources.text import shorten


@dataclass
class Draft:
    """An item set with its links and titles chosen, scored before its other fields."""

    item_set: ItemSet
    items: Sequence[LexborNode]
    links: list[Anchor | None]
    titles: list[LexborNode | None]
    headings: list[list[LexborNode]]
    score: float
    boiler: float


def draft(view: PageView, item_set: ItemSet) -> Draft | None:
    """Links and titles of a set's items and how much of the page's content they hold: big
    items with distinct links and real titles outside navigation and sidebars score high."""
    items = item_set.items[:MAX_ITEMS]
    host = urlsplit(view.base).hostname or ""
    every = anchors_by_item(view, items)
    headings = item_matches(view.tree, list(items), (HEADINGS,))[HEADINGS]
    links = [primary(found, heads, host) for found, heads in zip(every, headings, strict=True)]
    present = [link for link in links if link is not None]
    if len(present) < MIN_ITEMS:
        return None
    titles: list[LexborNode | None] = [
        title_node(item, link, heads) if link is not None else None
        for item, link, heads in zip(items, links, headings, strict=True)
    ]
    texts = [node_text(t) if t is not None else "" for t in titles]
    sizes, extras, words, boiler_mass, content_mass, boiler_items = [], [], [], 0, 0, 0
    for item, link, text in zip(items, links, texts, strict=True):
        if link is None or not text:
            continue
        size = min(len(item.text(deep=True, strip=True)), 800)
        sizes.append(size)
        extras.append(max(0, size - len(text)))
        words.append(len(text.split()))
        if view.boilerplate(item):
            boiler_mass += size
            boiler_items += 1
        else:
            content_mass += size
    if not sizes:
        return None
    distinct = len({link.url for link in present}) / len(present)
    score = max(0.0, content_mass - boiler_mass) * distinct**2
    typical = median([float(w) for w in words])
    score *= 0.6 if typical <= 1 else 0.8 if typical <= 2 else 1.0
    score *= 0.5 if median([float(e) for e in extras]) < 8 else 1.0
    score *= _records_factor(every)
    score *= {3: 0.7, 4: 0.85}.get(len(sizes), 1.0)
    return Draft(item_set, items, links, titles, headings, score, boiler_items / len(sizes))


def _records_factor(every: list[list[Anchor]]) -> float:
    """Low when each item holds several titled links to different pages: a group of records
    (a section of stories, a day of posts), not one record."""
    counts = []
    for links in every:
        titled = {a.url for a in links if len(a.text) >= 25 and len(a.text.split()) >= 3}
        counts.append(float(len(titled)))
    return 0.25 if median(counts) >= 2 else 1.0


def complete(view: PageView, candidate: Draft) -> Fields:
    """Every field's selector for a drafted set, what the source should yield, the final score."""
    items = candidate.items
    fields = Fields(candidate.item_set.selector, items, boiler=candidate.boiler)
    link_css, link_share = choose(
        view, items, [a.node if a else None for a in candidate.links], "href"
    )
    if link_css is None or link_share < 0.5:
        return fields
    fields.specs["link"] = spec(link_css, "href")
    title_css, title_share = choose(view, items, candidate.titles, None)
    link_nodes = [a.node if a else None for a in candidate.links]
    same = all(
        (t is None) == (n is None) and (t is None or n is None or t.mem_id == n.mem_id)
        for t, n in zip(candidate.titles, link_nodes, strict=True)
    )
    if same:
        if link_css:  # the link's text: the same selector, read as text
            fields.specs["title"] = link_css
    elif title_css and title_share >= 0.6:
        fields.specs["title"] = title_css
    dated = item_matches(view.tree, list(items), (DATED,))[DATED]
    dates = [date_target(item, found, view) for item, found in zip(items, dated, strict=True)]
    _add(view, fields, "date", dates)
    summaries = [
        summary_target(item, title) if title is not None else None
        for item, title in zip(items, candidate.titles, strict=True)
    ]
    _add(view, fields, "summary", [(n, None) if n else None for n in summaries], minimum=0.5)
    images = [image_target(item) for item in items]
    _add(view, fields, "image", [(n, None) if n else None for n in images], minimum=0.5)
    scores = [score_target(item) for item in items]
    _add(view, fields, "score", [(n, None) if n else None for n in scores], minimum=0.5)
    fields.expected = _expected(candidate)
    n = len(items)
    fields.dated = sum(1 for d in dates if d is not None)
    fields.headings = sum(1 for h in candidate.headings if h)
    fields.summaries = sum(1 for s in summaries if s is not None)
    bonus = 1 + 0.4 * fields.dated / n + 0.2 * fields.headings / n + 0.2 * fields.summaries / n
    core: list[list[Any]] = [candidate.links]
    if "date" in fields.specs and fields.dated >= 0.8 * n:
        core.append(dates)
    if "summary" in fields.specs and fields.summaries >= 0.8 * n:
        core.append(summaries)
    whole = sum(1 for row in zip(*core, strict=True) if all(v is not None for v in row)) / n
    fields.score = candidate.score * bonus * whole**2
    return fields


def _add(
    view: PageView,
    fields: Fields,
    name: str,
    targets: list[tuple[LexborNode, str | None] | None],
    minimum: float = 0.3,
) -> None:
    """Set a field when most items have it and one selector finds it in nearly all of them."""
    present = [t for t in targets if t is not None]
    if len(present) < max(2, minimum * len(targets)):
        return
    attrs = [attr for _, attr in present]
    attr = max(set(attrs), key=lambda a: (attrs.count(a), a or ""))
    nodes = [t[0] if t is not None and t[1] == attr else None for t in targets]
    css, share = choose(view, fields.items, nodes, attr)
    if css is not None and share >= 0.7:
        fields.specs[name] = spec(css, attr)


def _expected(candidate: Draft) -> list[tuple[str, str]]:
    """(link, title) per item as the Collector keeps them: titled, linked, first of each link."""
    out, seen = [], set()
    for link, title in zip(candidate.links, candidate.titles, strict=True):
        if link is None or title is None:
            continue
        text = shorten(node_text(title), TITLE_LIMIT)
        if not text and title.mem_id == link.node.mem_id:
            text = shorten(link.text, TITLE_LIMIT)
        if not text or link.url in seen:
            continue
        seen.add(link.url)
        out.append((link.url, text))
    return out
