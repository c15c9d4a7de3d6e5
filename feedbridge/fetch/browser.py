"""The browser fetcher: pages built by JavaScript, loaded in headless Chromium via Playwright.

One warm browser per process (a local Chromium we start, or a remote one over CDP), a
fresh context per fetch, at most `max_pages` pages at once, the http fetcher's deadline
and body cap. Playwright is the optional extra `feedbridge[browser]`; it drives the
system Chromium and never downloads one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from feedbridge.config.models import Config, HtmlConfig
from feedbridge.core.errors import FetchError
from feedbridge.core.models import Page
from feedbridge.fetch.chromium import (
    BrowserUnavailable,
    LocalChromium,
    describe_browser,
    with_address,
)
from feedbridge.fetch.http import retry_after_seconds

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright, Route

__all__ = ["BrowserPool", "BrowserSettings", "BrowserUnavailable", "describe_browser"]

log = logging.getLogger("feedbridge.browser")


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    executable: str | None = None
    cdp_url: str | None = None
    max_pages: int = 2
    timeout: float = 30.0  # the http fetcher's deadline, per page
    max_body: int = 10 * 1024 * 1024  # the http fetcher's cap, on the rendered DOM
    launch_timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> BrowserSettings:
        """`[browser]`, with `[http]`'s deadline and body cap."""
        b, h = config.browser, config.http
        return cls(
            executable=b.executable,
            cdp_url=b.cdp_url,
            max_pages=b.max_pages,
            timeout=h.timeout.total_seconds(),
            max_body=h.max_body,
        )


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
    blocked: int = 0

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


