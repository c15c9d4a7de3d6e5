"""`feedbridge preview`: fetch a source once and show what it extracts, store untouched.

The command sees two calls: `preview` (the one fetch, through the HTTP client or the
browser as the worker would, without validators) and `report` (its `Preview` as the
table a user shapes selectors with). Only `preview` touches the fetchers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from feedbridge.app.runtime import http_settings
from feedbridge.config import Config
from feedbridge.config.models import HtmlConfig
from feedbridge.core.health import status_of
from feedbridge.core.models import Entry
from feedbridge.core.wording import plural
from feedbridge.detect.suggest import suggestion
from feedbridge.fetch.browser import BrowserPool, BrowserSettings, RenderInfo
from feedbridge.fetch.http import HttpClient, HttpSettings
from feedbridge.messages.templates import entry_message
from feedbridge.sources import Source
from feedbridge.sources.collect import Extraction, describe_skipped
from feedbridge.store import SourceState

# kinds whose own poll makes their requests (several listings, pages, dates): preview polls them
POLLED = ("hf_papers", "hf_repos", "hf_collection")


@dataclass(frozen=True, slots=True)
class Preview:
    """What one fetch of a source extracted; `loaded` says how the browser loaded the page
    (None when it came over plain HTTP)."""

    name: str
    kind: str
    url: str
    result: Extraction
    loaded: str | None = None
    suggestion: str | None = None  # what detection finds when the item selector matched nothing


async def preview(source: Source, config: Config | None = None) -> Preview:
    """Fetch `source` once with the config's HTTP and browser settings (the defaults for an
    ad hoc source); raises FeedbridgeError when the fetch or the extraction fails."""
    http = http_settings(config) if config is not None else None
    browser = BrowserSettings.from_config(config) if config is not None else None
    result, render = await extract_once(source, http, browser)
    result = source.without_secrets(result)
    loaded = render.describe() if render is not None else None
    hint = suggestion(result.page, source.config) if result.page is not None else None
    return Preview(source.name, source.kind, source.mask(source.url), result, loaded, hint)


async def extract_once(
    source: Source,
    settings: HttpSettings | None = None,
    browser: BrowserSettings | None = None,
) -> tuple[Extraction, RenderInfo | None]:
    """One fetch without validators (never a 304); how the browser loaded it, if it did."""
    config = source.config
    if isinstance(config, HtmlConfig) and config.uses_browser:
        async with BrowserPool(browser) as pool:
            fetcher = pool.fetcher(source.name, config)
            page = await fetcher.get(source.url)
            return source.analyze(page), fetcher.last
    return await _extract_http(source, settings), None


async def _extract_http(source: Source, settings: HttpSettings | None) -> Extraction:
    async with HttpClient(settings) as http:
        fetcher = http.fetcher(
            source.name, headers=source.config.headers, typed=source.config.typed
        )
        if source.kind in POLLED:
            return await source.poll(fetcher, datetime.now(UTC)) or Extraction()
        page = await fetcher.get(source.url, conditional=False)
        return source.analyze(page)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _date(entry: Entry) -> str:
    when = entry.published or entry.updated
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "—"


def _score(entry: Entry) -> str:
    return "—" if entry.score is None else f"{entry.score:g}"


def _as_message(result: Extraction) -> list[str]:
    """The first entry as a target would get it (built-in text templates), and any warning."""
    lines = [f"warning: {result.warning}"] if result.warning else []
    if result.entries:
        message = entry_message(result.entries[0], "text")
        lines += ["", "the first entry as a message (text; a target's templates may change it):"]
        lines += [f"  {line}".rstrip() for line in [message.title, "", *message.body.splitlines()]]
    return lines


def report(shown: Preview, state: SourceState | None = None) -> str:
    """The table a user shapes selectors with: entries, then what matched nothing; `state`
    is the source's last poll by the worker, if the store has one."""
    result = shown.result
    lines = [f"{shown.name} [{shown.kind}] {shown.url}"]
    if shown.loaded is not None:
        lines.append(shown.loaded)
    if shown.kind == "feed":
        lines.append(f"feed title: {result.title or '—'} · site: {result.link or '—'}")
    elif result.title:
        lines.append(f"page title: {result.title}")
    lines.append("")
    lines.append(f"{'#':>3}  {'title':50}  {'date (UTC)':16}  {'score':>6}  link")
    for n, entry in enumerate(result.entries, 1):
        link = entry.link
        if entry.key in result.unlinked:
            link = f"{link} (no link of its own; key {entry.key})"
        lines.append(
            f"{n:>3}  {_cut(entry.title, 50):50}  {_date(entry):16}  {_score(entry):>6}  {link}"
        )
    lines.append("")
    lines.append(f"{plural(len(result.entries), 'entry')} from {plural(result.items, 'item')}")
    lines += _unlinked(shown)
    lines += _matches(shown)
    if result.skipped:
        lines.append(f"skipped: {describe_skipped(result.skipped)}")
    if shown.kind in POLLED:
        lines += _as_message(result)
    if state is not None:
        _, status, detail = status_of(state)
        lines.append(f"last poll by the worker: {status}" + (f" ({detail})" if detail else ""))
    return "\n".join(lines)


_KEY_HINTS = {
    "html": 'set `id` to a selector of something stable in each item (`id = "@data-id"`, '
    '`id = "h2@id"`)',
    "json": 'set `id` to the expression of a stable field (`id = "slug"`)',
    "feed": "the feed gives them no guid or id, so only its publisher can",
}


def _unlinked(shown: Preview) -> list[str]:
    """Entries without a link of their own: where they link, how they are keyed, and how to
    key them stably when a hash of their text is all there is."""
    unlinked = shown.result.unlinked
    if not unlinked:
        return []
    its, they = ("its", "it") if len(unlinked) == 1 else ("their", "they")
    lines = [
        f"{plural(len(unlinked), 'entry')} without a link of {its} own: linked to the page "
        f"{they} came from"
    ]
    hashed = sum(1 for key in unlinked if key.startswith("sha256:"))
    if hashed:
        hint = _KEY_HINTS.get(shown.kind, "set `id`")
        lines.append(
            f"{plural(hashed, 'entry')} keyed by a hash of title and text: an edit makes it a "
            f"new entry; to key them stably, {hint}"
        )
    return lines


def _matches(shown: Preview) -> list[str]:
    """What each selector matched, and a hint when the items matched nothing."""
    result, lines = shown.result, []
    if result.matched:
        fields = ", ".join(
            f"{name} {count}/{result.items}" for name, count in result.matched.items()
        )
        lines.append(f"fields matched: {fields}")
        empty = [name for name, count in result.matched.items() if count == 0]
        if empty and result.items:
            lines.append(f"matched nothing: {', '.join(empty)} (check these selectors)")
    if result.items == 0 and shown.kind not in POLLED:
        lines.append("the item selector matched nothing on this page")
        if shown.suggestion:
            lines.append(shown.suggestion)
        if shown.kind == "html" and shown.loaded is None and result.scripted:
            lines.append(
                'the page runs scripts: if they build the items, set fetch = "browser" '
                "(preview --fetch browser)"
            )
    return lines
