"""The browser's proxy (fetch/proxy.py): every connection a page makes is judged on the
address it goes to, so a name that resolves to a public address for the guard and to an
internal one when Chromium connects (DNS rebinding) reaches nothing.

As in test_browser_policy.py, 127.0.0.2 plays the public site and 127.0.0.1 the internal
service. Rebinding is played by the event loop's resolver: `rebind.test` answers 127.0.0.2
the first time it is asked (the guard) and 127.0.0.1 after. Chromium is launched mapping
`rebind.test` to 127.0.0.1 too (`--host-resolver-rules`), so that a browser connecting by
itself, as it did before the proxy, would reach the internal server.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.config import adhoc_source_config
from feedbridge.core.errors import FetchError
from feedbridge.fetch import chromium
from feedbridge.fetch.addresses import Address, AddressPolicy
from feedbridge.fetch.browser import BrowserPool, BrowserSettings
from feedbridge.fetch.proxy import BrowserProxy, ProxyLimits
from feedbridge.sources import build_source
from tests.tools import require_tool

POLICY = AddressPolicy(internal=(ip_network("127.0.0.1/32"),))
INTERNAL_ITEMS = '<ul><li class="post"><a href="/secret">internal admin item</a></li></ul>'
LOUD = "127.0.0.1 is a loopback address, reached from a public one"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[BrowserPool]:
    require_tool("chromium", "chromium-headless-shell", package="chromium")
    with pytest.MonkeyPatch.context() as patch:
        rules = "--host-resolver-rules=MAP rebind.test 127.0.0.1"
        patch.setattr(chromium, "CHROMIUM_FLAGS", (*chromium.CHROMIUM_FLAGS, rules))
        async with BrowserPool(BrowserSettings(timeout=30, max_pages=2, policy=POLICY)) as shared:
            yield shared


@pytest.fixture
def internal(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/admin").respond_with_data(
        INTERNAL_ITEMS, content_type="text/html", headers={"Access-Control-Allow-Origin": "*"}
    )
    return httpserver


class Rebinding:
    """The running loop's resolver, rebinding `rebind.test`: `public` answers of 127.0.0.2
    (what the guard asks), then 127.0.0.1; `answers` are those it gave, in order."""

    def __init__(self, public: int) -> None:
        self.public = public
        self.answers: list[str] = []

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "gone.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host != "rebind.test":
            return await self.real(host, port, *args, **kwargs)
        address = "127.0.0.2" if len(self.answers) < self.public else "127.0.0.1"
        self.answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]


@pytest_asyncio.fixture(loop_scope="module")
async def rebinding(monkeypatch: pytest.MonkeyPatch) -> Rebinding:
    loop = asyncio.get_running_loop()
    fake = Rebinding(public=1)
    fake.real = loop.getaddrinfo  # type: ignore[attr-defined]
    monkeypatch.setattr(loop, "getaddrinfo", fake.getaddrinfo)
    return fake


def source(url: str, **extra: object) -> Any:
    table = {"name": "page", "kind": "html", "url": url, "item": "li.post", "title": "a",
             "link": "a@href", "fetch": "browser", "wait": "3s", **extra}  # fmt: skip
    return build_source(adhoc_source_config(table))


def page(server: HTTPServer, path: str, body: str) -> None:
    server.expect_request(path).respond_with_data(body, content_type="text/html")


# --- in the browser ----------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_a_name_that_rebinds_to_an_internal_address_is_refused_where_it_connects(
    pool: BrowserPool, public: HTTPServer, internal: HTTPServer, rebinding: Rebinding
) -> None:
    """The guard is told rebind.test is public and lets the page's fetch pass; the proxy
    is told 127.0.0.1 and refuses it: the internal server sees nothing, the fetch fails."""
    secret = f"http://rebind.test:{internal.port}/admin"
    page(public, "/news", f"""<ul id="l"><li class="post"><a href="/1">Public item</a></li></ul>
