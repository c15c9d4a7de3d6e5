"""The `html` source: any page, its items and fields described by CSS selectors (selectolax)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from selectolax.lexbor import LexborHTMLParser, LexborNode

from feedbridge.config.fields import split_selector, valid_css
from feedbridge.config.models import HtmlConfig
from feedbridge.core.errors import ConfigError, ParseError
from feedbridge.core.models import Page
from feedbridge.sources.collect import Collector, Extraction
from feedbridge.sources.decoding import describe_kind, parse_html, sniff
from feedbridge.sources.items import ItemSource
from feedbridge.sources.markup import (
    node_text,
    node_texts,
    resolve_url,
    sanitize_node,
    text_and_html,
)
from feedbridge.sources.text import clean_text
from feedbridge.sources.values import parse_date, parse_score, reference_time

log = logging.getLogger("feedbridge.sources.html")

_TITLE_ATTRIBUTES = ("title", "aria-label")
_IMAGE_ATTRIBUTES = ("src", "data-src", "data-lazy-src", "data-original")
_ANY_LINK = "a[href]"  # an item's link when no link selector is configured


@dataclass(frozen=True, slots=True)
class Selector:
    """One configured field: a CSS selector (None: the item itself) and an optional attribute."""

    css: str | None
    attr: str | None

    @classmethod
    def parse(cls, spec: str) -> Selector:
        """Read `selector`, `selector@attr` or `@attr` (an attribute of the item itself)."""
        return cls(*split_selector(spec))

    def pick(self, matches: list[LexborNode]) -> LexborNode | None:
        """The first of an item's matches (that has the attribute, if one is named)."""
        if not matches:
            return None
        if self.attr is None or self.attr in matches[0].attrs:
            return matches[0]
        return next((node for node in matches if self.attr in node.attrs), None)

    def value(self, node: LexborNode) -> str | None:
        """The attribute when one is named, else the node's visible text."""
        if self.attr is not None:
            return node.attributes.get(self.attr)
        return node_text(node)

    def text(self, node: LexborNode) -> str:
        """`value` as clean text (node text is clean already; an attribute is cleaned here)."""
        if self.attr is not None:
            return clean_text(node.attributes.get(self.attr) or "")
        return node_text(node)


def check_selector(name: str, where: str, css: str) -> None:
    """A ConfigError naming `where.name` unless lexbor compiles `css` (the config's load
    checks every selector at once; this guards sources built from a config made in code)."""
    if not valid_css(css):
        raise ConfigError([f"{where}.{name}: invalid CSS selector {css!r}"])


def item_matches(
    tree: LexborHTMLParser, items: list[LexborNode], queries: tuple[str, ...]
) -> dict[str, list[list[LexborNode]]]:
    """Each query's matches inside each item (the item itself included), in page order.

    lexbor parses the selector on every call, which costs more than matching it in one item:
    so each query runs once on the whole page and each match goes to the item it sits in.
    That is the same set: lexbor, like querySelectorAll, looks for a selector's ancestors
    beyond the item too. Nested items (a node in two of them) take a query per item instead.
    """
    index = {item.mem_id: i for i, item in enumerate(items)}
    owners: dict[int, int] = {}  # node -> index of the innermost item holding it, or -1

    def owner(node: LexborNode | None) -> int:
        path = []
        found: int | None = -1
        while node is not None:
            key = node.mem_id
            found = index.get(key, owners.get(key))
            if found is not None:
                break
            path.append(key)
            node = node.parent
        found = -1 if found is None else found
        for key in path:
            owners[key] = found
        return found

    if any(owner(item.parent) >= 0 for item in items):
        return {css: [item.css(css) for item in items] for css in queries}
    tables = {}
    for css in queries:
        table: list[list[LexborNode]] = [[] for _ in items]
        for node in tree.css(css):
            i = index.get(node.mem_id)
            if i is None:  # most often the parent was seen already
                parent = node.parent
                i = owners.get(parent.mem_id) if parent is not None else -1
                if i is None:
                    i = owner(parent)
            if i >= 0:
                table[i].append(node)
        tables[css] = table
    return tables


