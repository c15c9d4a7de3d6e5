"""Inside each item: which node is the link, the title, the date, the summary, the image and
the score, and the relative selectors that pick those nodes in (nearly) every item."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from selectolax.lexbor import LexborNode

from feedbridge.detect.page import PageView
from feedbridge.detect.selectors import classes, variants
from feedbridge.sources.html import item_matches
from feedbridge.sources.markup import node_text, resolve_url
from feedbridge.sources.text import clean_text
from feedbridge.sources.values import parse_date

MAX_ITEMS = 300  # items of one candidate read in detail
MAX_OPTIONS = 14  # selectors tried for one field
SAMPLE = 8  # items whose nodes suggest selectors
MAX_WALK = 400  # nodes of one item looked at for its date, summary, score or title

HEADINGS = "h1, h2, h3, h4, h5, h6, [role=heading]"
DATED = "[datetime], [data-time], [data-timestamp], [data-seconds], [data-date], [data-utime]"
_DATE_ATTRS = ("datetime", "data-time", "data-timestamp", "data-seconds", "data-date", "data-utime")
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_LIKE = re.compile(
    rf"\b{_MONTHS}\s+\d|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}|\d{{4}}-\d{{2}}-\d{{2}}|"
    r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\bago\b|\byesterday\b|\btoday\b",
    re.I,
)
_GENERIC = re.compile(
    r"^(?:read more|more|continue reading|read|show notes|details|view|open|link|permalink|"
    r"comments?|\d+ comments?|discuss|share|save|\u2192|\u00bb|\u203a|\u2026|\u00b6|#)\W*$",
    re.I,
)
_FILE = re.compile(r"\.(?:mp3|m4a|ogg|mp4|webm|pdf|zip|tar|gz|png|jpe?g|gif|webp|svg)$", re.I)
_TITLE_CLASS = re.compile(r"title|name|headline|heading|subject", re.I)
_SUMMARY_CLASS = re.compile(r"summary|excerpt|desc|snippet|abstract|teaser|lede|lead|intro", re.I)
_SCORE_CLASS = re.compile(r"score|points|votes|upvote|likes|stars|rating", re.I)
_NUMBER = re.compile(r"^\s*[+-]?\d[\d.,]*\s*[kKmM]?\b")


@dataclass
class Fields:
    """A candidate list read in detail: the source's selectors and what they should yield."""

    item: str
    items: Sequence[LexborNode]
    specs: dict[str, str] = field(default_factory=dict)  # field -> "css@attr"
    expected: list[tuple[str, str]] = field(default_factory=list)  # (link, title)
    dated: int = 0  # items with a date that parses
    headings: int = 0
    summaries: int = 0
    boiler: float = 0.0
    score: float = 0.0


def _link_label(node: LexborNode) -> str:
    text = node_text(node)
    if text:
        return text
    attrs = node.attributes
    label = attrs.get("title") or attrs.get("aria-label")
    if not label:
        image = node.css_first("img[alt]")
        label = image.attributes.get("alt") if image is not None else ""
    return clean_text(label or "")


def _inside(node: LexborNode, outer: LexborNode, limit: int = 12) -> bool:
    current: LexborNode | None = node
    for _ in range(limit):
        if current is None:
            return False
        if current.mem_id == outer.mem_id:
            return True
        current = current.parent
    return False


def pick(matches: list[LexborNode], attr: str | None) -> LexborNode | None:
    """The node the html source reads for a field: the first match (having `attr`)."""
    if not matches:
        return None
    if attr is None or attr in matches[0].attrs:
        return matches[0]
    return next((node for node in matches if attr in node.attrs), None)


@dataclass(frozen=True, slots=True)
class Anchor:
    node: LexborNode
    url: str
    text: str


def anchors_by_item(view: PageView, items: Sequence[LexborNode]) -> list[list[Anchor]]:
    """Each item's links with an http(s) URL (the item itself first when it is one)."""
    table = item_matches(view.tree, list(items), ("a[href]",))["a[href]"]
    out = []
    for found in table:
        links = []
        for node in found[:60]:
            href = (node.attributes.get("href") or "").strip()
            if not href or href.startswith("#") or href.lower().startswith("javascript:"):
                continue
            url = resolve_url(href, view.base)
            if url:
                links.append(Anchor(node, url, _link_label(node)))
        out.append(links)
    return out


def primary(links: list[Anchor], headings: list[LexborNode], host: str) -> Anchor | None:
    """The item's own link: in (or around) its heading, else the one with the most text; never
    a file, a "read more" when another link says more, or a link to a fragment of the page."""
    best: tuple[float, int] | None = None
    chosen = None
    for n, link in enumerate(links):
        weight = min(len(link.text), 120) / 10
        if any(_inside(link.node, h) or _inside(h, link.node) for h in headings[:2]):
            weight += 8
        if _GENERIC.match(link.text) or not link.text:
            weight -= 3
        if _FILE.search(urlsplit(link.url).path):
            weight -= 6
        if urlsplit(link.url).hostname == host:
            weight += 0.5
        rank = (weight, -n)
        if best is None or rank > best:
            best, chosen = rank, link
    return chosen


