"""What the server shows besides the feeds: the index page (every source, its health and
subscribe links, with autodiscovery) and the OPML subscription list. Text in, text out, but
for `shown_states`, the one store read both index pages make."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from xml.sax.saxutils import quoteattr

from feedbridge.core.errors import StoreError
from feedbridge.core.health import status_of
from feedbridge.core.wording import plural
from feedbridge.feeds.board import FeedBoard, LiveFeed
from feedbridge.store import SourceState, Store
from feedbridge.store.status import Streak

_STATES = Streak("reading the sources' states for the index page")


def shown_states(store: Store, names: Sequence[str]) -> dict[str, SourceState | None] | None:
    """The sources' states for an index page, in one store call (call it in a worker thread):
    None for one before its first poll (shown "pending"); the whole None while the store
    cannot give them (down: at once; a locked table: once, after the lock timeout), shown
    "state unavailable". The first failure of a streak is logged, not every page view."""
    try:
        states = store.source_states(names)
    except StoreError as exc:
        _STATES.failed(exc)
        return None
    _STATES.ok()
    return {n: s if s.last_poll is not None else None for n, s in states.items()}


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
        f"xmlUrl={quoteattr(f'{base_url}/feeds/{s.name}.atom{suffix}')}"
        + (f" htmlUrl={quoteattr(s.url)}" if s.url else "")  # "" when the URL is a secret
        + "/>"
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
    ".status.warning,.status.unavailable{color:#a35200}"
    "small{color:#666}"
)


def content_security_policy(*, styles: Sequence[str] = (), scripts: Sequence[str] = ()) -> str:
    """The CSP of an HTML page: nothing loads but what it names; its inline `<style>` and
    `<script>` blocks run only when hashed here (so an injected one never does); no frame may
    embed it."""
    def hashed(blocks: Sequence[str]) -> str:
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
            for b in blocks
        )

    rules = ["default-src 'none'", "base-uri 'none'", "form-action 'self'"]
    rules += [f"style-src {hashed(styles)}"] if styles else []
    rules += [f"script-src {hashed(scripts)}"] if scripts else []
    return "; ".join([*rules, "frame-ancestors 'none'"])


INDEX_CSP = content_security_policy(styles=[_STYLE])


def index_page(
    board: FeedBoard,
    sources: Sequence[SourceInfo],
    base_url: str,
    states: Mapping[str, SourceState | None] | None,
    token: str | None,
) -> str:
    """A plain HTML page: every source, its health and subscribe links, with autodiscovery.
    `states`: each source's state (None, or absent: never polled), read in one store call;
    None when the store could not give them now (each row says "state unavailable")."""
    suffix = f"?token={escape(token)}" if token else ""
    base_url = escape(base_url)
    links = [
        f'<link rel="alternate" type="application/atom+xml" title="{escape(s.title)}" '
        f'href="{base_url}/feeds/{escape(s.name)}.atom{suffix}">'
        for s in sources
    ]
    rows = [
        _index_row(
            s, board.get(s.name), None if states is None else states.get(s.name),
            f"{base_url}/feeds/", suffix, unavailable=states is None,
        )
        for s in sources
    ]  # fmt: skip
    unavailable = (
        '<p class="status unavailable" role="alert">The sources\' states could not be read from '
        "the store now (it is busy or down); their feeds are still served.</p>\n"
        if states is None
        else ""
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>feedbridge</title>\n" + "\n".join(links) + f"\n<style>{_STYLE}</style></head>"
        "<body>\n<h1>feedbridge</h1>\n"
        + unavailable
        + f'<p>{plural(len(sources), "feed")} · <a href="{base_url}/opml{suffix}">OPML</a></p>\n'
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
    *,
    unavailable: bool = False,
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
    if unavailable:  # the store did not answer: not "pending", which would say never polled
        status, shown, detail = "unavailable", "state unavailable", None
    source_link = f' · <a href="{escape(s.url)}">source</a>' if s.url else ""
    return (
        "<tr>"
        f"<td><strong>{escape(s.title)}</strong><br><small>{escape(s.name)} · "
        f"{escape(s.kind)}{source_link}</small></td>"
        f'<td class="status {escape(status)}">{escape(shown)}'
        + (f"<br><small>{escape(detail)}</small>" if detail else "")
        + "</td>"
        + (
            "<td>unknown</td>"  # not "never": the store could not say
            if unavailable
            else f"<td>{_when(state.last_poll if state else None)}<br>"
            f"<small>last success {_when(state.last_success if state else None)}</small></td>"
        )
        + f"<td>{rendered.entry_count if rendered else 0}</td>"
        f"<td>{newest_html}</td>"
        f'<td><a href="{feed_base}.atom{suffix}">Atom</a> · '
        f'<a href="{feed_base}.rss{suffix}">RSS</a> · '
        f'<a href="{feed_base}.json{suffix}">JSON</a></td>'
        "</tr>"
    )
