"""What detection finds on the page of an html source whose item selector matched nothing:
one line for `preview` and for the poll's warning."""

from __future__ import annotations

import asyncio
import json

from feedbridge.config.models import HtmlConfig, SourceBase
from feedbridge.core.errors import FeedbridgeError
from feedbridge.core.models import Page
from feedbridge.detect.detector import Fetch, detect_page
from feedbridge.sources.collect import Extraction
from feedbridge.sources.text import shorten

_SHOWN = ("item", "title", "link", "date")


def suggestion(page: Page, config: SourceBase | None = None) -> str | None:
    """ "the page changed? these selectors match 24 items: ..." or None when nothing is found."""
    fetch: Fetch = "browser" if isinstance(config, HtmlConfig) and config.uses_browser else "http"
    try:
        detection = detect_page(page, fetch=fetch)
    except (FeedbridgeError, RecursionError):
        return None
    best = detection.best
    if best is None:
        return None
    first = shorten(best.entries[0].title, 60)
    count = len(best.entries)
    if best.source.get("kind") == "html":
        shown = ", ".join(f"{k} = {json.dumps(best.source[k])}" for k in _SHOWN if k in best.source)
        return (
            f"the page changed? these selectors match {count} items: {shown} "
            f"(first: {first!r}); `feedbridge detect {page.url}` prints the whole source"
        )
    return (
        f"the page changed? it now holds {best.description} (first: {first!r}); "
        f"`feedbridge detect {page.url}` prints a source for it"
    )


async def warning_with_suggestion(
    extraction: Extraction | None, config: SourceBase
) -> str | None:
    """A poll's warning, with what detection finds when the item selector matched nothing
    (run in a thread: it costs up to a few tens of milliseconds, only while the source is
    broken and its page changes)."""
    if extraction is None or not extraction.warning:
        return None
    page, extraction.page = extraction.page, None
    if page is None:
        return extraction.warning
    hint = await asyncio.to_thread(suggestion, page, config)
    return f"{extraction.warning}; {hint}" if hint else extraction.warning
