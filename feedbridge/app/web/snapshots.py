"""Pages fetched once for the web editor: detection runs on them, and every preview after
(each change of a selector) re-reads the same bytes instead of fetching again.

A snapshot is this process's memory only, bounded in count, bytes and age; an unknown one
(another node's, or one that expired) is simply fetched again. URLs typed into the page must
not reach this machine's or its network's private addresses (unless `[server] private_urls`),
nor cloud metadata services ever.

A Hugging Face Hub URL is not fetched: its table (`detect.hub`) reads the Hub's API, and the
API's answers (the check, each preview of an hf_* table) are held in the snapshot too, the
same checks on their URLs, the oldest dropped past MAX_API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from feedbridge.core.errors import FeedbridgeError
from feedbridge.core.models import Page
from feedbridge.detect.detector import detect_view, refused
from feedbridge.detect.feeds import FeedLink, feed_candidate, feed_links
from feedbridge.detect.hub import HubTable, hub_candidate, hub_detection, hub_table
from feedbridge.detect.page import PageView, TooDeep
from feedbridge.detect.result import Candidate, Detection, Verdict

MAX_SNAPSHOTS = 32
MAX_BYTES = 64 * 2**20  # every snapshot's pages together
MAX_AGE = 3600.0
MAX_PAGES = 6  # URLs one snapshot holds: the page, its feeds, a URL changed in the form
MAX_API = 24  # the Hub's answers one snapshot holds (each hf_* preview asks again)
_METADATA_NAMES = ("metadata.google.internal", "metadata", "instance-data")
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


_ROOTS = {b"rss": "RSS", b"rdf": "RSS", b"feed": "Atom"}  # a feed's root element, its format
_FEED_TYPES = {"application/rss+xml": "RSS", "application/rdf+xml": "RSS",
               "application/atom+xml": "Atom", "application/feed+json": "JSON Feed"}  # fmt: skip


def _feed_format(page: Page) -> str | None:
    """The format of a feed's own address (RSS, Atom, JSON Feed), None for a page: from its
    first element (an XML prolog says nothing: XHTML pages have one too), else its type."""
    start = page.body[:2048].lstrip().lower()
    if start.startswith(b"{"):
        return "JSON Feed" if b"jsonfeed.org" in start else None
    root = re.search(rb"<([a-z][\w.-]*:)?([a-z][\w.-]*)", start)  # not <?xml, <!doctype, <!--
    if root is not None:
        return _ROOTS.get(root[2])
    return _FEED_TYPES.get(page.content_type)


class Refused(FeedbridgeError):
    """A URL typed into the page that this server will not fetch; says why."""


class Unresolved(Refused):
    """A typed URL whose host does not resolve (now): nothing to fetch, nothing refused."""


async def check_url(url: str, private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host is a cloud metadata service, or (unless
    `private`) resolves to a loopback, private, link-local or otherwise non-public address.
    This says why in the page's words before anything is sent; what holds is the check at
    each socket (`AddressPolicy.typed`): a name may resolve elsewhere by then."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise Refused(f"not an http(s) URL: {url}")
    if host in _METADATA_NAMES:
        raise Refused(f"{host} is a cloud metadata service: never fetched from the page")
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, parts.port or 80)
    except (OSError, UnicodeError) as exc:
        raise Unresolved(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address in _METADATA:
            raise Refused(f"{host} is a cloud metadata address: never fetched from the page")
        if not private and not address.is_global:
            raise Refused(
                f"{host} is a loopback or private-network address ({address}); the page fetches "
                "only public ones unless [server] private_urls = true"
            )


@dataclass
class Snapshot:
    """One page as fetched for the editor, and the other URLs fetched for it since."""

    id: str
    url: str
    pages: dict[str, Page | str] = field(default_factory=dict)  # URL -> page, or why not
    taken: float = field(default_factory=time.monotonic)
    detection: Detection | None = None
    hub: HubTable | None = None  # a Hub URL's table: the page itself is not fetched
    api: OrderedDict[str, Page | FeedbridgeError] = field(default_factory=OrderedDict)

    @property
    def size(self) -> int:
        held = [*self.pages.values(), *self.api.values()]
        return sum(len(p.body) for p in held if isinstance(p, Page))


Fetch = Callable[[str], Awaitable[Page]]


class Snapshots:
    """The snapshots of this process, oldest dropped first."""

    def __init__(self, fetch: Fetch, private: bool) -> None:
        self.fetch = fetch
        self.private = private
        self.held: OrderedDict[str, Snapshot] = OrderedDict()

    def get(self, sid: str) -> Snapshot | None:
        found = self.held.get(sid)
        if found is not None and time.monotonic() - found.taken > MAX_AGE:
            del self.held[sid]
            return None
        return found

    async def take(self, url: str) -> Snapshot:
        """Fetch `url` once into a new snapshot; raises FeedbridgeError (Refused, FetchError)."""
        snapshot = Snapshot(secrets.token_urlsafe(12), url, hub=hub_table(url))
        if snapshot.hub is None:
            snapshot.pages[url] = await self._fetch(url)
        self.held[snapshot.id] = snapshot
        self._trim()
        return snapshot

    async def page(self, snapshot: Snapshot, url: str) -> Page:
        """`url` from the snapshot, fetched into it on first use; raises FeedbridgeError."""
        held = snapshot.pages.get(url)
        if isinstance(held, Page):
            return held
        if isinstance(held, str):
            raise FeedbridgeError(held)
        if len(snapshot.pages) >= MAX_PAGES:
            raise FeedbridgeError("too many URLs tried in one editor: reload the page")
        try:
            page = snapshot.pages[url] = await self._fetch(url)
        except FeedbridgeError as exc:
            snapshot.pages[url] = str(exc)
            raise
        self._trim()
        return page

    def blank(self, url: str) -> Snapshot:
        """A snapshot with nothing fetched yet: an hf_* source's preview, which asks the API."""
        snapshot = Snapshot(secrets.token_urlsafe(12), url)
        self.held[snapshot.id] = snapshot
        self._trim()
        return snapshot

    def fetcher(self, snapshot: Snapshot) -> HubFetcher:
        """A source's fetcher whose requests (to the Hub's API) go through the snapshot."""
        return HubFetcher(self, snapshot)

    async def api(self, snapshot: Snapshot, url: str) -> Page:
        """An API answer from the snapshot, asked on first use (the URL checked as a typed
        one); the oldest answers are dropped past MAX_API, or while the snapshot holds more
        than MAX_BYTES (an answer can be as large as the body cap). Raises FeedbridgeError."""
        held = snapshot.api.get(url)
        if held is None:
            try:
                held = await self._fetch(url)
            except FeedbridgeError as exc:  # kept as raised: a source tells a 429 from a 404
                held = exc
            snapshot.api[url] = held
            while len(snapshot.api) > MAX_API or (
                len(snapshot.api) > 1 and snapshot.size > MAX_BYTES
            ):
                snapshot.api.popitem(last=False)
            self._trim()
        else:
            snapshot.api.move_to_end(url)
        if isinstance(held, FeedbridgeError):
            raise held
        return held

    async def _fetch(self, url: str) -> Page:
        await check_url(url, self.private)
        return await self.fetch(url)

    def _trim(self) -> None:
        while len(self.held) > MAX_SNAPSHOTS or (
            len(self.held) > 1 and sum(s.size for s in self.held.values()) > MAX_BYTES
        ):
            self.held.popitem(last=False)

    async def detect(self, snapshot: Snapshot) -> Detection:
        """Every list on the snapshot's page, best first, with the feeds it advertises
        (fetched into the snapshot); the parsing and checking run off the event loop."""
        if snapshot.detection is not None:
            return snapshot.detection
        if snapshot.hub is not None:
            hub = await hub_candidate(snapshot.hub, self.fetcher(snapshot))
            snapshot.detection = hub_detection(snapshot.url, hub)
            return snapshot.detection
        page = await self.page(snapshot, snapshot.url)
        fmt = _feed_format(page)
        if fmt is not None:  # the address of a feed itself: read it as one
            itself = await asyncio.to_thread(_as_feed, page, fmt)
            snapshot.detection = itself
            return itself
        try:
            view = await asyncio.to_thread(PageView.read, page)
        except TooDeep as exc:
            return refused(page, exc, "http")
        found: list[Candidate] = []
        for link in feed_links(view):
            try:
                feed = await self.page(snapshot, link.url)
            except FeedbridgeError as exc:
                found.append(feed_candidate(link, str(exc)))
            else:
                found.append(await asyncio.to_thread(feed_candidate, link, feed))
        detection = await asyncio.to_thread(detect_view, view, more=found)
        snapshot.detection = detection
        return detection


class HubFetcher:
    """A `Fetcher` whose every request is an API answer held in one snapshot."""

    def __init__(self, snapshots: Snapshots, snapshot: Snapshot) -> None:
        self.snapshots = snapshots
        self.snapshot = snapshot

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
        validators: MutableMapping[str, Any] | None = None,
    ) -> Page:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        return await self.snapshots.api(self.snapshot, url)


def _as_feed(page: Page, feed: str) -> Detection:
    """The Detection of a feed's own address: the feed, or why it cannot be read."""
    found = feed_candidate(FeedLink(page.url, "", feed), page)
    verdict: Verdict = "found" if found.checked else "no list"
    message = f"this is a feed: {found.description}" if found.checked else (
        f"this looks like a feed, but it cannot be read: {found.problem}")  # fmt: skip
    return Detection(page.url, "", (found,), verdict, message)