class BrowserPool:
    """The process's one browser, started on first use and restarted when it crashes or hangs."""

    def __init__(self, settings: BrowserSettings | None = None) -> None:
        self.settings = settings or BrowserSettings()
        self._pages = asyncio.Semaphore(self.settings.max_pages)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._local: LocalChromium | None = None
        self._user_agent: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.restarts = 0

    async def __aenter__(self) -> BrowserPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def fetcher(self, source: str, config: HtmlConfig) -> BrowserFetcher:
        """A fetcher for one html source, with its page options."""
        return BrowserFetcher(self, source, PageOptions.from_config(config))

    @property
    def pid(self) -> int | None:
        """The local Chromium's process (and process group) id, None over CDP or not started."""
        return self._local.process.pid if self._local else None

    async def _ensure(self) -> Browser:
        async with self._lock:
            if self._closed:
                raise BrowserUnavailable("shutting down")
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                self.restarts += 1
                log.warning("browser gone, starting a new one", extra={"restarts": self.restarts})
                await self._drop()
            try:
                async with asyncio.timeout(self.settings.launch_timeout):
                    self._browser = await self._start()
            except TimeoutError:
                await self._drop()
                raise BrowserUnavailable(
                    f"browser not ready within {self.settings.launch_timeout:g}s"
                ) from None
            except BaseException:
                await self._drop()
                raise
            return self._browser

    async def _start(self) -> Browser:
        try:
            from playwright.async_api import Error, async_playwright
        except ImportError:
            raise BrowserUnavailable(
                "Playwright is not installed: pip install 'feedbridge[browser]'"
            ) from None
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        endpoint = self.settings.cdp_url
        if endpoint is None:
            self._local = await LocalChromium.start(self.settings.executable)
            endpoint = await self._local.devtools_url()
        else:
            endpoint = await asyncio.to_thread(with_address, endpoint)
        try:
            browser = await self._playwright.chromium.connect_over_cdp(endpoint)
        except Error as exc:
            said = _first_line(exc.message)
            raise BrowserUnavailable(f"cannot connect to {endpoint}: {said}") from None
        context = await browser.new_context()
        try:  # headless Chromium says "HeadlessChrome", which many sites turn away
            page = await context.new_page()
            agent = str(await page.evaluate("navigator.userAgent"))
            self._user_agent = agent.replace("HeadlessChrome", "Chrome")
        finally:
            await context.close()
        log.info("browser ready", extra={"browser": browser.version, "endpoint": endpoint})
        return browser

    async def _drop(self) -> None:
        """Forget the browser: disconnect, and kill a local one with its process group."""
        browser, self._browser = self._browser, None
        local, self._local = self._local, None
        if local is not None:
            local.kill()  # first, so that a hung browser cannot hold the disconnect
        if browser is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await browser.close()
        if local is not None:
            await local.close()

    async def _restart_hung(self, browser: Browser) -> None:
        async with self._lock:
            if self._browser is not browser:  # another fetch has replaced it already
                return
            self.restarts += 1
            log.warning("browser hung, killing it", extra={"restarts": self.restarts})
            await self._drop()

    async def aclose(self) -> None:
        """Cancel fetches in progress, close the browser, kill its process group. Idempotent."""
        self._closed = True
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await self._drop()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await playwright.stop()

    async def render(self, source: str, url: str, options: PageOptions) -> tuple[Page, RenderInfo]:
        """Load `url`, wait and scroll as asked, and return the DOM as a Page. Raises FetchError."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            async with self._pages:
                try:
                    browser = await self._ensure()
                except BrowserUnavailable as exc:
                    raise FetchError(source, url, f"no browser: {exc}") from None
                return await self._render(browser, source, url, options)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _render(
        self, browser: Browser, source: str, url: str, options: PageOptions
    ) -> tuple[Page, RenderInfo]:
        from playwright.async_api import Error

        seconds = self.settings.timeout
        info = RenderInfo(browser=f"Chromium {browser.version}")
        context: BrowserContext | None = None
        try:
            async with asyncio.timeout(seconds):
                context = await self._context(browser, url, options, info)
                return await self._load(context, source, url, options, info)
        except TimeoutError:
            # no context within the deadline, or one that will not close: the browser hangs
            hung = context is None or not await _closed(context)
            context = None
            if hung:
                await self._restart_hung(browser)
            raise FetchError(source, url, f"no complete page within {seconds:g}s") from None
        except Error as exc:
            if not browser.is_connected():
                message = "the browser crashed; it restarts for the next fetch"
                raise FetchError(source, url, message) from None
            raise FetchError(source, url, _first_line(exc.message)) from None
        finally:
            if context is not None:
                await _closed(context)

    async def _context(
        self, browser: Browser, url: str, options: PageOptions, info: RenderInfo
    ) -> BrowserContext:
        headers = {k: v for k, v in options.headers.items() if k.lower() != "user-agent"}
        agent = next((v for k, v in options.headers.items() if k.lower() == "user-agent"), None)
        context = await browser.new_context(
            user_agent=agent or self._user_agent,
            extra_http_headers=headers,
            service_workers="block",
        )
        if options.cookies:
            await context.add_cookies(
                [{"name": k, "value": v, "url": url} for k, v in options.cookies.items()]
            )
        if options.block:

            async def route(route: Route) -> None:
                if route.request.resource_type in options.block:
                    info.blocked += 1
                    await route.abort("blockedbyclient")
                else:
                    await route.fallback()

            await context.route("**/*", route)
        return context

    async def _load(
        self,
        context: BrowserContext,
        source: str,
        url: str,
        options: PageOptions,
        info: RenderInfo,
    ) -> tuple[Page, RenderInfo]:
        from playwright.async_api import TimeoutError as WaitTimeout

        page = await context.new_page()
        no_limit = self.settings.timeout * 1000 + 5000  # asyncio's deadline rules
        page.set_default_timeout(no_limit)
        started = time.monotonic()
        response = await page.goto(url, wait_until="domcontentloaded")
        status = response.status if response is not None else 200
        info.status = status
        if status >= 400:
            head = await response.all_headers() if response is not None else {}
            raise FetchError(
                source,
                page.url,
                f"HTTP {status} {response.status_text if response else ''}".strip(),
                status=status,
                retry_after=retry_after_seconds(head),
            )
        if options.wait_for:
            info.waited_for = options.wait_for
            try:
                await page.wait_for_selector(
                    options.wait_for, state="attached", timeout=options.wait * 1000
                )
            except WaitTimeout:
                raise FetchError(
                    source,
                    page.url,
                    f'waited {options.wait:g}s for "{options.wait_for}" (wait_for); '
                    "it never appeared",
                ) from None
            info.appeared_after = time.monotonic() - started
        settle = min(options.wait, SCROLL_SETTLE) * 1000
        for _ in range(options.scroll):
            count = await page.evaluate(_COUNT, options.item)
            await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            try:  # more items, or the list has ended
                await page.wait_for_function(_GREW, arg=[options.item, count], timeout=settle)
            except WaitTimeout:
                break
            info.scrolls += 1
        body = (await page.content()).encode("utf-8")
        info.seconds = time.monotonic() - started
        if len(body) > self.settings.max_body:
            raise FetchError(
                source, page.url, f"page of {len(body)} bytes exceeds {self.settings.max_body}"
            )
        page_out = Page(
            url=page.url,
            status=status,
            body=body,
            headers={"content-type": "text/html; charset=utf-8"},
            encoding="utf-8",
        )
        return page_out, info


SCROLL_SETTLE = 3.0  # seconds without new items after a scroll: the list has ended
_COUNT = "s => document.querySelectorAll(s).length"
_GREW = "([s, n]) => document.querySelectorAll(s).length > n"


async def _closed(context: BrowserContext) -> bool:
    """Close a context within 5 s; False if the browser did not answer (it is hung)."""
    try:
        async with asyncio.timeout(5):
            await context.close()
    except TimeoutError:
        return False
    except Exception:  # a dead browser: the next fetch restarts it
        return True
    return True


def _first_line(message: str) -> str:
    """`Page.goto: net::ERR_CONNECTION_REFUSED at URL` (+ call log) → `page load failed: net::…`."""
    line = message.strip().splitlines()[0] if message.strip() else "browser error"
    line = re.sub(r" at \S+$", "", re.sub(r"^\w+\.\w+: ", "", line))
    return f"page load failed: {line}" if line.startswith("net::") else line


class BrowserFetcher:
    """A source's view of the browser: the same `get` as the http fetcher, on the rendered DOM."""

    def __init__(self, pool: BrowserPool, source: str, options: PageOptions) -> None:
        self._pool = pool
        self.source = source
        self.options = options
        self.last: RenderInfo | None = None

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
    ) -> Page:
        """Never a 304: a browser has no conditional GET for a page its scripts build."""
        target = str(httpx.URL(url, params=params)) if params else url
        page, self.last = await self._pool.render(self.source, target, self.options)
        return page
