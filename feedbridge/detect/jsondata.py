"""Lists in JSON a page carries: JSON-LD (`ItemList`, `@graph`, arrays of `BlogPosting`,
`Product`, `Event`...) and embedded application state (`__NEXT_DATA__`, `data-page`,
`data-props`), each read back by a `json` source with `embedded` and JMESPath.

Every walk is bounded: at most MAX_DOCUMENTS documents of MAX_JSON characters, MAX_NODES
values and MAX_DEPTH levels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from feedbridge.detect.page import PageView
from feedbridge.detect.selectors import quote, stable_id
from feedbridge.sources.collect import TITLE_LIMIT
from feedbridge.sources.markup import html_to_text, resolve_url
from feedbridge.sources.text import as_text, shorten

MAX_DOCUMENTS = 20
MAX_JSON = 2_000_000
MAX_NODES = 50_000
MAX_DEPTH = 12
MIN_ITEMS = 2

LD = 'script[type="application/ld+json"]'
_CONTAINERS = frozenset(
    {"BreadcrumbList", "SiteNavigationElement", "WebSite", "WebPage", "Organization",
     "Person", "Place", "PostalAddress", "ImageObject", "Offer", "AggregateRating",
     "SearchAction", "ListItem", "Thing"}
)  # fmt: skip
TITLE_KEYS = ("headline", "name", "title", "label", "subject")
URL_KEYS = ("url", "href", "link", "permalink", "html_url", "canonical_url", "canonicalUrl",
            "web_url", "webUrl", "uri", "@id", "item")  # fmt: skip
DATE_KEYS = ("datePublished", "publishedAt", "published_at", "published", "pubDate",
             "dateCreated", "created_at", "createdAt", "date", "startDate", "uploadDate",
             "dateModified", "updated_at", "updatedAt", "time", "timestamp")  # fmt: skip
SUMMARY_KEYS = ("description", "excerpt", "summary", "abstract", "subtitle")
IMAGE_KEYS = ("image", "thumbnailUrl", "thumbnail", "image_url", "imageUrl", "cover")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_APP_ATTRS = ("data-page", "data-props", "data-state", "data-initial-state", "data-react-props")


@dataclass(frozen=True, slots=True)
class JsonList:
    """A list found in embedded JSON and the json source table that reads it."""

    method: str  # "json-ld" or "app state"
    embedded: str
    items: str
    fields: dict[str, str]
    expected: list[tuple[str, str]]
    dated: int
    count: int


def key(name: str) -> str:
    """A JMESPath identifier: bare when it can be, else quoted."""
    return name if _IDENTIFIER.fullmatch(name) else json.dumps(name)


def _load(raw: str) -> Any:
    if len(raw) > MAX_JSON:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def documents(view: PageView) -> Iterator[tuple[str, str, list[Any]]]:
    """(method, embedded selector, the list of documents `items` reads) for each place."""
    scripts = view.tree.css(LD)[:MAX_DOCUMENTS]
    if scripts:
        yield "json-ld", LD, [_load(node.text(deep=True)) for node in scripts]
    for node in view.tree.css('script[type="application/json"][id]')[:MAX_DOCUMENTS]:
        ident = node.attributes.get("id") or ""
        if re.fullmatch(r"[A-Za-z_][\w-]*", ident):
            selector = f"script#{ident}"
            yield "app state", selector, [_load(node.text(deep=True))]
    wanted = ", ".join(f"[{attr}]" for attr in _APP_ATTRS)
    for node in view.tree.css(wanted)[:MAX_DOCUMENTS]:
        for attr in _APP_ATTRS:
            raw = (node.attributes.get(attr) or "").lstrip()
            host = _attribute_host(view, node, attr) if raw[:1] in ("{", "[") else None
            if host is not None:
                yield "app state", f"{host}@{attr}", [_load(raw)]


def _attribute_host(view: PageView, node: Any, attr: str) -> str | None:
    """A selector naming exactly this element (its id, its data-target, or its attribute)."""
    tag = node.tag or "*"
    options = []
    if ident := stable_id(node):
        options.append(f"{tag}#{ident}")
    if target := node.attributes.get("data-target"):
        options.append(f"{tag}[data-target={quote(target)}]")
    options.append(f"{tag}[{attr}]")
    for option in options:
        if len(view.tree.css(option)) == 1:
            return option
    return None


def json_lists(view: PageView) -> list[JsonList]:
    """Every list of linked, titled records in the page's JSON, largest first."""
    found: list[JsonList] = []
    for method, embedded, docs in documents(view):
        if method == "json-ld":
            found.extend(_ld_lists(view, embedded, docs))
        else:
            found.extend(_state_lists(view, embedded, docs))
    found.sort(key=lambda f: -len(f.expected))
    return found


