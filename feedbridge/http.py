"""The one HTTP client: total deadline, size cap, conditional GET, per-host limits, 429 handling."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from feedbridge.errors import FetchError
from feedbridge.models import Page

log = logging.getLogger("feedbridge.http")

DEFAULT_USER_AGENT = "feedbridge/0.1 (+https://github.com/feedbridge/feedbridge)"
_RATE_STATUSES = (429, 503)
_RESET = re.compile(r"(?:^|[;,\s])(?:t|reset)=(\d+)")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout: float = 30.0  # total deadline per request, seconds
    max_body: int = 10 * 1024 * 1024
    user_agent: str = DEFAULT_USER_AGENT
    per_host: int = 4
    concurrency: int = 50
    max_redirects: int = 5
    max_rate_wait: float = 120.0  # longest Retry-After we sleep through inside one poll
    rate_retries: int = 2


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP-date) or a `RateLimit` reset."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - (now if now is not None else time.time()))
    for name in ("ratelimit", "ratelimit-reset", "x-ratelimit-reset"):
        value = headers.get(name)
        if not value:
            continue
        if value.strip().isdigit():
            seconds = float(value.strip())
            if name == "x-ratelimit-reset" and seconds > 1e9:  # an epoch timestamp
                seconds = max(0.0, seconds - (now if now is not None else time.time()))
            return seconds
        found = _RESET.search(value)
        if found:
            return float(found.group(1))
    return None


class HttpClient:
    """Shared by all sources of one process; create once, close at exit."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        limits = httpx.Limits(
            max_connections=self.settings.concurrency, max_keepalive_connections=20
        )
        self._client = httpx.AsyncClient(
            transport=AiohttpTransport(limits=limits),
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=True,
            max_redirects=self.settings.max_redirects,
            headers={"User-Agent": self.settings.user_agent},
        )
        self._global = asyncio.Semaphore(self.settings.concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.settings.per_host)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def fetcher(
        self,
        source: str,
        validators: MutableMapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetcher:
        """A fetcher bound to one source, its stored validators and extra headers."""
        return Fetcher(self, source, validators if validators is not None else {}, headers or {})

    async def request(
        self,
        source: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """GET `url`, waiting out short 429/503 Retry-After pauses; raises FetchError."""
        for attempt in range(self.settings.rate_retries + 1):
            page = await self._request_once(source, url, params, headers or {})
            if page.status not in _RATE_STATUSES:
                return page
            wait = retry_after_seconds(page.headers)
            if wait is None and page.status == 503:
                break
            wait = 1.0 if wait is None else wait
            if attempt == self.settings.rate_retries or wait > self.settings.max_rate_wait:
                raise FetchError(
                    source,
                    page.url,
                    f"HTTP {page.status}, retry after {wait:.0f}s",
                    status=page.status,
                    retry_after=wait,
                )
            log.info(
                "rate limited, waiting",
                extra={"source": source, "url": page.url, "seconds": wait},
            )
            await asyncio.sleep(wait)
        raise FetchError(source, page.url, f"HTTP {page.status}", status=page.status)

    async def _request_once(
        self,
        source: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> Page:
        host = urlsplit(url).hostname or ""
        deadline = self.settings.timeout
        async with self._global, self._hosts[host]:
            try:
                async with asyncio.timeout(deadline):
                    return await self._stream(source, url, params, headers)
            except TimeoutError:
                raise FetchError(
                    source, url, f"no complete response within {deadline:g}s"
                ) from None
            except httpx.TooManyRedirects:
                raise FetchError(source, url, "too many redirects") from None
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
                raise FetchError(source, url, _describe(exc)) from exc

    async def _stream(
        self,
        source: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
    ) -> Page:
        cap = self.settings.max_body
        async with self._client.stream("GET", url, params=params, headers=headers) as response:
            final = str(response.url)
            status = response.status_code
            head = {k.lower(): v for k, v in response.headers.items()}
            if status >= 400 and status not in _RATE_STATUSES:
                raise FetchError(
                    source,
                    final,
                    f"HTTP {status} {response.reason_phrase}".strip(),
                    status=status,
                    retry_after=retry_after_seconds(head),
                )
            declared = head.get("content-length", "")
            if declared.isdigit() and int(declared) > cap and "content-encoding" not in head:
                raise FetchError(source, final, f"body of {declared} bytes exceeds {cap} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise FetchError(source, final, f"body exceeds {cap} bytes")
                chunks.append(chunk)
            return Page(
                url=final,
                status=status,
                body=b"".join(chunks),
                headers=head,
                encoding=response.charset_encoding,
                not_modified=status == 304,
            )


def _describe(exc: BaseException) -> str:
    """A short cause; the aiohttp transport maps refused connections to ConnectTimeout."""
    cause = exc.__cause__ or exc
    if isinstance(cause, aiohttp.ClientConnectorError | ConnectionError):
        return f"connection failed: {cause}"
    if isinstance(cause, TimeoutError | aiohttp.ServerTimeoutError | httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"request failed: {cause or type(cause).__name__}"


class Fetcher:
    """A source's view of the client: sends its headers and keeps its ETag/Last-Modified."""

    def __init__(
        self,
        client: HttpClient,
        source: str,
        validators: MutableMapping[str, Any],
        headers: Mapping[str, str],
    ) -> None:
        self._client = client
        self.source = source
        self.validators = validators
        self._headers = dict(headers)

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
    ) -> Page:
        key = str(httpx.URL(url, params=params)) if params else url
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        stored = self.validators.get(key) or {}
        if conditional:
            if stored.get("etag"):
                headers["If-None-Match"] = stored["etag"]
            if stored.get("last_modified"):
                headers["If-Modified-Since"] = stored["last_modified"]
        page = await self._client.request(self.source, url, params=params, headers=headers)
        if not page.not_modified:
            fresh = {
                "etag": page.headers.get("etag"),
                "last_modified": page.headers.get("last-modified"),
            }
            if fresh["etag"] or fresh["last_modified"]:
                self.validators[key] = fresh
            else:
                self.validators.pop(key, None)
        return page
