"""A Hugging Face Hub URL as the source table that reads it: the Hub's own pages (papers,
listings of models, datasets and Spaces, a profile, a repo, a collection) are read from its
JSON API by the hf_* kinds, not from their HTML.

`hub_table` is pure: the URL's path and query mapped to an `hf_papers`, `hf_repos` or
`hf_collection` table, validated as the web page validates a typed table (a value the config
refuses gives no table); `hub_candidate` runs that table's source once, bounded in requests
and time, and `hub_detection` is the Detection of the URL: that candidate alone (the page
itself is never fetched).

The Hub's address the tables read is https://huggingface.co, or `FEEDBRIDGE_HUB_URL` (a
mirror; the tests' fake Hub): then the tables say `base_url`, and URLs on its host are Hub
URLs too.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from feedbridge.config import adhoc_source_config
from feedbridge.config.hub import ARXIV_ID, NAMESPACE, SEGMENT
from feedbridge.core.errors import FeedbridgeError, FetchError
from feedbridge.core.models import Page
from feedbridge.core.wording import plural
from feedbridge.detect.result import Candidate, Detection
from feedbridge.sources import Fetcher, Source, build_source
from feedbridge.sources.collect import Extraction

DEFAULT_HUB = "https://huggingface.co"
HUB_ENV = "FEEDBRIDGE_HUB_URL"
HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co", "www.hf.co"})
MAX_REQUESTS = 12  # a check of one table (hf_papers' daily listing looks a few days back)
CHECK_SECONDS = 60.0

# the site's first path segments that are no user or organization
_RESERVED = frozenset({
    "api", "blog", "changelog", "chat", "collections", "datasets", "docs", "enterprise", "join",
    "learn", "login", "logout", "models", "new", "new-dataset", "new-space", "notifications",
    "organizations", "papers", "posts", "pricing", "privacy", "search", "settings", "spaces",
    "tasks", "terms-of-service", "welcome", "inference-endpoints", "inference-api", "hardware",
    "storage-regions", "security", "huggingchat", "mcp", "leaderboards",
})  # fmt: skip
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_WHAT = {"model": "models", "dataset": "datasets", "space": "Spaces"}
# the listing pages' query parameters that name tags: each value (comma-separated) is a tag
# the API's `filter` matches (`library=transformers`, `language=en`, `other=…`,
# `task_categories=task_categories:text-generation`, `license=license:mit`, …)
_TAG_PARAMS = frozenset({
    "library", "language", "license", "other", "dataset", "task_categories", "task_ids",
    "modality", "size_categories", "format", "benchmark", "region", "apps", "sdk",
})  # fmt: skip
_QUIET = frozenset({"p", "sort", "search", "author", "pipeline_tag", "q"})  # read, or a page no.
_TAG = re.compile(r"[\w.:/+-]{1,100}")
_TASK = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEK = re.compile(r"\d{4}-W\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
MAX_TEXT = 200  # characters of a search
MAX_TAGS = 20


@dataclass(frozen=True, slots=True)
class HubTable:
    """A Hub URL's table (without `name`) and what it reads, in plain words."""

    table: Mapping[str, Any]
    description: str


def hub_base() -> str:
    """The Hub the tables read: https://huggingface.co, or `FEEDBRIDGE_HUB_URL`."""
    return (os.environ.get(HUB_ENV) or DEFAULT_HUB).rstrip("/")