def _type_of(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("@type")
    if isinstance(kind, list) and kind and isinstance(kind[0], str):
        return kind[0]
    return kind if isinstance(kind, str) else None


def _type_filter(sample: dict[str, Any]) -> str:
    kind = _type_of(sample) or ""
    if isinstance(sample.get("@type"), list):
        return f'[?contains(to_array("@type"), {_literal(kind)})]'
    return f'[?"@type"=={_literal(kind)}]'


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ld_lists(view: PageView, embedded: str, docs: list[Any]) -> Iterator[JsonList]:
    """JSON-LD lists: records of one type among the top nodes (or `@graph`), or a list held
    by one property of a top node (`itemListElement`, `blogPost`, `mainEntity`...)."""
    for prefix in ("[]", '[]."@graph"[]'):
        try:
            roots = jmespath.search(prefix, docs)
        except JMESPathError:
            continue
        if not isinstance(roots, list):
            continue
        roots = [r for r in roots[:MAX_NODES] if isinstance(r, dict)]
        by_type: dict[str, list[dict[str, Any]]] = {}
        for root in roots:
            if kind := _type_of(root):
                by_type.setdefault(kind, []).append(root)
        for kind, nodes in by_type.items():
            if kind not in _CONTAINERS and len(nodes) >= MIN_ITEMS:
                found = _records(
                    view, "json-ld", embedded, docs, f"{prefix} | {_type_filter(nodes[0])}"
                )
                if found is not None:
                    yield found
            for name, value in nodes[0].items():
                if isinstance(value, dict) and isinstance(value.get("itemListElement"), list):
                    path = f"{key(name)}.itemListElement[]"
                elif isinstance(value, list) and value and isinstance(value[0], dict):
                    path = f"{key(name)}[]"
                else:
                    continue
                if kind == "BreadcrumbList":
                    continue
                expression = f"{prefix} | {_type_filter(nodes[0])}.{path}"
                found = _records(view, "json-ld", embedded, docs, expression)
                if found is not None:
                    yield found


def _state_lists(view: PageView, embedded: str, docs: list[Any]) -> Iterator[JsonList]:
    """Lists of records anywhere in an application's state, reached through objects only."""
    budget = [MAX_NODES]

    def walk(value: Any, path: str, depth: int) -> Iterator[str]:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            for name, child in value.items():
                yield from walk(child, f"{path}.{key(name)}", depth + 1)
        elif isinstance(value, list) and len(value) >= MIN_ITEMS and isinstance(value[0], dict):
            yield path

    for n, doc in enumerate(docs):
        for path in walk(doc, f"[{n}]", 0):
            found = _records(view, "app state", embedded, docs, path)
            if found is not None:
                yield found


def _field(items: list[dict[str, Any]], keys: tuple[str, ...], test: Any) -> str | None:
    """The expression (a key, or one under `item`) whose value passes `test` in most items."""
    options = [key(k) for k in keys] + [f"item.{key(k)}" for k in keys if k != "item"]
    for option in options:
        try:
            values = [jmespath.search(option, item) for item in items]
        except JMESPathError:
            continue
        if sum(1 for v in values if test(v)) >= 0.8 * len(items):
            return option
    return None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(("http://", "https://", "/")))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= 1000


def _records(
    view: PageView, method: str, embedded: str, docs: list[Any], expression: str
) -> JsonList | None:
    """The records `expression` selects, when most have a title and a link."""
    from feedbridge.sources.values import parse_date

    try:
        items = jmespath.search(expression, docs)
    except JMESPathError:
        return None
    if not isinstance(items, list):
        return None
    items = [item for item in items[:2000] if isinstance(item, dict)]
    if len(items) < MIN_ITEMS:
        return None
    title = _field(items, TITLE_KEYS, _is_text)
    link = _field(items, URL_KEYS, _is_url)
    if title is None or link is None:
        return None
    fields = {"title": title, "link": link}
    date = _field(items, DATE_KEYS, lambda v: parse_date(v, now=view.now) is not None)
    if date is not None:
        fields["date"] = date
    summary = _field(items, SUMMARY_KEYS, _is_text)
    if summary is not None:
        fields["summary"] = summary
    image = _field(items, IMAGE_KEYS, lambda v: bool(v))
    if image is not None:
        fields["image"] = image
    expected, seen = [], set()
    dated = 0
    for item in items:
        url = resolve_url(as_text(jmespath.search(link, item)), view.page.url)
        text = shorten(html_to_text(as_text(jmespath.search(title, item))), TITLE_LIMIT)
        if url and text and url not in seen:
            seen.add(url)
            expected.append((url, text))
            if date is not None and jmespath.search(date, item) is not None:
                dated += 1
    if len(expected) < MIN_ITEMS:
        return None
    return JsonList(method, embedded, expression, fields, expected, dated, len(items))
