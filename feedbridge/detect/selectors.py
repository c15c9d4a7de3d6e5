"""CSS selectors a person would keep: semantic tags, stable class names and ids; never a
position, a generated class (`css-1x2y3z`, `_a1b2c3`, `Card_title__3fGh8`) or a utility class."""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborNode

_GENERATED_PREFIX = re.compile(r"(?:css|sc|jsx|emotion|svelte|styled|tw|chakra|mui)-", re.I)
_UTILITY = re.compile(  # layout and utility classes (Tailwind, Bootstrap, Primer): no meaning
    r"(?:flex|grid|gap|block|inline|hidden|relative|absolute|fixed|sticky|rounded|border|shadow|"
    r"text|font|leading|tracking|bg|from|via|to|w|h|d|lh|sr|min|max|overflow|items|justify|self|"
    r"place|space|divide|ring|opacity|cursor|select|line-clamp|truncate|peer|group|clearfix|"
    r"clear|float|pull|push|col|row|container|wrap|wrapper|inner|outer|color|no-wrap|nowrap|"
    r"lg|md|sm|xl|xs|hover|focus|dark|visible|invisible|mb|mt|ml|mr|mx|my|pb|pt|pl|pr|px|py|"
    r"m|p|float-sm|f)(?:-|$)",
    re.I,
)
_STATE = frozenset(
    {
        "odd", "even", "first", "last", "active", "current", "selected", "visited", "unvoted",
        "upvoted", "downvoted", "may-blank", "open", "closed", "expanded", "collapsed", "new",
        "read", "unread", "hentry", "clearfix", "js", "lazy", "loaded", "fade", "show", "in",
    }
)  # fmt: skip
_STATE_PREFIX = ("is-", "has-", "js-", "no-", "u-", "ember", "ng-", "v-", "x-")
_ID_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{1,40}")
_CLASS_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{1,60}")
_MIXED_CASE = re.compile(r"[a-z][A-Z].*[a-z][A-Z]|[A-Z]{2}[a-z][A-Z]")
_MICROFORMAT = re.compile(  # microformats2 roots and properties: markup meant to be read
    r"h-(?:entry|feed|event|card|cite|review|product|recipe|adr|geo|item)|"
    r"p-(?:name|summary|author|category|content|location|rating|price|description)|"
    r"u-(?:url|photo|uid|featured|in-reply-to|repost-of|like-of|syndication)|"
    r"dt-(?:published|updated|start|end)|e-(?:content|description)"
)
_CSS_MODULE = re.compile(r"__[A-Za-z0-9_-]{4,}$")


@lru_cache(maxsize=4096)
def stable_class(name: str, modifiers: bool = False) -> bool:
    """Whether a class name is one a person would keep: a word, not a hash, utility or state.

    BEM modifiers (`story--lead`) mark a variant of an item, so they never name items; inside
    an item (`modifiers=True`) they are as stable as any other name.
    """
    if _MICROFORMAT.fullmatch(name):
        return True
    if not _CLASS_WORD.fullmatch(name) or ("--" in name and not modifiers):
        return False
    if _GENERATED_PREFIX.match(name) or _MIXED_CASE.search(name) or name.startswith("_"):
        return False
    if _CSS_MODULE.search(name) and any(c.isupper() for c in name.rsplit("__", 1)[-1]):
        return False
    lowered = name.lower()
    if lowered in _STATE or lowered.startswith(_STATE_PREFIX):
        return False
    return not _UTILITY.match(lowered)


def classes(node: LexborNode, modifiers: bool = False) -> list[str]:
    """The node's stable class names, in the order the page writes them."""
    raw = node.attributes.get("class") or ""
    return [name for name in dict.fromkeys(raw.split()) if stable_class(name, modifiers)]


def stable_id(node: LexborNode) -> str | None:
    """The node's id when it reads as a name (`content`, `siteTable`), not a number or hash."""
    value = node.attributes.get("id") or ""
    if not _ID_WORD.fullmatch(value) or (_MIXED_CASE.search(value) and len(value) < 8):
        return None
    return value


def quote(value: str) -> str:
    """A CSS attribute value in double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def simple(node: LexborNode, *, with_class: bool = True) -> str:
    """`tag`, `tag.class` (its first stable class) or `tag#id`: one compound selector."""
    tag = node.tag or "*"
    if ident := stable_id(node):
        return f"{tag}#{ident}"
    names = classes(node) if with_class else []
    return f"{tag}.{names[0]}" if names else tag


def variants(node: LexborNode, stop: LexborNode | None = None) -> list[str]:
    """Selectors for `node` inside `stop` (an item), simplest first: its tag, its stable classes,
    itemprop, then the same under its parent's tag or class."""
    tag = node.tag or "*"
    names = classes(node, modifiers=True)
    own = [*(f"{tag}.{c}" for c in names[:3]), *(f".{c}" for c in names[:2])]
    # a bare tag is the simplest, except for links: "a" is whichever link comes first
    own.insert(len(own) if tag == "a" else 0, tag)
    prop = (node.attributes.get("itemprop") or "").split()
    if prop and _CLASS_WORD.fullmatch(prop[0]):  # the page's own name for the field first
        own.insert(0, f"[itemprop={quote(prop[0])}]")
    mf = [c for c in names if _MICROFORMAT.fullmatch(c)]
    if mf:
        own.insert(0, f".{mf[0]}")
    out = list(own)
    parent = node.parent
    inside = parent is not None and parent.is_element_node
    if inside and parent is not None and (stop is None or parent.mem_id != stop.mem_id):
        pnames = classes(parent, modifiers=True)
        ptag = parent.tag or "*"
        heading = ptag in _HEADINGS or parent.attributes.get("role") == "heading"
        if heading and ptag not in _HEADINGS:
            ptag = '[role="heading"]'
        for inner in own[:3]:
            # "h2 a" says more than "a": it goes first
            out.insert(0 if heading and inner == "a" else len(out), f"{ptag} {inner}")
            if pnames and not heading:
                out.append(f".{pnames[0]} {inner}")
            if heading:
                break
    before = node.prev
    while before is not None and not before.is_element_node:
        before = before.prev
    if before is not None and before.tag not in ("script", "style"):
        out.append(f"{simple(before)} + {tag}")
    return list(dict.fromkeys(out))


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
