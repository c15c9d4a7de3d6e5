"""Lists the page marks up itself: schema.org microdata scopes and microformats (h-entry,
h-event), read by an html source whose selectors name that markup (`[itemtype=...]`,
`.h-entry`, `[itemprop="headline"]`, `.u-url@href`). Microformats are read with mf2py, the
reference parser, whose reading the selectors must reproduce."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from selectolax.lexbor import LexborNode

from feedbridge.detect.fields import choose, spec
from feedbridge.detect.page import PageView
from feedbridge.detect.selectors import quote
from feedbridge.sources.collect import TITLE_LIMIT
from feedbridge.sources.markup import node_text, resolve_url
from feedbridge.sources.text import clean_text, shorten

MAX_SCOPES = 2000
MIN_ITEMS = 2
MAX_MF2_BYTES = 1_500_000  # mf2py parses the page again: larger pages skip microformats
_NOT_RECORDS = frozenset(
    {"Blog", "WebPage", "WebSite", "ItemList", "BreadcrumbList", "Organization", "Person",
     "Place", "PostalAddress", "ImageObject", "Offer", "AggregateOffer", "AggregateRating",
     "Rating", "SiteNavigationElement", "WPHeader", "WPFooter", "WPSideBar",
     "CollectionPage", "SearchResultsPage", "ListItem", "GeoCoordinates", "Brand"}
)  # fmt: skip
_TITLE_PROPS = ("headline", "name", "title")
_DATE_PROPS = ("datePublished", "dateCreated", "uploadDate", "startDate", "dateModified")
_MF_ROOTS = ("h-entry", "h-event", "h-review", "h-product", "h-cite")


@dataclass
class Marked:
    """Items the page marks up, the nodes of their fields, and what they should yield."""

    method: str
    item: str
    items: Sequence[LexborNode]
    targets: dict[str, tuple[list[LexborNode | None], str | None]] = field(default_factory=dict)
    expected: list[tuple[str, str]] = field(default_factory=list)
    specs: dict[str, str] = field(default_factory=dict)
    dated: int = 0


def _own(scope: LexborNode, selector: str) -> list[LexborNode]:
    """Matches of `selector` in `scope` that belong to it, not to an itemscope nested in it."""
    out = []
    for node in scope.css(selector):
        parent = node.parent
        mine = True
        while parent is not None and parent.mem_id != scope.mem_id:
            if "itemscope" in parent.attributes:
                mine = False
                break
            parent = parent.parent
        if mine:
            out.append(node)
    return out


def microdata(view: PageView) -> list[Marked]:
    """schema.org records with a name and a link, of each type with several scopes."""
    scopes = view.tree.css("[itemscope][itemtype]")[:MAX_SCOPES]
    by_type: dict[str, list[LexborNode]] = {}
    for scope in scopes:
        kind = (scope.attributes.get("itemtype") or "").strip()
        if kind and " " not in kind:
            by_type.setdefault(kind, []).append(scope)
    out = []
    for kind, items in by_type.items():
        if kind.rstrip("/").rsplit("/", 1)[-1] in _NOT_RECORDS or len(items) < MIN_ITEMS:
            continue
        marked = Marked("microdata", f"[itemtype={quote(kind)}]", items)
        titles, links, dates = [], [], []
        date_attr = None
        for scope in items:
            props: dict[str, LexborNode] = {}
            for node in _own(scope, "[itemprop]"):
                for name in (node.attributes.get("itemprop") or "").split():
                    props.setdefault(name, node)
            titles.append(next((props[p] for p in _TITLE_PROPS if p in props), None))
            links.append(props.get("url"))
            date = next((props[p] for p in _DATE_PROPS if p in props), None)
            dates.append(date)
            if date is not None and date_attr is None:
                attrs = date.attributes
                date_attr = next((a for a in ("datetime", "content") if attrs.get(a)), None)
        link_attr = "href"
        if any(n is not None and n.tag == "meta" for n in links):
            link_attr = "content"
        marked.targets = {
            "title": (
                titles,
                None if all(t is None or t.tag != "meta" for t in titles) else "content",
            ),
            "link": (links, link_attr),
            "date": (dates, date_attr),
        }
        marked.expected = _expected(view, titles, links, link_attr, marked.targets["title"][1])
        marked.dated = sum(1 for d in dates if d is not None)
        if len(marked.expected) >= MIN_ITEMS:
            out.append(marked)
    return [m for m in out if not _nested_in_other(m, out)]


def _nested_in_other(marked: Marked, every: list[Marked]) -> bool:
    others = {s.mem_id for m in every if m is not marked for s in m.items}
    for scope in marked.items[:5]:
        parent = scope.parent
        while parent is not None:
            if parent.mem_id in others:
                return True
            parent = parent.parent
    return False


def _expected(
    view: PageView,
    titles: list[LexborNode | None],
    links: list[LexborNode | None],
    link_attr: str,
    title_attr: str | None,
) -> list[tuple[str, str]]:
    out, seen = [], set()
    for title, link in zip(titles, links, strict=True):
        if title is None or link is None:
            continue
        url = resolve_url(link.attributes.get(link_attr), view.base)
        text = (
            node_text(title)
            if title_attr is None
            else clean_text(title.attributes.get(title_attr) or "")
        )
        text = shorten(text, TITLE_LIMIT)
        if url and text and url not in seen:
            seen.add(url)
            out.append((url, text))
    return out


def microformats(view: PageView) -> list[Marked]:
    """h-entry and h-event lists, as mf2py reads them, with the nodes that carry them."""
    body = view.page.body
    if len(body) > MAX_MF2_BYTES or not any(f"{r}".encode() in body for r in _MF_ROOTS):
        return []
    import mf2py  # only pages that carry microformats pay for loading it

    html = body.decode(view.page.encoding or "utf-8", "replace")
    parsed: dict[str, Any] = mf2py.parse(doc=html, url=view.base, html_parser="lxml")
    roots: list[dict[str, Any]] = []
    for root in parsed.get("items", []):
        roots.extend(root.get("children", []) if "h-feed" in root.get("type", []) else [root])
    out = []
    for kind in _MF_ROOTS:
        read = [r for r in roots if kind in r.get("type", [])]
        if len(read) < MIN_ITEMS:
            continue
        nodes = [n for n in view.tree.css(f".{kind}") if not _inside_root(n)]
        if len(nodes) != len(read):
            continue
        marked = Marked("microformats", f".{kind}", nodes)
        names, urls, dates = [], [], []
        date_attr = None
        for node in nodes:
            names.append(_first_own(node, ".p-name"))
            urls.append(_first_own(node, "a.u-url[href], area.u-url[href], link.u-url[href]"))
            date = _first_own(node, ".dt-published, .dt-start")
            dates.append(date)
            if date is not None and date_attr is None and date.attributes.get("datetime"):
                date_attr = "datetime"
        marked.targets = {
            "title": (names, None),
            "link": (urls, "href"),
            "date": (dates, date_attr),
        }
        expected, seen = [], set()
        for entry in read:
            props = entry.get("properties", {})
            url = resolve_url(_first_text(props.get("url")), view.base)
            text = shorten(clean_text(_first_text(props.get("name"))), TITLE_LIMIT)
            if url and text and url not in seen:
                seen.add(url)
                expected.append((url, text))
        marked.expected = expected
        marked.dated = sum(1 for d in dates if d is not None)
        if len(expected) >= MIN_ITEMS:
            out.append(marked)
    return out


def _first_text(values: Any) -> str:
    if isinstance(values, list) and values:
        value = values[0]
        if isinstance(value, dict):
            value = value.get("value") or ""
        return value if isinstance(value, str) else ""
    return ""


def _inside_root(node: LexborNode) -> bool:
    """Whether a microformat root is a property of another root (nested, not a list item)."""
    parent = node.parent
    while parent is not None and parent.is_element_node:
        names = (parent.attributes.get("class") or "").split()
        if any(name.startswith("h-") and name != "h-feed" for name in names):
            return True
        parent = parent.parent
    return False


def _first_own(scope: LexborNode, selector: str) -> LexborNode | None:
    for node in scope.css(selector):
        parent = node.parent
        nested = False
        while parent is not None and parent.mem_id != scope.mem_id:
            names = (parent.attributes.get("class") or "").split()
            if any(name.startswith("h-") for name in names):
                nested = True
                break
            parent = parent.parent
        if not nested:
            return node
    return None


def choose_fields(view: PageView, marked: Marked) -> bool:
    """Selectors for the marked fields; False when the link or title cannot be picked."""
    for name, (targets, attr) in marked.targets.items():
        if sum(1 for t in targets if t is not None) < 0.5 * len(targets):
            if name in ("title", "link"):
                return False
            continue
        css, share = choose(view, marked.items, targets, attr)
        if css is None or share < 0.7:
            if name in ("title", "link"):
                return False
            continue
        value = spec(css, attr)
        if value:  # "" is the item's own text: the source's default title
            marked.specs[name] = value
    return "link" in marked.specs