def _link_text(node: LexborNode) -> str:
    text = node_text(node)
    if text:
        return text
    attributes = node.attributes
    image = node.css_first("img[alt]")
    named = [attributes.get(name) for name in _TITLE_ATTRIBUTES]
    raw = next(filter(None, named), None) or (image.attributes.get("alt") or "" if image else "")
    return clean_text(raw)


def _image_url(node: LexborNode) -> str | None:
    if node.tag != "img":
        node = node.css_first("img") or node
    attributes = node.attributes
    for attr in _IMAGE_ATTRIBUTES:
        value = (attributes.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            return value
    srcset = (attributes.get("srcset") or "").strip()
    return srcset.split(",")[0].split()[0] if srcset else None


class HtmlSource(ItemSource[HtmlConfig]):
    """A page scraped with CSS selectors: `item` picks the items, each field a part of one."""

    kind: ClassVar[str] = "html"

    def __init__(self, config: HtmlConfig) -> None:
        super().__init__(config)
        self._item = config.item
        check_selector("item", self.where, self._item)
        self._fields: dict[str, Selector] = {}
        for name, spec in config.item_fields.items():
            selector = Selector.parse(spec)
            if selector.css is not None:
                check_selector(name, self.where, selector.css)
            self._fields[name] = selector
        # The plan: one query per distinct selector on the whole page (`item_matches`), fields
        # read in this order; authors read all matches, the others the first.
        self._single = tuple((n, sel) for n, sel in self._fields.items() if n != "author")
        self._author = self._fields.get("author")
        wanted = [sel.css for sel in self._fields.values()]
        self._queries = tuple(dict.fromkeys(css for css in wanted if css))
        if "link" not in self._fields:
            self._queries += (_ANY_LINK,)
        self._page_title = ""

    @property
    def title(self) -> str:
        """`feed_title`, else the page <title> once read, else the name (`title` is a selector)."""
        return self.config.feed_title or self._page_title or self.name

    def identity(self) -> dict[str, str]:
        return {"title": self._page_title} if self._page_title else {}

    def restore_identity(self, saved: Mapping[str, Any]) -> None:
        self._page_title = self._page_title or str(saved.get("title") or "")

    def _analyze(self, page: Page) -> Extraction:
        kind = sniff(page.body, page.content_type)
        if kind in ("empty", "binary", "json"):
            message = f"response is {describe_kind(kind)}, expected HTML"
            raise ParseError(self.name, page.url, message)
        charset = self.config.encoding or page.encoding
        tree = parse_html(page.body, charset)
        base = page.url
        base_node = tree.css_first("base[href]")
        if base_node is not None:
            base = resolve_url(base_node.attributes.get("href"), page.url) or page.url
        collector = self._collector(page.url)
        matched = dict.fromkeys(self._fields, 0)
        now = reference_time(page)
        items = tree.css(self._item)
        tables = item_matches(tree, items, self._queries)
        for i, item in enumerate(items):
            found = {css: table[i] for css, table in tables.items()}
            self._add_item(item, found, base, page.url, now, collector, matched)
        result = collector.result
        if not items and tree.body is not None and tree.body.text(strip=True):
            result.warning = f"item selector {self._item!r} matched nothing on a page with content"
            result.page = page
        result.matched = matched
        title_node = tree.css_first("title")
        result.title = node_text(title_node) if title_node is not None else ""
        result.link = page.url
        result.scripted = not result.items and tree.css_first("script") is not None
        return result

    def learn(self, extraction: Extraction) -> None:
        self._page_title = extraction.title or self._page_title
        if extraction.scripted and not self.config.uses_browser:  # preview says it itself
            log.info(
                "item selector matched nothing; the page runs scripts: if they build the "
                'items, set fetch = "browser"',
                extra={"source": self.name, "url": extraction.link, "item": self._item},
            )

    def _add_item(
        self,
        item: LexborNode,
        found: dict[str, list[LexborNode]],
        base: str,
        page_url: str,
        now: datetime,
        out: Collector,
        matched: dict[str, int],
    ) -> None:
        """One item into `out`; `found` holds each query's matches inside it, in page order."""
        nodes: dict[str, LexborNode] = {}
        for name, selector in self._single:
            node = selector.pick([item] if selector.css is None else found[selector.css])
            if node is not None:
                nodes[name] = node
                matched[name] += 1
        authors: list[str] = []
        if self._author is not None:
            selector = self._author
            every = [item] if selector.css is None else found[selector.css]
            if selector.attr is not None:
                every = [node for node in every if selector.attr in node.attrs]
            texts = node_texts(every) if selector.attr is None else map(selector.text, every)
            authors = [text for text in texts if text]
            matched["author"] += bool(every)
        fields = self._fields
        key = fields["id"].text(nodes["id"]) if "id" in nodes else None
        link_node, href = self._link(found, nodes)
        link = resolve_url(href, base)
        title = fields["title"].text(nodes["title"]) if "title" in nodes else ""
        if not title and link_node is not None:
            title = _link_text(link_node)
        summary, content_html = self._text_and_html(nodes, base)
        score = nodes.get("score")
        out.add(
            key=key,
            title=title,
            link=link,
            summary=summary,
            content_html=content_html,
            published=self._date(nodes.get("date"), now),
            authors=authors,
            score=parse_score(fields["score"].value(score)) if score is not None else None,
            image=self._image(nodes.get("image"), base),
            cleaned=True,
        )

    def _link(
        self, found: dict[str, list[LexborNode]], nodes: dict[str, LexborNode]
    ) -> tuple[LexborNode | None, str | None]:
        selector = self._fields.get("link")
        if selector is None:
            anchors = found[_ANY_LINK]
            if not anchors:
                return None, None
            return anchors[0], anchors[0].attributes.get("href")
        node = nodes.get("link")
        if node is None:
            return None, None
        if selector.attr is not None:
            return node, node.attributes.get(selector.attr)
        if "href" not in node.attributes:
            node = node.css_first("a[href]") or node
        return node, node.attributes.get("href")

    def _text_and_html(self, nodes: dict[str, LexborNode], base: str) -> tuple[str, str]:
        summary_node, content_node = nodes.get("summary"), nodes.get("content")
        field = self._fields.get("summary")
        if content_node is None and summary_node is not None and field and field.attr is None:
            return text_and_html(summary_node, base)  # the common case: one node's text and HTML
        summary = ""
        if summary_node is not None:
            summary = self._fields["summary"].text(summary_node)
        elif content_node is not None:
            summary = self._fields["content"].text(content_node)
        html_node = content_node if content_node is not None else summary_node
        html_field = "content" if content_node is not None else "summary"
        if html_node is None or self._fields[html_field].attr is not None:
            return summary, ""
        return summary, sanitize_node(html_node, base)

    def _date(self, node: LexborNode | None, now: datetime) -> datetime | None:
        if node is None:
            return None
        selector = self._fields["date"]
        fmt = self.config.date_format
        candidates = [selector.value(node)]
        if selector.attr is None:
            attributes = node.attributes
            candidates = [attributes.get("datetime"), *candidates, attributes.get("title")]
        for candidate in candidates:
            moment = parse_date(candidate, fmt=fmt, tz=self._tz, now=now)
            if moment is not None:
                return moment
        return None

    def _image(self, node: LexborNode | None, base: str) -> str | None:
        if node is None:
            return None
        selector = self._fields["image"]
        raw = node.attributes.get(selector.attr) if selector.attr else _image_url(node)
        return resolve_url(raw, base)
