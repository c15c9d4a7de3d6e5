"""One page in the browser: a fresh context (headers, cookies, blocked resources), the
navigation, the wait for the items, scrolling, and the DOM read back as a `Page`;
`RenderInfo` says how it went (for `preview`). The pool (browser.py) runs the browser."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from feedbridge.config.models import HtmlConfig
from feedbridge.core.errors import FetchError
from feedbridge.core.models import Page
from feedbridge.fetch.addresses import AddressPolicy
from feedbridge.fetch.guard import PageGuard
from feedbridge.fetch.http import retry_after_seconds

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext
    from playwright.async_api import Page as BrowserPage

SCROLL_SETTLE = 3.0  # seconds without new items after a scroll: the list has ended
_COUNT = "s => document.querySelectorAll(s).length"
_GREW = "([s, n]) => document.querySelectorAll(s).length > n"


@dataclass(frozen=True, slots=True)
class PageOptions:
    """What one source asks of the page: what to wait for, scrolling, headers, blocking."""

    item: str = "*"  # the item selector: scrolling goes on while their number grows
    wait_for: str | None = None
    wait: float = 15.0
    scroll: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    block: frozenset[str] = frozenset({"image", "font", "media"})
    typed: bool = False  # the URL was typed into the web page: public addresses only

    @classmethod
    def from_config(cls, config: HtmlConfig) -> PageOptions:
        """An html source's browser keys (`wait_for`, `scroll`, ...) and its headers."""
        return cls(
            item=config.item,
            wait_for=config.wait_for or config.item,
            wait=config.wait.total_seconds(),
            scroll=config.scroll,
            headers=dict(config.headers),
            cookies=dict(config.cookies),
            block=frozenset(config.block),
            typed=config.typed,
        )


@dataclass(slots=True)
class RenderInfo:
    """How a page was loaded, for `preview`."""

    browser: str = ""
    status: int = 0
    seconds: float = 0.0  # from navigation to the DOM read
    waited_for: str | None = None
    appeared_after: float | None = None
    scrolls: int = 0
    guard: PageGuard | None = None  # the page's requests: blocked, stopped

    @property
    def blocked(self) -> int:
        """Requests not sent: resource types the source blocks, and what the policy stopped."""
        return (self.guard.blocked + len(self.guard.stopped)) if self.guard else 0

    def describe(self) -> str:
        waited = (
            f'waited for "{self.waited_for}": there after {self.appeared_after:.2f} s'
            if self.waited_for and self.appeared_after is not None
            else "waited for nothing"
        )
        scrolled = f", scrolled {self.scrolls} times" if self.scrolls else ""
        return (
            f"browser: {self.browser}; page ready in {self.seconds:.2f} s (HTTP {self.status}); "
            f"{waited}{scrolled}; {self.blocked} requests blocked"
        )


async def start_guard(
    source: str, url: str, options: PageOptions, info: RenderInfo, policy: AddressPolicy
) -> PageGuard:
    """The rules of one fetch (the address policy, the source's headers to its own origin
    only, its resource types blocked), the configured URL judged (FetchError if refused)."""
    headers = {k: v for k, v in options.headers.items() if k.lower() != "user-agent"}
    guard = PageGuard(url, policy.for_typed() if options.typed else policy, headers, options.block)
    await guard.start(source)
    info.guard = guard
    return guard


async def open_context(
    browser: Browser,
    url: str,
    options: PageOptions,
    guard: PageGuard,
    user_agent: str | None,
    proxy: str | None,
) -> BrowserContext:
    """A fresh context for one fetch: every request through the guard's route, every
    connection through `proxy` (the guard's listener, loopback included) when there is one,
    its cookies for the configured URL's host; `user_agent` unless the source's headers set
    one."""
    agent = next((v for k, v in options.headers.items() if k.lower() == "user-agent"), None)
    context = await browser.new_context(
        user_agent=agent or user_agent,
        service_workers="block",
        # "<-loopback>": Chromium would connect to localhost and 127.x itself otherwise
        proxy={"server": proxy, "bypass": "<-loopback>"} if proxy else None,
    )
    if options.cookies:  # host-only cookies: the browser sends them to that host alone
        await context.add_cookies(
            [{"name": k, "value": v, "url": url} for k, v in options.cookies.items()]
        )
    await context.route("**/*", guard.route)
    context.on("request", guard.on_request)
    return context