def title_node(item: LexborNode, link: Anchor, headings: list[LexborNode]) -> LexborNode:
    """The node whose text is the item's title: its heading, a `.title` inside a link that
    wraps the whole card, else the link."""
    heading = headings[0] if headings else None
    visible = node_text(link.node)
    if heading is not None:
        if _inside(link.node, heading):
            return link.node
        text = node_text(heading)
        if _inside(heading, link.node) or not visible or _GENERIC.match(visible):
            return heading if text else link.node
        if len(visible) < len(text) / 2:
            return heading
    if len(link.text) > 160 or _blocks(link.node) > 1:
        for node in link.node.css("[class]")[:MAX_WALK]:
            if any(_TITLE_CLASS.search(name) for name in classes(node)) and node_text(node):
                return node
    return link.node


def _blocks(node: LexborNode) -> int:
    return len(node.css("div, p, h1, h2, h3, h4, h5, h6, ul, ol, dl, figure"))


def date_target(
    item: LexborNode, dated: list[LexborNode], view: PageView
) -> tuple[LexborNode, str | None] | None:
    """The item's date node and the attribute to read (None: its text), the most exact first."""
    for node in dated:
        attrs = node.attributes
        for attr in _DATE_ATTRS:
            if attrs.get(attr) and parse_date(attrs[attr], now=view.now) is not None:
                return node, attr
    for n, node in enumerate(item.traverse()):
        if n > MAX_WALK:
            break
        if not node.is_element_node or node.tag in ("script", "style", "a"):
            continue
        attrs = node.attributes
        for attr in ("content", "title"):
            value = attrs.get(attr) or ""
            if (
                6 <= len(value) <= 60
                and _DATE_LIKE.search(value)
                and parse_date(value, now=view.now) is not None
            ):
                return node, attr
        own = clean_text(node.text(deep=False))
        if 4 <= len(own) <= 70 and _DATE_LIKE.search(own):
            text = node_text(node)
            if len(text) <= 70 and parse_date(text, now=view.now) is not None:
                return node, None
    return None


def summary_target(item: LexborNode, title: LexborNode) -> LexborNode | None:
    """The item's longest paragraph-like text that is not its title."""
    best, size = None, 39
    for node in item.css("p, div, span, a, [itemprop=description]")[:MAX_WALK]:
        if _inside(title, node) or _inside(node, title):
            continue
        names = classes(node, modifiers=True)
        named = any(_SUMMARY_CLASS.search(name) for name in names)
        if node.tag != "p" and not named and node.attributes.get("itemprop") != "description":
            continue
        length = len(node.text(deep=True, strip=True)[:2000])
        if length > size:
            best, size = node, length
    return best


def score_target(item: LexborNode) -> LexborNode | None:
    for node in item.css("[class]")[:MAX_WALK]:
        named = any(_SCORE_CLASS.search(name) for name in classes(node))
        if named and _NUMBER.match(node_text(node)):
            return node
    return None


def image_target(item: LexborNode) -> LexborNode | None:
    for node in item.css("img"):
        attrs = node.attributes
        src = attrs.get("src") or attrs.get("data-src") or attrs.get("srcset") or ""
        if src and not src.startswith("data:"):
            return node
    return None


def choose(
    view: PageView,
    items: Sequence[LexborNode],
    targets: Sequence[LexborNode | None],
    attr: str | None,
) -> tuple[str | None, float]:
    """The simplest relative selector whose first match is the target in most items, and the
    share of targets it gets right (a match where there is no target counts against it)."""
    wanted = sum(1 for t in targets if t is not None)
    if not wanted:
        return None, 0.0
    if all(t is None or t.mem_id == i.mem_id for t, i in zip(targets, items, strict=True)):
        return "", 1.0  # the item itself
    options: list[str] = []
    sampled = 0
    for target, item in zip(targets, items, strict=True):
        if target is not None and target.mem_id != item.mem_id:
            options.extend(o for o in variants(target, item) if o not in options)
            sampled += 1
            if sampled >= SAMPLE:
                break
    options = options[:MAX_OPTIONS]
    tables = item_matches(view.tree, list(items), tuple(options))
    best, best_share, best_named = None, 0.0, False
    for option in options:
        right = wrong = 0
        for target, found in zip(targets, tables[option], strict=True):
            got = pick(found, attr)
            if target is None:
                wrong += got is not None
            elif got is not None and got.mem_id == target.mem_id:
                right += 1
            else:
                wrong += 1 if got is not None else 0
        share = (right - wrong) / wanted
        named = _named(option)
        if share > best_share + 1e-9 or (share > best_share - 1e-9 and named and not best_named):
            best, best_share, best_named = option, share, named
    return best, best_share


_SEMANTIC = re.compile(r"(?:^|[\s>+])(?:h[1-6]|time|img|article|relative-time)(?:$|[\s.#\[>+])")


def _named(option: str) -> bool:
    """Whether a selector says what it picks: a class, an itemprop or a semantic tag; a person
    keeps `span.age` where `span` (whichever span comes first) would work today."""
    return "." in option or "[" in option or "#" in option or bool(_SEMANTIC.search(option))


def spec(css: str | None, attr: str | None) -> str:
    """A field's config value: `css`, `css@attr` or `@attr` (the item itself)."""
    return f"{css or ''}@{attr}" if attr else css or ""


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
