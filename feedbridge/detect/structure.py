"""The page's repeating structure: sibling elements of one tag under one parent, each holding a
link, and the item selectors a person would write for them (MDR's data records, simplified).

Costs are bounded whatever the page: at most MAX_ANCHORS links are followed up at most
MAX_UP ancestors each, and an ancestor reached before is not climbed again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from selectolax.lexbor import LexborNode

from feedbridge.detect.page import PageView
from feedbridge.detect.selectors import classes, simple, stable_id

MAX_ANCHORS = 3000  # links followed up the tree
MAX_UP = 12  # ancestors climbed from each link: items sit a few levels above their links
MIN_ITEMS = 3
MAX_GROUPS = 40  # sibling groups turned into item selectors
MAX_MATCHES = 2000  # an item selector matching more is no list a feed would want
_SEMANTIC_ITEMS = frozenset({"article"})


@dataclass(frozen=True, slots=True)
class ItemSet:
    """Elements one item selector matches, in page order."""

    selector: str
    items: tuple[LexborNode, ...]


def sibling_groups(view: PageView) -> list[tuple[LexborNode, list[LexborNode]]]:
    """(parent, children of one tag) with at least MIN_ITEMS children holding links, largest
    text first."""
    seen: set[int] = set()
    groups: dict[tuple[int, str], list[LexborNode]] = defaultdict(list)
    parents: dict[int, LexborNode] = {}
    for anchor in view.tree.css("a[href]")[:MAX_ANCHORS]:
        child: LexborNode | None = anchor
        for _ in range(MAX_UP):
            if child is None:
                break
            parent = child.parent
            if parent is None or not parent.is_element_node or child.tag in ("body", "html"):
                break
            key = child.mem_id
            if key in seen:
                break
            seen.add(key)
            groups[(parent.mem_id, child.tag or "")].append(child)
            parents[parent.mem_id] = parent
            child = parent
    found = [
        (parents[pid], children)
        for (pid, _tag), children in groups.items()
        if len(children) >= MIN_ITEMS
    ]
    found.sort(key=lambda g: -_text_size(g[1]))
    return found[:MAX_GROUPS]


def _text_size(nodes: list[LexborNode]) -> int:
    return sum(min(len(node.text(deep=True, strip=True)), 600) for node in nodes[:200])


def item_sets(view: PageView) -> list[ItemSet]:
    """Distinct sets of items, each with the simplest selector that matches exactly it."""
    out: dict[frozenset[int], ItemSet] = {}
    for parent, children in sibling_groups(view):
        for selector in _selectors(parent, children):
            matched = view.tree.css(selector)
            if not MIN_ITEMS <= len(matched) <= MAX_MATCHES or _nested(matched):
                continue
            key = frozenset(node.mem_id for node in matched)
            if key not in out:  # the first selector for a set is the simplest
                out[key] = ItemSet(selector, tuple(matched))
    return list(out.values())


def _selectors(parent: LexborNode, children: list[LexborNode]) -> list[str]:
    """Item selectors for one sibling group, simplest first: `tag.class` for each class most
    of them share, then the same under the parent (and an ancestor with a name, if needed)."""
    tag = children[0].tag or "*"
    counts: Counter[str] = Counter()
    for child in children:
        counts.update(classes(child))
    shared = [name for name, count in counts.most_common(4) if count >= MIN_ITEMS]
    own = [f"{tag}.{name}" for name in shared]
    context = _context(parent)
    out = list(own)
    if tag in _SEMANTIC_ITEMS:
        out.append(tag)  # "article" when every article on the page is one of them
    for selector in own or [tag]:
        out.extend(f"{ctx} > {selector}" for ctx in context)
    return list(dict.fromkeys(out))


def _context(parent: LexborNode) -> list[str]:
    """Selectors for the parent: by its id or class, else under the nearest named ancestor."""
    mine = simple(parent)
    out = [mine] if mine != parent.tag or parent.tag in ("main", "ol", "table", "tbody") else []
    if stable_id(parent) or classes(parent):
        return out or [mine]
    ancestor = parent.parent
    for _ in range(4):
        if ancestor is None or not ancestor.is_element_node or ancestor.tag in ("html", "body"):
            break
        named = simple(ancestor)
        if named != ancestor.tag or ancestor.tag == "main":
            out.append(f"{named} {parent.tag}")
            break
        ancestor = ancestor.parent
    return out or [mine]


def _nested(nodes: list[LexborNode]) -> bool:
    """Whether one of the matches sits inside another (the selector names several levels)."""
    keys = {node.mem_id for node in nodes}
    for node in nodes[:200]:
        parent = node.parent
        for _ in range(6):
            if parent is None:
                break
            if parent.mem_id in keys:
                return True
            parent = parent.parent
    return False
