"""One fetched page as the detector reads it: the tree, its base URL, what is boilerplate."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from feedbridge.core.errors import FeedbridgeError
from feedbridge.core.models import Page
from feedbridge.detect.selectors import classes
from feedbridge.sources.decoding import parse_html
from feedbridge.sources.markup import node_text, resolve_url
from feedbridge.sources.values import reference_time

_BOILER_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "noscript", "template"})
_BOILER_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_BOILER_CLASS = re.compile(
    r"^(?:nav|navbar|navigation|menu|mega-menu|sidebar|side|widget|widgets|footer|header|"
    r"breadcrumbs?|related|tagcloud|tag-cloud|tags|social|share|sharing|pagination|pager|"
    r"cookies?|banner|masthead|toolbar|topbar|filters?|browsebox|subnav|sitemap|most-read|"
    r"recommendations?|promo-strip|newsletter|comments?)$"
    r"|^(?:nav|menu|footer|sidebar|site-footer|site-header)[-_]"
    r"|[-_](?:nav|menu|footer|header|sidebar|navigation|bar)$",
    re.I,
)
MAX_CLIMB = 40  # ancestors looked at to tell whether a node sits in boilerplate
# lexbor's parse time grows with the square of the nesting depth (a 5 MB page of nested divs
# takes 35 s; a browser stops nesting at 512): deeper pages are refused before parsing
MAX_NESTING = 2000
_BLOCK = re.compile(
    rb"<(/?)(?:div|ul|ol|section|article|table|blockquote|dl|main|aside|nav|header|footer|"
    rb"form|fieldset|details)\b",
    re.IGNORECASE,
)


class TooDeep(FeedbridgeError):
    """The page nests block elements more than MAX_NESTING levels deep."""


def nesting(body: bytes, limit: int = MAX_NESTING) -> int:
    """The deepest nesting of block elements, counted up to `limit` + 1 (li and p, which pages
    often leave open, are not counted)."""
    depth = deepest = 0
    for closing in _BLOCK.findall(body):
        if closing:
            depth -= depth > 0
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
    return deepest


@dataclass
class PageView:
    """A parsed page and the memo tables the detector's passes share."""

    page: Page
    tree: LexborHTMLParser
    base: str
    now: datetime
    title: str
    _boiler: dict[int, bool] = field(default_factory=dict)

    @classmethod
    def read(cls, page: Page, encoding: str | None = None) -> PageView:
        """The page parsed; TooDeep before parsing when it nests too deeply to parse quickly."""
        if nesting(page.body) > MAX_NESTING:
            raise TooDeep(f"the page nests elements more than {MAX_NESTING:,} levels deep")
        tree = parse_html(page.body, encoding or page.encoding)
        base = page.url
        base_node = tree.css_first("base[href]")
        if base_node is not None:
            base = resolve_url(base_node.attributes.get("href"), page.url) or page.url
        title_node = tree.css_first("title")
        title = node_text(title_node) if title_node is not None else ""
        return cls(page, tree, base, reference_time(page), title)

    def boilerplate(self, node: LexborNode) -> bool:
        """Whether the node sits in navigation, a header, footer, sidebar or similar widget."""
        path: list[int] = []
        current: LexborNode | None = node.parent
        found = False
        for _ in range(MAX_CLIMB):
            if current is None or not current.is_element_node:
                break
            key = current.mem_id
            if key in self._boiler:
                found = self._boiler[key]
                break
            path.append(key)
            if _boiler_node(current):
                found = True
                break
            current = current.parent
        for key in path:
            self._boiler[key] = found
        return found

    def body_text(self) -> int:
        """Characters of visible text in the body (scripts excluded)."""
        body = self.tree.body
        if body is None:
            return 0
        scripts = sum(len(s.text(deep=True)) for s in self.tree.css("body script, body style"))
        return max(0, len(body.text(deep=True, strip=True)) - scripts)


def _boiler_node(node: LexborNode) -> bool:
    if node.tag in _BOILER_TAGS:
        return node.tag != "header" or node.parent is None or node.parent.tag in ("body", "div")
    attributes = node.attributes
    if (attributes.get("role") or "") in _BOILER_ROLES:
        return True
    names = classes(node)
    ident = attributes.get("id") or ""
    named = any(_BOILER_CLASS.search(name) for name in names)
    if not named and not (ident and _BOILER_CLASS.search(ident)):
        return False
    return node.css_first("main, [role=main]") is None  # a wrapper of the whole page is not
