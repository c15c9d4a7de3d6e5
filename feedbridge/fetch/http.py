"""The one HTTP client: total deadline, size cap, conditional GET, per-host limits, 429 handling."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx
import xxhash

from feedbridge.config.models import DEFAULT_USER_AGENT
from feedbridge.core.errors import FeedbridgeError, FetchError
from feedbridge.core.models import Page
from feedbridge.fetch.addresses import CURRENT_HOP, AddressPolicy, Hop
from feedbridge.fetch.transport import AFTER_PUBLIC, TYPED, Peers, PolicyTransport

log = logging.getLogger("feedbridge.http")

_RATE_STATUSES = (429, 503)
_REDIRECTS = (301, 302, 303, 307, 308)
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
    policy: AddressPolicy = field(default_factory=AddressPolicy)


MAX_RETRY_AFTER = 86400.0  # a server asking for longer is heard as asking for a day


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP-date) or a `RateLimit` reset, at
    most a day: `Retry-After: 99999999999` silenced a source until restart, and 400 digits
    made `inf`, which no store can write. A capped value is logged."""
    asked = _asked_wait(headers, time.time() if now is None else now)
    if asked is None:
        return None
    seconds, said = asked
    if seconds > MAX_RETRY_AFTER:
        log.warning(
            "retry-after capped",
            extra={"asked": said[:40], "seconds": int(MAX_RETRY_AFTER)},
        )
        return MAX_RETRY_AFTER
    return seconds


def _seconds(digits: str) -> float:
    """A header's digits as seconds; a number longer than any real wait stays finite."""
    return float(digits) if len(digits) <= 12 else float("1e12")


def _asked_wait(headers: Mapping[str, str], now: float) -> tuple[float, str] | None:
    """The wait a response asks for, uncapped, with the header text that asked."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return _seconds(value), value
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now), value
    for name in ("ratelimit", "ratelimit-reset", "x-ratelimit-reset"):
        value = headers.get(name)
        if not value:
            continue
        if value.strip().isdigit():
            seconds = _seconds(value.strip())
            if name == "x-ratelimit-reset" and seconds > 1e9:  # an epoch timestamp
                seconds = max(0.0, seconds - now)
            return seconds, value
        found = _RESET.search(value)
        if found:
            return _seconds(found.group(1)), value
    return None


class HttpClient:
    """Shared by all sources of one process; create once, close at exit."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._opened: httpx.AsyncClient | None = None
        self._global = asyncio.Semaphore(self.settings.concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.settings.per_host)
        )
        self._peers = Peers(self.settings.policy)

    @property
    def _client(self) -> httpx.AsyncClient:
        """Opened on the first request: aiohttp takes a tenth of a second to import, and a
        restart serves its stored feeds before any source is due."""
        if self._opened is None:
            limits = httpx.Limits(
                max_connections=self.settings.concurrency, max_keepalive_connections=20
            )
            self._opened = httpx.AsyncClient(
                transport=PolicyTransport(self.settings.policy, limits),
                timeout=httpx.Timeout(self.settings.timeout),
                follow_redirects=False,  # followed hop by hop: `_follow`
                # only what BoundedDecoder undoes, whatever codecs happen to be installed
                headers={
                    "User-Agent": self.settings.user_agent,
                    "Accept-Encoding": "gzip, deflate",
                },
            )
        return self._opened

    async def aclose(self) -> None:
        if self._opened is not None:
            await self._opened.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def fetcher(
        self,
        source: str,
        validators: MutableMapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        typed: bool = False,
    ) -> Fetcher:
        """A fetcher bound to one source, its stored validators and extra headers; `typed`: its
        URLs were typed into the web page (public addresses only, `AddressPolicy.typed`)."""
        validators = validators if validators is not None else {}
        return Fetcher(self, source, validators, headers or {}, typed=typed)

    async def request(
        self,
        source: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        credentials: Mapping[str, str] | None = None,
        typed: bool = False,
    ) -> Page:
        """GET `url` within one deadline, waiting out 429/503 Retry-After pauses that fit in it.

        `headers` go to every hop; `credentials` (a source's configured headers) only to
        `url`'s origin; `typed`: every hop may reach public addresses only. A longer pause is
        not slept through here: the FetchError carries it and the scheduler honours it, so a
        rate-limited source never holds a poll (or the `once` cycle) past the deadline.
        Raises FetchError.
        """
        get = _Get(source, url, params, headers or {}, credentials or {}, typed)
        loop = asyncio.get_running_loop()
        deadline: float | None = None  # set when the first attempt gets its connection slot
        for attempt in range(self.settings.rate_retries + 1):
            page, deadline = await self._request_once(get, deadline)
            if page.status not in _RATE_STATUSES:
                return page
            wait = retry_after_seconds(page.headers)
            if wait is None and page.status == 503:
                break
            wait = 1.0 if wait is None else wait
            fits = loop.time() + wait < deadline and wait <= self.settings.max_rate_wait
            if attempt == self.settings.rate_retries or not fits:
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

    async def _request_once(self, get: _Get, deadline: float | None) -> tuple[Page, float]:
        """One GET, bounded by `deadline` (loop time; None: the timeout from when a slot frees)."""
        host = urlsplit(get.url).netloc.rpartition("@")[2].lower()  # host:port: a limit per server
        seconds = self.settings.timeout
        async with self._global, self._hosts[host]:
            if deadline is None:  # time spent queueing for a slot is not the server's fault
                deadline = asyncio.get_running_loop().time() + seconds
            try:
                async with asyncio.timeout_at(deadline):
                    return await self._follow(get), deadline
            except TimeoutError:
                message = f"no complete response within {seconds:g}s"
                raise FetchError(get.source, get.url, message) from None

    async def _follow(self, get: _Get) -> Page:
        """Follow redirects hop by hop, each a plain GET (httpx resent the first request's
        empty body as `Transfer-Encoding: chunked` through the aiohttp transport). A hop
        that comes from a public address may not reach an internal one (the address policy,
        checked on each socket), and the source's headers go to its own origin only."""
        url, after_public = get.url, False
        origin = httpx.URL(get.url)
        for hops in range(self.settings.max_redirects + 1):
            hop = Hop()
            sent = dict(get.headers)
            if _same_origin(origin, httpx.URL(url)):
                sent.update(get.credentials)
            token = CURRENT_HOP.set(hop)
            try:
                refused = self.settings.policy.host_refusal(httpx.URL(url).host)
                if refused:
                    raise FetchError(get.source, url, f"refused: {refused}")
                async with self._client.stream(
                    "GET", url, params=get.params if hops == 0 else None, headers=sent,
                    extensions={AFTER_PUBLIC: after_public, TYPED: get.typed},
                ) as response:  # fmt: skip
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECTS or not location:
                        return await self._read(get.source, response)
                    after_public = self._peers.came_from_public(response.url, hop, after_public)
                    url = _redirect_target(get, response.url, location)
            except (httpx.HTTPError, OSError) as exc:
                raise FetchError(get.source, url, _describe(exc, hop)) from exc
            except _client_errors() as exc:
                raise FetchError(get.source, url, _describe(exc, hop)) from exc
            finally:
                CURRENT_HOP.reset(token)
        raise FetchError(get.source, get.url, "too many redirects")

    async def _read(self, source: str, response: httpx.Response) -> Page:
        """The final response as a Page: errors from 400, the body decoded within the cap."""
        cap = self.settings.max_body
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
        # Decoded here, not by httpx: its decoders inflate a whole chunk at once, so a
        # few KB of nested gzip became gigabytes (and seconds of blocked loop) before
        # any size check could run.
        decoder = BoundedDecoder(head.get("content-encoding", ""), cap)
        chunks: list[bytes] = []
        raw = 0
        try:
            async for chunk in response.aiter_raw():
                raw += len(chunk)
                if raw > cap:
                    raise BodyTooLarge
                chunks.append(decoder.feed(chunk))
        except BodyTooLarge:
            raise FetchError(source, final, f"body exceeds {cap} bytes") from None
        except zlib.error as exc:
            message = f"cannot decode the {decoder.encodings} body: {exc}"
            raise FetchError(source, final, message) from None
        return Page(
            url=final,
            status=status,
            body=b"".join(chunks),
            headers=head,
            encoding=response.charset_encoding,
            not_modified=status == 304,
        )