<script>fetch("{secret}").then(r => r.text())
  .then(t => document.getElementById("l").insertAdjacentHTML("beforeend", t));</script>""")
    src = source(public.url_for("/news"), wait_for="li.post")
    with pytest.raises(FetchError) as caught:
        await pool.fetcher("page", src.config).get(public.url_for("/news"))
    assert rebinding.answers == ["127.0.0.2", "127.0.0.1"]  # the guard's, then the proxy's
    assert f"refused: http://rebind.test:{internal.port}: {LOUD}" in caught.value.message
    assert internal.log == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_typed_url_whose_name_rebinds_to_an_internal_address_is_not_loaded(
    pool: BrowserPool, internal: HTTPServer, rebinding: Rebinding
) -> None:
    """A page-made source: the configured name itself resolves public for the checks (the
    guard's of the URL, and of the navigation's request) and internal for the connection;
    its first connection is refused too."""
    rebinding.public = 2
    url = f"http://rebind.test:{internal.port}/admin"
    src = source(url)
    src.config._typed = True  # as `Config.keep_page_names` sets it
    with pytest.raises(FetchError) as caught:
        await pool.fetcher("page", src.config).get(url)
    assert rebinding.answers == ["127.0.0.2", "127.0.0.2", "127.0.0.1"]
    assert "127.0.0.1 is a loopback address; a URL typed into the web page" in str(caught.value)
    assert internal.log == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_public_page_and_its_resources_load_through_the_proxy(
    pool: BrowserPool, public: HTTPServer
) -> None:
    """Page, script and data: each request reached the server through the proxy (one
    request per connection: `Connection: close`, which Chromium itself never sends)."""
    public.expect_request("/app.js").respond_with_data(
        """fetch("/items.html").then(r => r.text())
             .then(t => document.getElementById("l").innerHTML = t);""",
        content_type="text/javascript",
    )
    page(public, "/items.html", '<li class="post"><a href="/1">Scripted item</a></li>')
    page(public, "/news", '<ul id="l"></ul><script src="/app.js"></script>')
    src = source(public.url_for("/news"))
    got = await pool.fetcher("page", src.config).get(public.url_for("/news"))
    assert [e.title for e in src.extract(got)] == ["Scripted item"]
    seen = {r.path: r.headers for r, _ in public.log}
    assert {"/news", "/app.js", "/items.html"} <= set(seen)
    assert {seen[p].get("Connection") for p in ("/news", "/app.js", "/items.html")} == {"close"}
    assert not any("Proxy-Connection" in h for h in seen.values())


@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_the_proxy_cannot_reach_says_why(
    pool: BrowserPool, rebinding: Rebinding
) -> None:
    """Not the proxy's 502 or Chromium's "tunnel failed": the name that does not resolve,
    the port that refuses."""
    src = source("http://gone.test/news")
    with pytest.raises(FetchError) as caught:
        await pool.fetcher("page", src.config).get("http://gone.test/news")
    assert "page load failed: cannot resolve gone.test: " in caught.value.message
    assert caught.value.status is None
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.2", 0))
        port = closed.getsockname()[1]
    url = f"https://127.0.0.2:{port}/news"
    with pytest.raises(FetchError, match=f"page load failed: cannot connect to 127.0.0.2:{port}"):
        await pool.fetcher("page", source(url).config).get(url)


# --- the proxy alone ---------------------------------------------------------------------------


class Rules:
    """A context's rules as the guard gives them: one rule for every connection."""

    def __init__(self, policy: AddressPolicy = POLICY, after_public: bool = True) -> None:
        self.policy = policy
        self.after_public = after_public
        self.refused: list[str] = []

    def after_public_for(self, host: str, port: int) -> bool:
        return self.after_public

    def refused_connection(self, origin: str, reason: str) -> None:
        self.refused.append(f"{origin}: {reason}")


