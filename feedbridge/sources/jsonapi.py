"""The `json` source: any JSON API, its items and their fields picked by JMESPath expressions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any, ClassVar

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from feedbridge.config.models import JsonConfig
from feedbridge.core.errors import ConfigError, ParseError
from feedbridge.core.models import Page
from feedbridge.sources.collect import Collector, Extraction
from feedbridge.sources.decoding import describe_kind, load_json, parse_html, sniff
from feedbridge.sources.html import Selector, check_selector
from feedbridge.sources.items import ItemSource
from feedbridge.sources.markup import html_to_text, looks_like_html, resolve_url, sanitize_html
from feedbridge.sources.text import as_text, clean_text
from feedbridge.sources.values import parse_date, parse_score, reference_time


def _compile(expression: str, where: str) -> ParsedResult:
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ConfigError([f"{where}: invalid JMESPath {expression!r} ({exc})"]) from exc


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _authors(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    names = (as_text(v.get("name")) if isinstance(v, dict) else as_text(v) for v in values)
    return [name for name in names if name]


def _text_and_html(value: Any, base: str) -> tuple[str, str]:
    raw = as_text(value)
    if looks_like_html(raw):
        return html_to_text(raw), sanitize_html(raw, base)
    return clean_text(raw), ""


class JsonSource(ItemSource[JsonConfig]):
    """A JSON API: `items` selects the list, each field is an expression on one item."""

    kind: ClassVar[str] = "json"

    def __init__(self, config: JsonConfig) -> None:
        super().__init__(config)
        self._items_expression = config.items
        self._items = _compile(self._items_expression, f"{self.where}.items")
        self._fields: dict[str, ParsedResult] = {
            name: _compile(expression, f"{self.where}.{name}")
            for name, expression in config.item_fields.items()
        }
        self._embedded: tuple[str, str | None] | None = None
        if config.embedded:
            selector = Selector.parse(config.embedded)
            if selector.css is None:
                raise ConfigError([f"{self.where}.embedded: a CSS selector is needed before @"])
            check_selector("embedded", self.where, selector.css)
            self._embedded = (selector.css, selector.attr)

    def _analyze(self, page: Page) -> Extraction:
        if self._embedded is None:
            data = load_json(page, self.name)
        else:
            data = self._documents(page, *self._embedded)
        try:
            found = self._items.search(data)
        except JMESPathError as exc:
            message = f"items expression {self._items_expression!r} failed: {exc}"
            raise ParseError(self.name, page.url, message) from exc
        if found is None:
            items: list[Any] = []
        elif isinstance(found, dict):
            items = [found]
        elif isinstance(found, list):
            items = found
        else:
            message = (
                f"items expression {self._items_expression!r} gives "
                f"{type(found).__name__}, expected a list"
            )
            raise ParseError(self.name, page.url, message)
        out = self._collector(page.url)
        matched: Counter[str] = Counter()
        now = reference_time(page)
        for item in items:
            self._add_item(item, page.url, now, out, matched)
        out.result.matched = {name: matched[name] for name in self._fields}
        out.result.link = page.url
        return out.result

    def _documents(self, page: Page, css: str, attr: str | None) -> list[Any]:
        """The JSON held by each element `embedded` matches in an HTML page, in page order."""
        kind = sniff(page.body, page.content_type)
        if kind != "html":
            message = f"response is {describe_kind(kind)}, expected HTML holding JSON"
            raise ParseError(self.name, page.url, message)
        tree = parse_html(page.body, page.encoding)
        documents = []
        for n, node in enumerate(tree.css(css), 1):
            raw = node.text(deep=True) if attr is None else node.attributes.get(attr) or ""
            try:
                documents.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                message = (
                    f"element {n} of embedded {css!r} holds no valid JSON "
                    f"(line {exc.lineno} col {exc.colno}: {exc.msg})"
                )
                raise ParseError(self.name, page.url, message) from exc
        return documents

    def _values(self, item: Any, matched: Counter[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, expression in self._fields.items():
            try:
                value = expression.search(item)
            except JMESPathError:
                value = None
            if value not in (None, "", [], {}):
                values[name] = value
                matched[name] += 1
        return values

    def _add_item(
        self, item: Any, base: str, now: datetime, out: Collector, matched: Counter[str]
    ) -> None:
        values = self._values(item, matched)
        key = as_text(_first(values.get("id"))) or None
        link = resolve_url(as_text(_first(values.get("link"))), base)
        summary, summary_html = _text_and_html(values.get("summary"), base)
        content, content_html = _text_and_html(values.get("content"), base)
        image = _first(values.get("image"))
        if isinstance(image, dict):
            image = image.get("url") or image.get("src")
        fmt = self.config.date_format
        out.add(
            key=key,
            title=html_to_text(as_text(values.get("title"))),
            link=link,
            summary=summary or content,
            content_html=content_html or summary_html,
            published=parse_date(_first(values.get("date")), fmt=fmt, tz=self._tz, now=now),
            authors=_authors(values.get("author")),
            score=parse_score(_first(values.get("score"))),
            image=resolve_url(as_text(image), base),
        )
