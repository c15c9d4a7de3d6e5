"""The source editor's form: which fields each kind shows, the `[[sources]]` table a filled-in
form makes (only the fields that have a value; never `headers`, `cookies` or `*_file`), and a
table's problems put beside the fields they are about."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feedbridge.config import adhoc_source_config
from feedbridge.core.errors import ConfigError
from feedbridge.sources import Source, build_source

PAGE_KINDS = ("html", "json", "feed")  # kinds that read a `url`
HUB_KINDS = ("hf_repos", "hf_papers", "hf_collection")  # kinds that read the Hub's API
KINDS = PAGE_KINDS + HUB_KINDS
TITLED = ("feed", *HUB_KINDS)  # kinds whose `title` is the feed's (the form's feed_title)
MAX_VALUE = 2000  # characters of one field


@dataclass(frozen=True, slots=True)
class Field:
    """One input: its name in the form (and, but for `feed_title`, in the table), its label,
    a hint (and another for json sources when theirs differs), and the kinds that have it."""

    name: str
    label: str
    hint: str
    kinds: tuple[str, ...] = KINDS
    number: bool = False
    json_hint: str | None = None
    choices: tuple[str, ...] = ()  # a select's values, the first the default
    listed: bool = False  # a list in the table, comma-separated in the form

    def hints(self) -> list[tuple[str, str]]:
        """(kinds it is for, hint) to show."""
        if self.json_hint is None:
            return [(" ".join(self.kinds), self.hint)]
        return [("html", self.hint), ("json", self.json_hint)]


ITEM_FIELDS = (
    Field("item", "Item", "CSS selector of each entry", ("html",)),
    Field("embedded", "Embedded JSON", "CSS selector of the elements holding JSON, e.g. "
          'script[type="application/ld+json"]; empty for a JSON API', ("json",)),
    Field("items", "Items", "JMESPath expression of the list of entries", ("json",)),
    Field("title", "Title", "CSS selector of the title", ("html", "json"),
          json_hint="JMESPath of the title, on each entry"),
    Field("link", "Link", "CSS selector, @href for the attribute: a@href", ("html", "json"),
          json_hint="JMESPath of the link"),
    Field("date", "Date", "time@datetime, or the element whose text is a date", ("html", "json"),
          json_hint="JMESPath of the date"),
    Field("summary", "Summary", "plain text of the entry", ("html", "json")),
    Field("content", "Content", "HTML of the entry (sanitized)", ("html", "json")),
    Field("author", "Author", "who wrote it", ("html", "json")),
    Field("image", "Image", "img (its src) or img@data-src", ("html", "json")),
    Field("score", "Score", "a number shown with the entry (upvotes, points)", ("html", "json")),
    Field("id", "Id", "a stable id, when links change", ("html", "json")),
)
HUB_FIELDS = (
    Field("type", "Type", "what the listing holds", ("hf_repos",),
          choices=("model", "dataset", "space")),
    # `author` is an html or json source's selector of an entry's author: the Hub's list of
    # authors has a field of its own, read and written as the table's `author` (_AS_KEY)
    Field("repo_author", "Author", "Hub users or organizations, comma-separated (each one "
          "request a poll)", ("hf_repos",), listed=True),
    Field("search", "Search", "a word in the repo's name", ("hf_repos",)),
    Field("filter", "Tags", "tags every repo has, comma-separated (transformers, "
          "license:mit, task_categories:summarization)", ("hf_repos",), listed=True),
    Field("pipeline_tag", "Task", "models only: text-generation, image-text-to-text…",
          ("hf_repos",)),
    Field("sort", "Sort", "created: new repos first; the others follow the Hub's ranking",
          ("hf_repos",), choices=("created", "trending", "likes", "downloads", "modified")),
    Field("listing", "Listing", "which papers", ("hf_papers",),
          choices=("daily", "weekly", "monthly", "trending", "search")),
    Field("query", "Query", "with listing = search: what to search for", ("hf_papers",)),
    Field("collection", "Collection", "namespace/slug-id, or the collection's address",
          ("hf_collection",)),
)
OPTIONS = (
    Field("feed_title", "Feed title", "the feed's own title (default: the source's name)"),
    Field("interval", "Interval", "how often it is polled: 90s, 15m, 2h, 1d (default 30m)"),
    Field("first_run", "First run", "baseline (nothing sent at first), notify, latest:N"),
    Field("keep", "Keep", "entries the feed keeps (default 200)", number=True),
    Field("limit", "Limit", "entries read per poll (per request for hf_papers)",
          ("html", "json", "hf_repos", "hf_papers"), number=True),
    Field("link_pattern", "Link pattern", "regex a link must match", ("html", "json")),
    Field("date_format", "Date format", "strptime format of unusual dates", ("html", "json")),
    Field("timezone", "Time zone", "of dates without one (Europe/Berlin)", ("html", "json")),
    Field("fetch", "Fetch", "browser for pages built by scripts", ("html",)),
    Field("wait_for", "Wait for", "browser: CSS selector awaited (default: item)", ("html",)),
    Field("base_url", "Hub address", "the Hub read (default https://huggingface.co; a mirror)",
          HUB_KINDS),
)
FIELDS = {f.name: f for f in (*ITEM_FIELDS, *HUB_FIELDS, *OPTIONS)}
# form fields whose table key is another (for these kinds): the feed's own title, the Hub's authors
_AS_KEY: dict[str, tuple[str, tuple[str, ...]]] = {
    "feed_title": ("title", TITLED),
    "repo_author": ("author", ("hf_repos",)),
}
_PROBLEM = re.compile(
    r'^(?:page source "(?:[^"\\]|\\.)*"|sources\[\d+\]|sources\.[^.]+)\.(\w+)[^:]*: (.*)$'
)


def table_from_form(form: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """The `[[sources]]` table of a filled-in form: name, kind and URL (the Hub's kinds have
    none), then each field of the kind that has a value (numbers as numbers, a number that is
    none as its text, a list as its comma-separated values)."""
    kind = str(form.get("kind") or "html")
    kind = kind if kind in KINDS else "html"
    table: dict[str, Any] = {"name": name or _text(form, "name"), "kind": kind}
    if kind in PAGE_KINDS:
        table["url"] = _text(form, "url")
    for field in FIELDS.values():
        value = _text(form, field.name)
        if not value or kind not in field.kinds or (field.name == "fetch" and value == "http"):
            continue
        key, kinds = _AS_KEY.get(field.name, (field.name, ()))
        key = key if kind in kinds else field.name
        if field.listed:
            table[key] = [v for v in (v.strip() for v in value.split(",")) if v]
        else:
            table[key] = int(value) if field.number and value.isdigit() else value
    if kind == "html" and table.get("fetch") != "browser":
        table.pop("wait_for", None)
    if str(form.get("enabled", "true")) == "false":
        table["enabled"] = False
    return table


def form_from_table(table: Mapping[str, Any]) -> dict[str, str]:
    """A stored table as the form's values."""
    kind = table.get("kind")
    fields = {key: name for name, (key, kinds) in _AS_KEY.items() if kind in kinds}
    values: dict[str, str] = {}
    for key, value in table.items():
        name = fields.get(key, key)
        if isinstance(value, str | int | float):
            values[name] = str(value)
        elif isinstance(value, list) and name in FIELDS and FIELDS[name].listed:
            values[name] = ", ".join(str(v) for v in value)
    if table.get("enabled") is False:
        values["enabled"] = "false"
    return values


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip()[:MAX_VALUE] if isinstance(value, str) else ""


def check_table(table: Mapping[str, Any]) -> tuple[Source | None, dict[str, str], list[str]]:
    """The table validated as typed (no `${ENV}`) and built (selectors compiled): its source,
    or its problems by field (and those that belong to no field)."""
    try:
        return build_source(adhoc_source_config(dict(table), expand=False)), {}, []
    except ConfigError as exc:
        by_field, other = by_fields(exc.problems, str(table.get("kind")))
        return None, by_field, other


def by_fields(problems: list[str], kind: str) -> tuple[dict[str, str], list[str]]:
    """Problems of a source as (field -> problem, the rest)."""
    found: dict[str, str] = {}
    other: list[str] = []
    for problem in problems:
        match = _PROBLEM.match(problem)
        if match is None:
            other.append(problem)
            continue
        key = match[1]
        key = next((n for n, (k, kinds) in _AS_KEY.items() if k == key and kind in kinds), key)
        if key in FIELDS or key in ("name", "url", "kind"):
            found.setdefault(key, match[2])
        else:
            other.append(problem)
    return found, other