@dataclass(frozen=True, slots=True)
class _Get:
    """One GET as a source asked for it."""

    source: str
    url: str
    params: Mapping[str, str] | None
    headers: Mapping[str, str]
    credentials: Mapping[str, str]  # the source's configured headers: its own origin only
    typed: bool = False  # typed into the web page: public addresses only, every hop


def _client_errors() -> type[Exception]:
    from aiohttp import ClientError  # loaded with the client (`_client`)

    return ClientError


def _same_origin(origin: httpx.URL, url: httpx.URL) -> bool:
    """Same scheme, host and port; or the same host moved from http to https (default ports),
    where httpx keeps credentials too."""
    if url.host != origin.host:
        return False
    if url.scheme == origin.scheme:
        return url.port == origin.port
    upgrade = origin.scheme == "http" and url.scheme == "https"
    return upgrade and origin.port in (None, 80) and url.port in (None, 443)


def _redirect_target(get: _Get, current: httpx.URL, location: str) -> str:
    """The absolute http(s) URL a `Location` points to, else FetchError."""
    try:
        target = current.join(location.strip())
    except httpx.InvalidURL as exc:
        raise FetchError(get.source, str(current), f"redirect to an invalid URL: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        shown = location.strip()[:100]
        raise FetchError(get.source, str(current), f"redirect to a non-http(s) URL: {shown}")
    return str(target)


class BodyTooLarge(FeedbridgeError):
    """Raised by BoundedDecoder when the decoded body passes its cap (the fetch reports it
    as a FetchError)."""


class BoundedDecoder:
    """Undoes `Content-Encoding` (gzip, deflate; layered) chunk by chunk, never past `cap`.

    Every layer inflates with `max_length`, so memory and CPU stay within the cap
    however small the compressed body is. Unknown codings pass through, as in httpx.
    """

    def __init__(self, content_encoding: str, cap: int) -> None:
        names = [n.strip().lower() for n in content_encoding.split(",")]
        self.encodings = ", ".join(n for n in names if n in _CODINGS) or "identity"
        self.cap = cap
        # the last coding applied is the first to undo
        self._layers = [_Layer(_CODINGS[n]) for n in reversed(names) if n in _CODINGS]
        self._sizes = [0] * len(self._layers)
        self.size = 0

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of one more raw chunk; BodyTooLarge once any layer passes the cap."""
        for index, layer in enumerate(self._layers):
            data = layer.inflate(data, self.cap - self._sizes[index] + 1)
            self._sizes[index] += len(data)
            if self._sizes[index] > self.cap:
                raise BodyTooLarge
        self.size += len(data)
        if self.size > self.cap:
            raise BodyTooLarge
        return data


_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class _Layer:
    """One gzip stream (members concatenated) or deflate stream (zlib-wrapped or raw)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(self._wbits)
        self._members = 1
        self._started = False
        self._done = False  # bytes after the last stream are ignored, as httpx does

    def inflate(self, data: bytes, limit: int) -> bytes:
        """At most `limit` bytes of output (the caller stops at the limit, so none is kept)."""
        out = bytearray()
        while data and not self._done and len(out) < limit:
            if self._inflater.eof:
                data = data.lstrip(b"\0")  # padding between gzip members
                if self.coding != "gzip" or not data:
                    self._done = self.coding != "gzip"
                    break
                self._inflater = zlib.decompressobj(self._wbits)
                self._members += 1
            try:
                out += self._inflater.decompress(data, limit - len(out))
            except zlib.error:
                if self.coding == "deflate" and not self._started:
                    self._wbits = -zlib.MAX_WBITS  # raw deflate, as some servers send
                    self._inflater = zlib.decompressobj(self._wbits)
                    self._started = True
                    continue
                if self._members > 1:
                    self._done = True  # junk after a complete gzip member
                    break
                raise
            self._started = True
            data = self._inflater.unconsumed_tail or self._inflater.unused_data
        return bytes(out)


def _describe(exc: BaseException, hop: Hop | None = None) -> str:
    """A short cause; the aiohttp transport maps refused connections to ConnectTimeout. A
    connection the address policy refused says so first."""
    import aiohttp

    if hop is not None and hop.refused:
        return f"refused: {hop.refused[0]}"
    cause = exc.__cause__ or exc
    if isinstance(cause, aiohttp.ClientConnectorError | ConnectionError):
        return f"connection failed: {cause}"
    if isinstance(cause, TimeoutError | aiohttp.ServerTimeoutError | httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"request failed: {cause or type(cause).__name__}"


class Fetcher:
    """A source's view of the client: sends its headers, keeps its ETag/Last-Modified and a
    digest of the last body, and reports an unchanged body as not modified."""

    def __init__(
        self,
        client: HttpClient,
        source: str,
        validators: MutableMapping[str, Any],
        headers: Mapping[str, str],
        *,
        typed: bool = False,
    ) -> None:
        self._client = client
        self.source = source
        self.validators = validators
        self._headers = dict(headers)
        self.typed = typed

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
        validators: MutableMapping[str, Any] | None = None,
    ) -> Page:
        """GET `url`; conditional on the source's stored validators for it, or on the caller's
        own `validators` (replaced in place by the response's: a URL the source's state
        would not keep, e.g. a followed paper's repos, kept as long as the caller keeps it)."""
        key = str(httpx.URL(url, params=params)) if params else url
        headers: dict[str, str] = {}
        if accept:
            headers["Accept"] = accept
        own = validators is None
        stored = dict(self.validators.get(key) or {}) if validators is None else dict(validators)
        if conditional or not own:
            if stored.get("etag"):
                headers["If-None-Match"] = stored["etag"]
            if stored.get("last_modified"):
                headers["If-Modified-Since"] = stored["last_modified"]
        page = await self._client.request(
            self.source, url, params=params, headers=headers, credentials=self._headers,
            typed=self.typed,
        )  # fmt: skip
        if page.not_modified or (own and not conditional):
            # kept only for conditional requests: the URLs a source asks once (a papers-day,
            # a paper's repos) would pile up in its stored state, poll after poll
            return page
        # A body byte-identical to the last one is as good as a 304 (servers without
        # validators, or whose validators change on every response): nothing to parse.
        digest = xxhash.xxh3_128_hexdigest(page.body)  # 20x sha256's speed; no adversary here
        fresh = {
            "etag": page.headers.get("etag"),
            "last_modified": page.headers.get("last-modified"),
            "digest": digest,
        }
        if validators is None:
            self.validators[key] = fresh
        else:
            validators.clear()
            validators.update(fresh)
        if stored.get("digest") == digest:
            return replace(page, not_modified=True)
        return page
