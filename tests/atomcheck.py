"""check_atom: the Atom 1.0 rules (RFC 4287 section 4) and the W3C feed validator's warnings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from html.entities import name2codepoint
from html.parser import HTMLParser

ATOM = "http://www.w3.org/2005/Atom"
XHTML = "http://www.w3.org/1999/xhtml"
A = "{" + ATOM + "}"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")
_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\Z", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HTTP = re.compile(r"https?://[^/\s?#]+", re.IGNORECASE)
_NOT_IRI = re.compile(r'[\s<>"{}|\\^`]')
_BAD_CHARS = re.compile("[\x80-\x9f\ufffd]")
_END_TAG = re.compile(r"</(\w+)>")
_ENTITY = re.compile(r"&(#?\w+)")
_HTML_TAGS_TEXT = (
    "a abbr acronym address applet area article aside audio b base basefont bdi bdo big blockquote"
    " body br button canvas caption center cite code col colgroup data dd del details dfn dialog"
    " dir div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3"
    " h4 h5 h6 head header hr html i iframe img input ins kbd label legend li link main map mark"
    " menu meta meter nav noframes noscript object ol optgroup option output p param picture pre"
    " progress q rp rt ruby s samp script section select small source span strike strong style"
    " sub summary sup table tbody td template textarea tfoot th thead time title tr track tt u ul"
    " var video wbr xmp plaintext listing"
)
_UNSAFE_TAGS_TEXT = (
    "applet base basefont body embed frame frameset head html iframe link meta noframes object"
    " param plaintext script style title xmp listing"
)
_LINK_RELS_TEXT = (
    "alternate related self enclosure via license replies edit edit-media first last next"
    " previous prev current hub payment search next-archive prev-archive"
)
_HTML_TAGS = frozenset(_HTML_TAGS_TEXT.split())
_UNSAFE_TAGS = frozenset(_UNSAFE_TAGS_TEXT.split())
_LINK_RELS = frozenset(_LINK_RELS_TEXT.split())
_FEED_ONCE = ("id", "title", "updated")
_FEED_AT_MOST_ONCE = ("generator", "icon", "logo", "rights", "subtitle")
_ENTRY_AT_MOST_ONCE = ("content", "published", "rights", "source", "summary")
_FEED_CHILDREN = frozenset(
    _FEED_ONCE + _FEED_AT_MOST_ONCE + ("author", "category", "contributor", "link", "entry")
)
_ENTRY_CHILDREN = frozenset(
    _FEED_ONCE + _ENTRY_AT_MOST_ONCE + ("author", "category", "contributor", "link")
)


def check_atom(
    data: bytes, *, same_updated_ok: bool = False, warnings: list[str] | None = None
) -> list[str]:
    """Every problem found in an Atom document; an empty list means valid.

    Two entries with one `updated` draw the W3C warning DuplicateUpdated, whose advice is that
    no action is needed when they were updated at the same time: `same_updated_ok` says the
    source's own times tie, which a feed must show as they are (issue 11), not shift.

    Two more W3C warnings ask for no action where feedbridge draws them (issue 18), so they
    go to `warnings` (and are dropped when it is None): "missing textual content" (an entry
    without content or summary, whose source gave neither: a copy of its title would show it
    twice) and undeclared HTML in a type="text" construct (a title that reads `<b>` as text).
    """
    noted: list[str] = warnings if warnings is not None else []
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != A + "feed":
        return [f"root element is {root.tag}, not atom:feed in the Atom namespace"]
    problems: list[str] = []
    _check_characters(root, problems)
    _check_common(root, "feed", _FEED_CHILDREN, _FEED_AT_MOST_ONCE, problems)
    selfs = [ln for ln in root.findall(A + "link") if ln.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append(f"feed: {len(selfs)} link rel=self, expected exactly one")
    for link in selfs:
        if not _HTTP.match(link.get("href", "")):
            problems.append(f"feed: self link href {link.get('href')!r} is not absolute")
        if link.get("type") != "application/atom+xml":
            problems.append(f"feed: self link type {link.get('type')!r}, not application/atom+xml")
    feed_author = root.find(A + "author") is not None
    if not feed_author and root.find(A + "entry") is None:
        problems.append("feed: no author and no entries")
    ids: set[str] = set()
    updateds: set[str] = set()
    for i, entry in enumerate(root.findall(A + "entry")):
        where = f"entry[{i}]"
        _check_common(entry, where, _ENTRY_CHILDREN, _ENTRY_AT_MOST_ONCE, problems)
        if not feed_author and entry.find(A + "author") is None:
            problems.append(f"{where}: no author, and the feed has none")
        for tag, seen, what in (("id", ids, "id"), ("updated", updateds, "updated")):
            value = (entry.findtext(A + tag) or "").strip()
            if value and value in seen and not (tag == "updated" and same_updated_ok):
                problems.append(f"{where}: duplicate {what} {value}")
            seen.add(value)
        _check_updated_after_published(entry, where, problems)
        _check_entry_content(entry, where, problems, noted)
    for node in root.iter():
        kind = node.get("type", "text")
        if node.tag in _TEXT_TAGS and kind == "text" and _undeclared_html(node.text or ""):
            noted.append(f"{node.tag[len(A):]}: type=text contains undeclared HTML")
    return problems


def _check_common(
    el: ET.Element, where: str, allowed: frozenset[str], at_most_once: tuple[str, ...],
    problems: list[str],
) -> None:
    for child in el:
        if child.tag.startswith(A) and child.tag[len(A):] not in allowed:
            problems.append(f"{where}: undefined element atom:{child.tag[len(A):]}")
    for tag in _FEED_ONCE:
        count = len(el.findall(A + tag))
        if count != 1:
            problems.append(f"{where}: {count} atom:{tag}, expected exactly one")
    for tag in at_most_once:
        if len(el.findall(A + tag)) > 1:
            problems.append(f"{where}: more than one atom:{tag}")
    for node in el.findall(A + "id"):
        if not _absolute_iri(node.text or ""):
            problems.append(f"{where}: id {node.text!r} is not an absolute IRI")
    for tag in ("updated", "published"):
        for node in el.findall(A + tag):
            problem = _date_problem(node.text or "")
            if problem:
                problems.append(f"{where}: {tag} {node.text!r} {problem}")
    for tag in ("author", "contributor"):
        for person in el.findall(A + tag):
            names = person.findall(A + "name")
            if len(names) != 1 or not (names[0].text or "").strip():
                problems.append(f"{where}: {tag} without exactly one non-empty name")
            elif _undeclared_html(names[0].text or ""):
                problems.append(f"{where}: {tag} name contains HTML")
    for tag in ("title", "subtitle", "rights", "summary"):
        for node in el.findall(A + tag):
            _check_text(node, f"{where} {tag}", problems)
    for cat in el.findall(A + "category"):
        if not (cat.get("term") or "").strip():
            problems.append(f"{where}: category without a term")
    _check_links(el, where, problems)


def _check_links(el: ET.Element, where: str, problems: list[str]) -> None:
    alternates: set[tuple[str | None, str | None]] = set()
    for link in el.findall(A + "link"):
        href = link.get("href")
        if not href or _NOT_IRI.search(href):
            problems.append(f"{where}: link href {href!r} is not an IRI reference")
        rel = link.get("rel", "alternate")
        if rel not in _LINK_RELS and not _absolute_iri(rel):
            problems.append(f"{where}: unregistered link rel {rel!r}")
        if rel == "alternate":
            pair = (link.get("type"), link.get("hreflang"))
            if pair in alternates:
                problems.append(f"{where}: two rel=alternate links with type/hreflang {pair}")
            alternates.add(pair)


_TEXT_TAGS = frozenset(A + tag for tag in ("title", "subtitle", "rights", "summary"))


def _check_entry_content(
    entry: ET.Element, where: str, problems: list[str], warnings: list[str]
) -> None:
    content = entry.find(A + "content")
    has_summary = entry.find(A + "summary") is not None
    alternate = any(ln.get("rel", "alternate") == "alternate" for ln in entry.findall(A + "link"))
    if content is None:
        if not alternate:
            problems.append(f"{where}: neither content nor a rel=alternate link")
        if not has_summary:
            warnings.append(f"{where}: neither content nor summary")
        return
    kind = content.get("type", "text")
    if content.get("src") is not None:
        if not has_summary:
            problems.append(f"{where}: content has src but there is no summary")
        if (content.text or "").strip() or len(content):
            problems.append(f"{where}: content with src must be empty")
    elif kind in ("text", "html", "xhtml"):
        _check_text(content, f"{where} content", problems)
    elif not kind.endswith(("+xml", "/xml")) and not kind.startswith("text/") and not has_summary:
        problems.append(f"{where}: base64 content of type {kind} needs a summary")


def _check_text(node: ET.Element, where: str, problems: list[str]) -> None:
    kind = node.get("type", "text")
    if kind not in ("text", "html", "xhtml"):
        problems.append(f"{where}: type {kind!r} is not text, html or xhtml")
        return
    if kind == "xhtml":
        if len(node) != 1 or node[0].tag != "{" + XHTML + "}div":
            problems.append(f"{where}: xhtml must hold exactly one xhtml:div")
        return
    if len(node):
        problems.append(f"{where}: type={kind} holds raw child elements, not escaped markup")
    value = node.text or ""
    if not value.strip():
        problems.append(f"{where}: blank")
    elif kind == "html":
        problems.extend(f"{where}: {p}" for p in _html_risks(value))


def _check_characters(root: ET.Element, problems: list[str]) -> None:
    for el in root.iter():
        texts = [el.text or "", el.tail or "", *el.attrib.values()]
        if any(_BAD_CHARS.search(t) for t in texts):
            problems.append(f"{el.tag}: C1 control characters or U+FFFD (BadCharacters)")


def _check_updated_after_published(entry: ET.Element, where: str, problems: list[str]) -> None:
    """RFC 4287 4.2.15: `updated` is the latest significant change, so never before `published`."""
    times = [_instant(entry.findtext(A + tag) or "") for tag in ("published", "updated")]
    if times[0] is not None and times[1] is not None and times[1] < times[0]:
        problems.append(f"{where}: updated {times[1].isoformat()} precedes published")


def _instant(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _absolute_iri(value: str) -> bool:
    if not value or value != value.strip() or any(c.isspace() for c in value):
        return False
    if value.lower().startswith("urn:uuid:"):
        return bool(_UUID_URN.match(value))
    match = _SCHEME.match(value)
    if not match:
        return False
    if match.group(1).lower() in ("http", "https"):
        return bool(_HTTP.match(value))
    return len(value) > len(match.group(0))


def _date_problem(value: str) -> str | None:
    if not _RFC3339.match(value):
        return "is not an RFC 3339 date-time with a timezone"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "is not a real date"
    return "is implausible (before 1990)" if parsed.year < 1990 else None


def _undeclared_html(value: str) -> bool:
    if any(tag.lower() in _HTML_TAGS for tag in _END_TAG.findall(value)):
        return True
    return any(
        ref in name2codepoint or ref == "apos" or not ref.isalpha()
        for ref in _ENTITY.findall(value)
    )


class _RiskFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.risks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _UNSAFE_TAGS:
            self.risks.append(f"html contains a <{tag}> element")
        self.risks.extend(f"html attribute {name} on <{tag}>" for name, _ in attrs
                          if name.startswith("on"))


def _html_risks(value: str) -> list[str]:
    finder = _RiskFinder()
    finder.feed(value)
    finder.close()
    return finder.risks