def is_hub_url(url: str, base: str | None = None) -> bool:
    """Whether `url` is on the Hub (huggingface.co, hf.co, or the configured Hub's host)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    mirror = urlsplit(base or hub_base())
    if parts.scheme not in ("http", "https") or not host:
        return False
    return host in HUB_HOSTS or (host, parts.port) == (mirror.hostname, mirror.port)


def hub_table(url: str, base: str | None = None) -> HubTable | None:
    """The hf_* table that reads what the Hub page at `url` lists; None when `url` is not a Hub
    page this knows, or one of its values is not one the config accepts."""
    base = base or hub_base()
    if len(url) > 4000 or not is_hub_url(url, base):
        return None
    parts = urlsplit(url.strip())
    path = [p for p in parts.path.split("/") if p]
    query = parse_qsl(parts.query, keep_blank_values=False, max_num_fields=100)
    try:
        found = _map(path, query)
    except ValueError:  # a hostile or malformed value
        return None
    if found is None:
        return None
    table, description = found
    if base != DEFAULT_HUB:
        table["base_url"] = base
    try:
        adhoc_source_config({"name": "detected", **table}, expand=False)
    except (FeedbridgeError, ValueError):
        return None
    return HubTable(table, description)


def _map(path: list[str], query: list[tuple[str, str]]) -> tuple[dict[str, Any], str] | None:
    if not path:
        return None
    head = path[0]
    if head == "papers":
        return _papers(path[1:], query)
    if head in _TYPES and len(path) == 1:
        return _listing(_TYPES[head], query)
    if head in ("datasets", "spaces") and len(path) >= 3:
        return _author(_TYPES[head], path[1], f"{path[1]}/{path[2]}")
    if head == "collections" and len(path) == 3:
        slug = f"{path[1]}/{path[2]}"
        table = {"kind": "hf_collection", "collection": slug}
        return table, f"the items of the collection {slug}"
    if head in _RESERVED or head in _TYPES or not NAMESPACE.fullmatch(head):
        return None
    if len(path) == 1:
        return _author("model", head, None)
    if path[1] in _TYPES and len(path) == 2:
        return _author(_TYPES[path[1]], head, None)
    if re.fullmatch(SEGMENT, path[1]):
        return _author("model", head, f"{head}/{path[1]}")
    return None


def _author(kind: str, author: str, repo: str | None) -> tuple[dict[str, Any], str]:
    if not NAMESPACE.fullmatch(author):
        raise ValueError(author)
    table = {"kind": "hf_repos", "type": kind, "author": [author], "sort": "created"}
    what = f"new {_WHAT[kind]} by {author}"
    return table, f"{what} (the author of {repo})" if repo else what


def _text(value: str) -> str:
    if len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(value)
    return value.strip()


def _papers(rest: list[str], query: list[tuple[str, str]]) -> tuple[dict[str, Any], str] | None:
    q = _text(dict(query).get("q", ""))
    if not rest and q:
        return {"kind": "hf_papers", "listing": "search", "query": q}, f"papers matching {q!r}"
    daily = {"kind": "hf_papers", "listing": "daily"}
    if not rest:
        return daily, "the Daily Papers"
    if rest == ["trending"]:
        return {"kind": "hf_papers", "listing": "trending"}, "the trending papers"
    if len(rest) == 2 and rest[0] == "date" and _DAY.fullmatch(rest[1]):
        return daily, "the Daily Papers (the latest days, not only that one)"
    if len(rest) == 2 and rest[0] == "week" and _WEEK.fullmatch(rest[1]):
        return {"kind": "hf_papers", "listing": "weekly"}, "the papers of the week (this week's)"
    if len(rest) == 2 and rest[0] == "month" and _MONTH.fullmatch(rest[1]):
        table = {"kind": "hf_papers", "listing": "monthly"}
        return table, "the papers of the month (this month's)"
    if len(rest) == 1 and ARXIV_ID.fullmatch(rest[0]):
        return daily, "the Daily Papers (a single paper's page has no list)"
    return None


def _listing(kind: str, query: list[tuple[str, str]]) -> tuple[dict[str, Any], str]:
    """`/models?search=…&pipeline_tag=…&other=…&sort=…` as the same listing from the API."""
    given = dict(query)
    table: dict[str, Any] = {"kind": "hf_repos", "type": kind}
    words: list[str] = []
    if author := _text(given.get("author", "")):
        if not NAMESPACE.fullmatch(author):
            raise ValueError(author)
        table["author"] = [author]
        words.append(f"by {author}")
    if search := _text(given.get("search", "")):
        table["search"] = search
        words.append(f"matching {search!r}")
    if task := given.get("pipeline_tag", "").strip():
        if not _TASK.fullmatch(task):
            raise ValueError(task)
        table["pipeline_tag"] = task
        words.append(f"for {task}")
    tags = [t.strip() for k, v in query if k in _TAG_PARAMS for t in v.split(",") if t.strip()]
    if len(tags) > MAX_TAGS or not all(_TAG.fullmatch(t) for t in tags):
        raise ValueError(tags)
    if tags:
        table["filter"] = list(dict.fromkeys(tags))
        words.append("tagged " + ", ".join(table["filter"]))
    table["sort"] = given.get("sort", "trending")  # the site's default order is trending
    words.append(f"sorted by {table['sort']}")
    ignored = sorted({k for k, _ in query} - _TAG_PARAMS - _QUIET)
    if ignored:
        words.append(f"(not read: {', '.join(ignored)[:100]})")
    return table, " ".join([_WHAT[kind], *words])


class _Bounded:
    """The fetcher a check runs through: at most MAX_REQUESTS requests."""

    def __init__(self, fetcher: Fetcher, source: str) -> None:
        self.fetcher = fetcher
        self.source = source
        self.made = 0

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
        validators: MutableMapping[str, Any] | None = None,
    ) -> Page:
        self.made += 1
        if self.made > MAX_REQUESTS:
            raise FetchError(self.source, url, f"a check makes at most {MAX_REQUESTS} requests")
        # never conditional, whatever validators a source keeps: a check shows what is there
        return await self.fetcher.get(url, params=params, conditional=False, accept=accept)


async def run_hub(source: Source, fetcher: Fetcher, now: datetime | None = None) -> Extraction:
    """What an hf_* source yields now, its requests through `fetcher` (bounded in number and
    time); raises FeedbridgeError (the fetch's, the answer's) or TimeoutError."""
    bounded = _Bounded(fetcher, source.name)
    polled = await asyncio.wait_for(
        source.poll(bounded, now or datetime.now(UTC)), CHECK_SECONDS
    )
    return polled if polled is not None else Extraction()


async def hub_candidate(
    found: HubTable, fetcher: Fetcher, now: datetime | None = None
) -> Candidate:
    """The table run once: its entries now, or why the Hub did not give them (the table is
    offered all the same: it is what reads that page)."""
    description = found.description
    try:
        config = adhoc_source_config({"name": "detected", **found.table}, expand=False)
        source = build_source(config)
        result = await run_hub(source, fetcher, now)
    except FeedbridgeError as exc:
        return Candidate("hub", description, found.table, (), 1.0, str(exc))
    except TimeoutError:
        late = f"the Hub did not answer within {CHECK_SECONDS:g}s"
        return Candidate("hub", description, found.table, (), 1.0, late)
    entries = tuple(result.entries)
    empty = None if entries else "the Hub lists nothing for it now"
    return Candidate("hub", description, found.table, entries, float(len(entries)), empty,
                     {}, result.items)  # fmt: skip


def hub_detection(url: str, candidate: Candidate) -> Detection:
    """The Detection of a Hub URL: its table, checked or with why not."""
    found = f"found {candidate.description} (the Hugging Face Hub's API)"
    if candidate.checked:
        message = f"{found}: {plural(len(candidate.entries), 'entry')} now"
    else:
        message = f"{found}; not checked: {candidate.problem}"
    return Detection(url, "Hugging Face", (candidate,), "found", message)
