"""The browser fetcher: pages built by JavaScript, loaded in headless Chromium via Playwright.

One warm browser per process (a local Chromium we start, or a remote one over CDP),
restarted when it crashes or hangs; at most `max_pages` pages at once, each in a fresh
context (page.py) under the http fetcher's deadline and body cap. A local Chromium's
contexts connect through the pool's proxy (proxy.py), a listener per context, which checks
the address of each connection; a remote one (CDP) cannot reach a listener on this host's
loopback, and connects itself (the guard's check only). Playwright is the optional extra
`feedbridge[browser]`; it drives the system Chromium and never downloads one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from feedbridge.config.models import Config, HtmlConfig
from feedbridge.core.errors import FetchError
from feedbridge.core.models import Page
from feedbridge.fetch.addresses import AddressPolicy
from feedbridge.fetch.chromium import (
    BrowserUnavailable,
    LocalChromium,
    describe_browser,
    with_address,
)
from feedbridge.fetch.page import PageOptions, RenderInfo, load_page, open_context, start_guard
from feedbridge.fetch.proxy import BrowserProxy, ProxyListener

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright

__all__ = [
    "BrowserPool",
    "BrowserSettings",
    "BrowserUnavailable",
    "PageOptions",
    "RenderInfo",
    "describe_browser",
]

log = logging.getLogger("feedbridge.browser")


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    executable: str | None = None
    cdp_url: str | None = None
    max_pages: int = 2
    timeout: float = 30.0  # the http fetcher's deadline, per page
    max_body: int = 10 * 1024 * 1024  # the http fetcher's cap, on the rendered DOM
    launch_timeout: float = 30.0
    policy: AddressPolicy = field(default_factory=AddressPolicy)  # `[http]`'s, per request

    @classmethod
    def from_config(cls, config: Config) -> BrowserSettings:
        """`[browser]`, with `[http]`'s deadline, body cap and address policy."""
        b, h = config.browser, config.http
        return cls(
            executable=b.executable,
            cdp_url=b.cdp_url,
            max_pages=b.max_pages,
            timeout=h.timeout.total_seconds(),
            max_body=h.max_body,
            policy=AddressPolicy.build(h.allow_networks, h.allow_private_redirects),
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
        # the browser's way out, for a local Chromium (a remote one cannot reach it)
        self._proxy = BrowserProxy() if self.settings.cdp_url is None else None

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
        return self._local.pid if self._local else None

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
            self._local = await LocalChromium.launch(self._playwright, self.settings.executable)
            browser, endpoint = self._local.browser, "pipe"
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
        if self._proxy is not None:
            await self._proxy.aclose()
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
        listener: ProxyListener | None = None
        try:
            async with asyncio.timeout(seconds):
                guard = await start_guard(source, url, options, info, self.settings.policy)
                if self._proxy is not None:
                    listener = await self._proxy.listen(guard)
                context = await open_context(
                    browser, url, options, guard, self._user_agent,
                    proxy=listener.url if listener else None,
                )  # fmt: skip
                page = await load_page(
                    context, source, url, options, info,
                    deadline=seconds, max_body=self.settings.max_body,
                )  # fmt: skip
                return page, info
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
            if info.guard is not None:  # a tunnel the proxy refused or could not make: why
                await info.guard.why_load_failed(source)
            raise FetchError(source, url, _first_line(exc.message)) from None
        finally:
            if context is not None:
                await _closed(context)
            if listener is not None:
                await listener.aclose()


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
        validators: MutableMapping[str, Any] | None = None,
    ) -> Page:
        """Never a 304: a browser has no conditional GET for a page its scripts build."""
        target = str(httpx.URL(url, params=params)) if params else url
        page, self.last = await self._pool.render(self.source, target, self.options)
        return page
