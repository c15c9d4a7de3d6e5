"""HTML made ready for readers: visible text of nodes, sanitized HTML, absolute http(s) links."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

from feedbridge.sources.text import clean_text, drop_controls, printable

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "option",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "head"})
_MARKUP = re.compile(
    r"<!--|</?[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);"
)


def node_text(node: LexborNode) -> str:
    """Visible text of a node: blocks are separated by a space, inline markup is not."""
    child = node.first_child
    if child is None:
        return ""
    if (
        child.is_text_node
        and child.next is None
        and node.is_element_node
        and node.tag not in _HIDDEN_TAGS
    ):
        return clean_text(child.text_content or "")  # the common case: one text child
    if (
        node.is_element_node
        and node.tag not in _HIDDEN_TAGS
        and all(child.is_text_node for child in node.iter(include_text=True))
    ):  # most fields hold text only: no walk needed
        return clean_text(node.text(deep=True))
    parts: list[str] = []
    stack: list[LexborNode | None] = [node]
    while stack:
        current = stack.pop()
        if current is None:
            parts.append(" ")
        elif current.is_text_node:
            parts.append(current.text_content or "")
        elif current.is_element_node and current.tag not in _HIDDEN_TAGS:
            if current.tag in _BLOCK_TAGS:
                parts.append(" ")
                stack.append(None)
            stack.extend(reversed(list(current.iter(include_text=True))))
    return clean_text("".join(parts))


def node_texts(nodes: list[LexborNode]) -> list[str]:
    """`node_text` of each element; text-only ones (names, tags: most) are read first and
    checked as one string, which costs a fifth of cleaning each."""
    raw = []
    for node in nodes:
        child = node.first_child
        if child is None or child.next is not None or not child.is_text_node:
            return [node_text(node) for node in nodes]
        if node.tag in _HIDDEN_TAGS:
            return [node_text(node) for node in nodes]
        raw.append(child.text_content or "")
    joined = "|".join(raw)
    if (
        joined.isascii()
        and printable(joined)
        and "  " not in joined
        and " |" not in joined
        and "| " not in joined
        and joined[:1] != " "
        and joined[-1:] != " "
    ):
        return raw  # each one is what clean_text would return
    return [clean_text(text) for text in raw]


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (entities decoded, tags dropped, blocks spaced)."""
    if not looks_like_html(html):
        return clean_text(html)
    tree = LexborHTMLParser(html)
    body = tree.body or tree.root
    return node_text(body) if body is not None else ""


def looks_like_html(text: str) -> bool:
    """Whether a string carries markup or entities rather than plain text."""
    return bool(_MARKUP.search(text))


_URL_STRIP = re.compile(r"[\t\n\r]")


def is_http_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.\-]+(?::\d{1,5})?(?:/[A-Za-z0-9\-._~/?=&+,;:@!$'()*%]*)?"
)
_PLAIN_ROOTED = re.compile(r"/(?!/)[A-Za-z0-9\-._~/?=&+,;:@!$'()*%]*")


@lru_cache(maxsize=64)
def _origin(base: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, else None."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def resolve_url(href: str | None, base: str) -> str | None:
    """Absolute http(s) URL of `href` against `base` (relative, protocol-relative), else None."""
    if not href:
        return None
    href = _URL_STRIP.sub("", href).strip(" \x00\x0b\x0c")
    if href in ("", "#"):
        return None
    if _PLAIN_ABSOLUTE.fullmatch(href) and "/." not in href:
        return href  # already what the slow path would make of it
    if _PLAIN_ROOTED.fullmatch(href) and "/." not in href:
        origin = _origin(base)  # "/path?q" on an http(s) base: nothing to join or quote
        if origin:
            return origin + href
    try:
        parts = urlsplit(urljoin(base, href))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    safe = "/?#[]@!$&'()*+,;=:%~"
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe),
            quote(parts.fragment, safe=safe),
        )
    )


def sanitize_html(html: str, base_url: str) -> str:
    """Safe HTML for readers: no scripts, styles, handlers or javascript: links; URLs absolute."""
    if not html.strip():
        return ""
    return drop_controls(_cleaner(base_url).clean(html)).strip()


# Elements nh3 keeps as they are, dropping every attribute but lang and title; an element of
# these with one text child is written here directly (nh3 would parse and serialize it again).
_PLAIN_TAGS = frozenset(
    {"p", "div", "span", "li", "h1", "h2", "h3", "h4", "h5", "h6", "b", "i", "em", "strong"}
    | {"small", "dd", "dt", "article", "aside", "header", "footer", "figcaption", "code"}
)


def sanitize_node(node: LexborNode, base_url: str) -> str:
    """`sanitize_html` of a node's HTML, byte for byte; a text-only element skips nh3."""
    child = node.first_child
    if child is not None and child.next is None and child.is_text_node:
        plain = _plain_html(node, node.tag, child.text_content or "")
        if plain is not None:
            return plain
    return sanitize_html(node.html or "", base_url)


def text_and_html(node: LexborNode, base_url: str) -> tuple[str, str]:
    """(`node_text`, `sanitize_node`) of one node: a text-only element's text is read once."""
    child = node.first_child
    if child is not None and child.next is None and child.is_text_node and node.is_element_node:
        tag = node.tag
        if tag not in _HIDDEN_TAGS:
            raw = child.text_content or ""
            plain = _plain_html(node, tag, raw)
            html = plain if plain is not None else sanitize_html(node.html or "", base_url)
            return clean_text(raw), html
    return node_text(node), sanitize_node(node, base_url)


def _plain_html(node: LexborNode, tag: str | None, text: str) -> str | None:
    """What nh3 makes of an element holding only `text`, when that is sure; else None."""
    if tag not in _PLAIN_TAGS or "title" in (attrs := node.attrs) or "lang" in attrs:
        return None
    if "\r" in text or "\x00" in text:  # html5ever rewrites those: nh3 decides
        return None
    if "&" in text or "<" in text or ">" in text or "\xa0" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = text.replace("\xa0", "&nbsp;")
    return drop_controls(f"<{tag}>{text}</{tag}>").strip()


@lru_cache(maxsize=64)
def _cleaner(base_url: str) -> nh3.Cleaner:
    """One nh3 Cleaner per page URL: building ammonia's rules costs 3x the cleaning itself."""
    relative: Any = ("rewrite_with_base", base_url) if is_http_url(base_url) else "deny"
    return nh3.Cleaner(url_relative=relative, link_rel="noopener noreferrer")
