"""What the server shows besides the feeds: the index page (every source, its health and
subscribe links, with autodiscovery) and the OPML subscription list. Text in, text out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from xml.sax.saxutils import quoteattr

from feedbridge.core.health import status_of
from feedbridge.core.wording import plural
from feedbridge.feeds.board import FeedBoard, LiveFeed
from feedbridge.store import SourceState


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the index page and OPML show of a source."""

    name: str
    title: str
    kind: str
    url: str


def opml(base_url: str, sources: Sequence[SourceInfo], token: str | None = None) -> bytes:
    """An OPML 2.0 subscription list of every Atom feed."""
    suffix = f"?token={token}" if token else ""
    outlines = "\n".join(
        f'    <outline type="rss" text={quoteattr(s.title)} title={quoteattr(s.title)} '
        f"xmlUrl={quoteattr(f'{base_url}/feeds/{s.name}.atom{suffix}')} "
        f"htmlUrl={quoteattr(s.url)}/>"
        for s in sources
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        "  <head><title>feedbridge feeds</title></head>\n  <body>\n"
        f"{outlines}\n  </body>\n</opml>\n"
    ).encode()


def _when(value: object) -> str:
    if not isinstance(value, int | float):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value))


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;width:100%}th,td{text-align:left;"
    "padding:.5rem;border-bottom:1px solid #ddd;vertical-align:top}"
    ".status.ok{color:#17702d}.status.failing,.status.empty{color:#b00020}"
    ".status.warning{color:#a35200}"
    "small{color:#666}"
)


def index_page(
    board: FeedBoard,
    sources: Sequence[SourceInfo],
    base_url: str,
    source_state: Callable[[str], SourceState | None],
    token: str | None,
) -> str:
    """A plain HTML page: every source, its health and subscribe links, with autodiscovery."""
    suffix = f"?token={escape(token)}" if token else ""
    base_url = escape(base_url)
    links = [
        f'<link rel="alternate" type="application/atom+xml" title="{escape(s.title)}" '
        f'href="{base_url}/feeds/{escape(s.name)}.atom{suffix}">'
        for s in sources
    ]
    rows = [
        _index_row(s, board.get(s.name), source_state(s.name), f"{base_url}/feeds/", suffix)
        for s in sources
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>feedbridge</title>\n" + "\n".join(links) + f"\n<style>{_STYLE}</style></head>"
        "<body>\n<h1>feedbridge</h1>\n"
        f'<p>{plural(len(sources), "feed")} · <a href="{base_url}/opml{suffix}">OPML</a></p>\n'
        "<table><thead><tr><th>Source</th><th>Status</th><th>Last poll</th><th>Entries</th>"
        "<th>Newest</th><th>Subscribe</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></body></html>\n"
    )


def _index_row(
    s: SourceInfo,
    rendered: LiveFeed | None,
    state: SourceState | None,
    feeds: str,
    suffix: str,
) -> str:
    """One source's row: title and kind, health, last poll, entries, newest, subscribe links."""
    feed_base = f"{feeds}{escape(s.name)}"
    newest = rendered.newest if rendered else None
    newest_html = (
        "—"
        if newest is None
        else f'<a href="{escape(newest.link)}">{escape(newest.title)}</a>'
        if newest.link
        else escape(newest.title)
    )
    status, shown, detail = status_of(state)
    return (
        "<tr>"
        f"<td><strong>{escape(s.title)}</strong><br><small>{escape(s.name)} · "
        f'{escape(s.kind)} · <a href="{escape(s.url)}">source</a></small></td>'
        f'<td class="status {escape(status)}">{escape(shown)}'
        + (f"<br><small>{escape(detail)}</small>" if detail else "")
        + "</td>"
        f"<td>{_when(state.last_poll if state else None)}<br>"
        f"<small>last success {_when(state.last_success if state else None)}</small></td>"
        f"<td>{rendered.entry_count if rendered else 0}</td>"
        f"<td>{newest_html}</td>"
        f'<td><a href="{feed_base}.atom{suffix}">Atom</a> · '
        f'<a href="{feed_base}.rss{suffix}">RSS</a> · '
        f'<a href="{feed_base}.json{suffix}">JSON</a></td>'
        "</tr>"
    )
