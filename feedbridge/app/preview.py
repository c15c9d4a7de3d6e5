"""`feedbridge preview`: fetch a source once and show what it extracts, store untouched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedbridge.core.health import status_of
from feedbridge.core.models import Entry
from feedbridge.core.wording import plural
from feedbridge.detect.suggest import suggestion
from feedbridge.fetch.browser import BrowserPool, BrowserSettings, RenderInfo
from feedbridge.fetch.http import HttpClient, HttpSettings
from feedbridge.sources import Source
from feedbridge.sources.collect import Extraction, describe_skipped


async def extract_once(
    source: Source,
    settings: HttpSettings | None = None,
    browser: BrowserSettings | None = None,
) -> tuple[Extraction, RenderInfo | None]:
    """One fetch without validators (never a 304); how the browser loaded it, if it did."""
    if getattr(source.config, "fetch", "http") == "browser":
        async with BrowserPool(browser) as pool:
            fetcher = pool.fetcher(source.name, source.config)
            page = await fetcher.get(source.url)
            return source.analyze(page), fetcher.last
    return await _extract_http(source, settings), None


async def _extract_http(source: Source, settings: HttpSettings | None) -> Extraction:
    async with HttpClient(settings) as http:
        fetcher = http.fetcher(source.name, headers=getattr(source.config, "headers", None))
        if source.kind == "hf_papers":
            entries = await source.poll(fetcher, datetime.now(UTC)) or []
            return Extraction(entries=entries, items=len(entries))
        page = await fetcher.get(source.url, conditional=False)
        return source.analyze(page)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _date(entry: Entry) -> str:
    when = entry.published or entry.updated
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if when else "—"


def _score(entry: Entry) -> str:
    return "—" if entry.score is None else f"{entry.score:g}"


def report(
    source: Source,
    result: Extraction,
    state: dict[str, Any] | None = None,
    render: RenderInfo | None = None,
) -> str:
    """The table a user shapes selectors with: entries, then what matched nothing."""
    lines = [f"{source.name} [{source.kind}] {source.url}"]
    if render is not None:
        lines.append(render.describe())
    if source.kind == "feed":
        lines.append(f"feed title: {result.title or '—'} · site: {result.link or '—'}")
    elif result.title:
        lines.append(f"page title: {result.title}")
    lines.append("")
    lines.append(f"{'#':>3}  {'title':50}  {'date (UTC)':16}  {'score':>6}  link")
    for n, entry in enumerate(result.entries, 1):
        lines.append(
            f"{n:>3}  {_cut(entry.title, 50):50}  {_date(entry):16}  {_score(entry):>6}  "
            f"{entry.link or f'(no link; key {entry.key})'}"
        )
    lines.append("")
    lines.append(f"{plural(len(result.entries), 'entry')} from {plural(result.items, 'item')}")
    if result.matched:
        fields = ", ".join(
            f"{name} {count}/{result.items}" for name, count in result.matched.items()
        )
        lines.append(f"fields matched: {fields}")
        empty = [name for name, count in result.matched.items() if count == 0]
        if empty and result.items:
            lines.append(f"matched nothing: {', '.join(empty)} (check these selectors)")
    if result.items == 0 and source.kind != "hf_papers":
        lines.append("the item selector matched nothing on this page")
        hint = suggestion(result.page, source.config) if result.page is not None else None
        if hint:
            lines.append(hint)
        if source.kind == "html" and render is None and result.scripted:
            lines.append(
                'the page runs scripts: if they build the items, set fetch = "browser" '
                "(preview --fetch browser)"
            )
    if result.skipped:
        lines.append(f"skipped: {describe_skipped(result.skipped)}")
    if state:
        _, status, detail = status_of(state)
        lines.append(f"last poll by the worker: {status}" + (f" ({detail})" if detail else ""))
    return "\n".join(lines)