async def load_page(
    context: BrowserContext,
    source: str,
    url: str,
    options: PageOptions,
    info: RenderInfo,
    *,
    deadline: float,
    max_body: int,
) -> Page:
    """Open `url`, wait for `wait_for`, scroll as asked, and read the DOM (at most
    `max_body` bytes). Raises FetchError; the caller bounds it all by `deadline` seconds."""
    page = await context.new_page()
    page.set_default_timeout(deadline * 1000 + 5000)  # no limit of its own: asyncio's rules
    started = time.monotonic()
    info.status = await _open(page, source, url, info.guard)
    if options.wait_for:
        await _wait_for(page, source, options, info)
        info.appeared_after = time.monotonic() - started
    await _parsed(page, options.wait)
    await _scroll(page, options, info)
    body = (await page.content()).encode("utf-8")
    info.seconds = time.monotonic() - started
    if info.guard is not None:
        await info.guard.check(source, page.url)
    if len(body) > max_body:
        raise FetchError(source, page.url, f"page of {len(body)} bytes exceeds {max_body}")
    return Page(
        url=page.url,
        status=info.status,
        body=body,
        headers={"content-type": "text/html; charset=utf-8"},
        encoding="utf-8",
    )


async def _open(page: BrowserPage, source: str, url: str, guard: PageGuard | None) -> int:
    """Navigate to `url` (until the DOM is parsed); its HTTP status, or FetchError from 400."""
    # "commit", not "domcontentloaded": a page whose inline script navigates away (stopped
    # by the guard) never reaches DOMContentLoaded in Playwright's eyes; `_parsed` waits
    response = await page.goto(url, wait_until="commit")
    status = response.status if response is not None else 200
    if status >= 400:
        if guard is not None:  # a 403 or 502 of the proxy: it says why
            await guard.why_load_failed(source)
        head = await response.all_headers() if response is not None else {}
        raise FetchError(
            source,
            page.url,
            f"HTTP {status} {response.status_text if response else ''}".strip(),
            status=status,
            retry_after=retry_after_seconds(head),
        )
    return status


async def _parsed(page: BrowserPage, wait: float) -> None:
    """Wait for the whole document to be parsed, at most `wait` seconds (then read it as
    it is: a page that tried to navigate away during its load never says it is parsed)."""
    from playwright.async_api import TimeoutError as WaitTimeout

    with contextlib.suppress(WaitTimeout):
        await page.wait_for_load_state("domcontentloaded", timeout=wait * 1000)


async def _wait_for(page: BrowserPage, source: str, options: PageOptions, info: RenderInfo) -> None:
    """Wait until `wait_for` is in the DOM, at most `wait` seconds."""
    from playwright.async_api import TimeoutError as WaitTimeout

    assert options.wait_for is not None
    info.waited_for = options.wait_for
    try:
        await page.wait_for_selector(
            options.wait_for, state="attached", timeout=options.wait * 1000
        )
    except WaitTimeout:
        raise FetchError(
            source,
            page.url,
            f'waited {options.wait:g}s for "{options.wait_for}" (wait_for); it never appeared',
        ) from None


async def _scroll(page: BrowserPage, options: PageOptions, info: RenderInfo) -> None:
    """Scroll to the bottom up to `scroll` times, while each scroll brings more items."""
    from playwright.async_api import TimeoutError as WaitTimeout

    settle = min(options.wait, SCROLL_SETTLE) * 1000
    for _ in range(options.scroll):
        count = await page.evaluate(_COUNT, options.item)
        await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        try:  # more items, or the list has ended
            await page.wait_for_function(_GREW, arg=[options.item, count], timeout=settle)
        except WaitTimeout:
            break
        info.scrolls += 1
