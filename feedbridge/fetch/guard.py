"""One browser page's requests under the address policy (issue 19): what the page loads
and where it navigates is not the config's choice, the configured URL is.

Every request the page makes passes `route`: its host is resolved and judged as a redirect
would be by the http fetcher (from a public page, no internal address; no metadata address
ever), resource types the source blocks are dropped, a main-frame navigation off the
configured site is stopped, and the source's headers go to its own origin only. Redirect
hops never reach a route (Chromium follows them itself), so `on_request` judges them as
they go and the fetch fails if one broke the rule: nothing from such a page is published.
Under the routes, the page's connections go through the pool's proxy (proxy.py), which asks
the guard which rule holds (`after_public_for`) and judges the address it connects to: a DNS
answer that changed since the route's check (rebinding) is refused there, and fails the
fetch (`refused_connection`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx

from feedbridge.core.errors import FetchError
from feedbridge.fetch.addresses import Address, AddressPolicy, parse_address

if TYPE_CHECKING:
    from playwright.async_api import Request, Route

log = logging.getLogger("feedbridge.browser")


def same_site(a: httpx.URL, b: httpx.URL) -> bool:
    """The same host, give or take `www.` (http or https): where a page may redirect itself."""
    return a.host.removeprefix("www.") == b.host.removeprefix("www.")


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


class PageGuard:
    """The rules for one fetch of `url`: built per page, checked at the end (`check`)."""

    def __init__(
        self,
        url: str,
        policy: AddressPolicy,
        headers: Mapping[str, str],
        block: frozenset[str],
    ) -> None:
        self.url = httpx.URL(url)
        self.policy = policy
        self.headers = dict(headers)
        self.block = block
        self.blocked = 0  # requests of a blocked resource type
        self.stopped: list[str] = []  # requests refused (aborted): the page goes on without them
        self.broken: list[str] = []  # redirect hops that broke a rule: the fetch fails
        self._after_public = True
        self._first_connection = True  # the navigation to the configured URL: not yet made
        self._unreachable: str | None = None  # why the proxy reached no address of that host
        self._verdicts: dict[tuple[str, int | None], str | None] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self, source: str) -> None:
        """Judge the configured URL's own address: a page on an internal address (the
        config's choice) may load internal resources, a public one may not; a metadata
        address is refused here (FetchError)."""
        found = await self._addresses(self.url.host, self.url.port)
        self._after_public = False
        reason = self.policy.host_refusal(self.url.host) or next(
            (r for a in found if (r := self.policy.refusal(a, after_public=False))), None
        )
        if reason is not None:
            raise FetchError(source, str(self.url), f"refused: {reason}")
        self._after_public = not found or not all(map(self.policy.is_internal, found))

    def after_public_for(self, host: str, port: int) -> bool:
        """The rule for a connection the proxy makes: the first to the configured URL's
        host is the config's choice (as the http fetcher's first hop); every other is held
        to what the page is (public: no internal address)."""
        if self._first_connection and self._configured(host, port):
            self._first_connection = False
            return False
        return self._after_public

    def _configured(self, host: str, port: int) -> bool:
        default = 443 if self.url.scheme == "https" else 80
        return (host.strip("[]").lower(), port) == (self.url.host.lower(), self.url.port or default)

    def unreachable(self, host: str, port: int, reason: str) -> None:
        """A connection the proxy could not make: why, if it was to the configured URL's
        host (the page's load fails then, and `why_load_failed` says why)."""
        if self._configured(host, port) and self._unreachable is None:
            self._unreachable = reason

    def refused_connection(self, origin: str, reason: str) -> None:
        """A connection the proxy refused although the route let it pass (the name resolved
        elsewhere then): the fetch fails, nothing of the page is published."""
        self.broken.append(f"{origin}: {reason}")

    async def raise_refused(self, source: str) -> None:
        """FetchError if a redirect hop or a connection broke a rule."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.broken:
            raise FetchError(source, str(self.url), f"refused: {self.broken[0]}")

    async def why_load_failed(self, source: str) -> None:
        """Before the page's HTTP error or network error is reported: FetchError if a rule
        was broken or the proxy could not reach the configured host (its 502, or a failed
        tunnel, would hide the reason)."""
        await self.raise_refused(source)
        if self._unreachable is not None:
            raise FetchError(source, str(self.url), f"page load failed: {self._unreachable}")

    async def route(self, route: Route) -> None:
        """Every request the page makes, before it is sent."""
        request = route.request
        if request.resource_type in self.block:
            self.blocked += 1
            await route.abort("blockedbyclient")
            return
        target = _url(request.url)
        if target is None:  # data:, blob:, about: stay in the browser
            await route.fallback()
            return
        reason = await self.refusal(target)
        if reason is None and _main_navigation(request) and not same_site(self.url, target):
            reason = f"the page navigated to another site, {target.host}"
        if reason is not None:
            self.stopped.append(f"{request.url}: {reason}")
            if _main_navigation(request):  # a 204 leaves the page where it was (an abort
                await route.fulfill(status=204)  # would show Chromium's error page instead)
            else:
                await route.abort("blockedbyclient")
        elif self.headers and same_origin(self.url, target):
            await route.fallback(headers={**request.headers, **self.headers})
        else:
            await route.fallback()

    def on_request(self, request: Request) -> None:
        """A redirect hop (which no route sees): judged in a task, awaited by `check`."""
        previous = request.redirected_from
        target = _url(request.url)
        if previous is None or target is None:
            return
        came = _url(previous.url)
        carried = self.headers and came is not None and same_origin(self.url, came)
        if carried and not same_origin(self.url, target):
            self.broken.append(
                f"{previous.url} redirected to {target.host}, another origin, which got "
                "the source's headers"
            )
        task = asyncio.get_running_loop().create_task(self._judge_hop(request.url, target))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _judge_hop(self, url: str, target: httpx.URL) -> None:
        reason = await self.refusal(target)
        if reason is not None:
            self.broken.append(f"{url}: {reason}")

    async def check(self, source: str, page_url: str) -> None:
        """FetchError if a redirect hop broke a rule or the page is not the configured one
        (or a same-site redirect of it)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.stopped:
            log.warning(
                "page requests refused",
                extra={"source": source, "count": len(self.stopped), "first": self.stopped[0]},
            )
        await self.raise_refused(source)
        final = _url(page_url)
        if final is None or not same_site(self.url, final):
            raise FetchError(source, str(self.url), f"refused: the page ended on {page_url}")

    async def refusal(self, target: httpx.URL) -> str | None:
        """Why a request to `target` is refused, or None (one lookup per host and port)."""
        key = (target.host, target.port)
        if key not in self._verdicts:
            self._verdicts[key] = await self._judge(target)
        return self._verdicts[key]

    async def _judge(self, target: httpx.URL) -> str | None:
        named = self.policy.host_refusal(target.host)
        if named is not None:
            return named
        for address in await self._addresses(target.host, target.port):
            reason = self.policy.refusal(address, after_public=self._after_public)
            if reason is not None:
                return reason
        return None

    async def _addresses(self, host: str, port: int | None) -> list[Address]:
        literal = parse_address(host)
        if literal is not None:
            return [literal]
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port or 443, type=socket.SOCK_STREAM
            )
        except OSError:
            return []  # the browser will fail to connect, and say so
        parsed = (parse_address(str(info[4][0])) for info in found)
        return [address for address in parsed if address is not None]


def _url(text: str) -> httpx.URL | None:
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        return None
    return url if url.scheme in ("http", "https") and url.host else None


def _main_navigation(request: Request) -> bool:
    try:
        return request.is_navigation_request() and request.frame.parent_frame is None
    except Exception:  # a service worker's request has no frame
        return False