@pytest_asyncio.fixture
async def proxy() -> AsyncIterator[BrowserProxy]:
    proxy = BrowserProxy(ProxyLimits(head_timeout=1.0, max_connections=4))
    yield proxy
    await proxy.aclose()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.2, made by openssl."""
    openssl = require_tool("openssl", package="openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.2",
         "-addext", "subjectAltName=IP:127.0.0.2,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def tls_server(host: str, tls: tuple[Path, Path]) -> HTTPServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, tls))
    server = HTTPServer(host=host, port=0, ssl_context=context)
    server.start()
    return server


@pytest.mark.asyncio
async def test_connect_tunnels_https_to_an_allowed_address(
    proxy: BrowserProxy, tls: tuple[Path, Path]
) -> None:
    server = tls_server("127.0.0.2", tls)
    try:
        server.expect_request("/feed").respond_with_data("over tls")
        listener = await proxy.listen(Rules())
        verify = ssl.create_default_context(cafile=str(tls[0]))
        async with httpx.AsyncClient(proxy=listener.url, verify=verify) as client:
            reply = await client.get(server.url_for("/feed"))
        assert (reply.status_code, reply.text) == (200, "over tls")
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_connect_to_a_refused_address_is_403_with_the_policys_words(
    proxy: BrowserProxy, tls: tuple[Path, Path]
) -> None:
    server = tls_server("127.0.0.1", tls)
    try:
        rules = Rules()
        listener = await proxy.listen(rules)
        verify = ssl.create_default_context(cafile=str(tls[0]))
        async with httpx.AsyncClient(proxy=listener.url, verify=verify) as client:
            with pytest.raises(httpx.ProxyError, match="403"):
                await client.get(server.url_for("/feed"))
        hint = "(set [http] allow_private_redirects = true to allow it)"
        assert rules.refused == [f"https://127.0.0.1:{server.port}: {LOUD} {hint}"]
        assert server.log == []
        # the page the config chose (internal, not after a public one): allowed
        server.expect_request("/feed").respond_with_data("intranet")
        chosen = await proxy.listen(Rules(after_public=False))
        async with httpx.AsyncClient(proxy=chosen.url, verify=verify) as client:
            assert (await client.get(server.url_for("/feed"))).text == "intranet"
    finally:
        server.stop()


async def raw(listener_url: str, data: bytes, *, wait: float = 20) -> bytes:
    """What the proxy answers to `data` sent as is, until it closes (at most `wait` s)."""
    url = httpx.URL(listener_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(data)
        async with asyncio.timeout(wait):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_every_address_of_a_name_is_judged_and_metadata_names_are_not_looked_up() -> None:
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[Address]:
        asked.append(host)
        return [ip_address("127.0.0.2"), ip_address("127.0.0.1")]  # one public, one not

    proxy = BrowserProxy(resolver=resolver)
    try:
        listener = await proxy.listen(Rules())
        answer = await raw(listener.url, b"CONNECT mixed.test:443 HTTP/1.1\r\n"
                                         b"Host: mixed.test:443\r\n\r\n")  # fmt: skip
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert f"refused: {LOUD}".encode() in answer
        answer = await raw(listener.url, b"GET http://metadata.google.internal/computeMetadata"
                                         b" HTTP/1.1\r\nHost: metadata.google.internal\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert b"metadata.google.internal is a cloud metadata service" in answer
        assert asked == ["mixed.test"]
    finally:
        await proxy.aclose()


@pytest.mark.asyncio
async def test_plain_http_goes_on_in_origin_form_one_request_per_connection(
    proxy: BrowserProxy, public: HTTPServer
) -> None:
    def echo(request: Request) -> Response:
        return Response(f"{request.method} {request.full_path} {request.get_data()!r}",
                        headers={"Connection": "keep-alive", "X-Site": "yes"})  # fmt: skip

    public.expect_request("/post").respond_with_handler(echo)
    listener = await proxy.listen(Rules())
    async with httpx.AsyncClient(proxy=listener.url) as client:
        reply = await client.post(public.url_for("/post?token=s3cret"), content=b"a=1",
                                  headers={"Proxy-Connection": "keep-alive"})  # fmt: skip
        chunked = await client.post(public.url_for("/post"), content=_parts())
    assert reply.text == "POST /post?token=s3cret b'a=1'"
    assert (reply.headers["connection"], reply.headers["x-site"]) == ("close", "yes")
    assert chunked.text == "POST /post? b'onetwo'"
    sent = public.log[0][0]
    assert sent.headers.get("Connection") == "close"
    assert sent.headers.get("Proxy-Connection") is None


async def _parts() -> AsyncIterator[bytes]:
    yield b"one"
    yield b"two"


@pytest.mark.asyncio
async def test_a_head_too_large_or_too_slow_is_answered_and_closed(proxy: BrowserProxy) -> None:
    listener = await proxy.listen(Rules())
    huge = b"GET http://127.0.0.2/ HTTP/1.1\r\nHost: 127.0.0.2\r\nX-Big: " + b"a" * 70_000
    huge += b"\r\n\r\n"
    assert (await raw(listener.url, huge)).startswith(b"HTTP/1.1 431 ")
    slow = await raw(listener.url, b"GET http://127.0.0.2/ HTTP/1.1\r\n")  # never ends its head
    assert slow.startswith(b"HTTP/1.1 408 ")
    assert b"no request head within 1s" in slow


@pytest.mark.asyncio
async def test_connections_past_the_limit_are_turned_away() -> None:
    """Four connections held (their lookups wait): the fifth is answered 503 at once;
    closing the listener ends the four."""
    waiting, release = asyncio.Event(), asyncio.Event()
    asked = 0

    async def slow(host: str, port: int) -> list[Address]:
        nonlocal asked
        asked += 1
        if asked == 4:
            waiting.set()
        await release.wait()
        return [ip_address("127.0.0.2")]

    proxy = BrowserProxy(ProxyLimits(max_connections=4), resolver=slow)
    listener = await proxy.listen(Rules())
    url = httpx.URL(listener.url)
    held = [await asyncio.open_connection(url.host, url.port) for _ in range(4)]
    try:
        for _, writer in held:
            writer.write(b"CONNECT slow.test:443 HTTP/1.1\r\nHost: slow.test:443\r\n\r\n")
        async with asyncio.timeout(20):
            await waiting.wait()
        answer = await raw(listener.url, b"CONNECT slow.test:443 HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"too many connections through the browser's proxy" in answer
        await listener.aclose()  # and the held connections with it
        assert proxy._open == 0
        for reader, _ in held:
            async with asyncio.timeout(20):
                assert await reader.read() == b""
    finally:
        for _, writer in held:
            writer.close()
        await proxy.aclose()
