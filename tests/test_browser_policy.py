"""A hostile page in the browser (issue 19, items 2, 3 and 7): it navigates itself to an
internal address, loads what it likes, and the browser that reads it must not be drivable.

As in test_address_policy.py, 127.0.0.2 plays the public site and 127.0.0.1 the internal
service (the policy is told 127.0.0.1/32 is internal). Chromium is Debian's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer

from feedbridge.config import adhoc_source_config
from feedbridge.core.errors import FetchError
from feedbridge.fetch.addresses import AddressPolicy
from feedbridge.fetch.browser import BrowserPool, BrowserSettings
from feedbridge.sources import build_source
from tests.tools import require_tool

POLICY = AddressPolicy(internal=(ip_network("127.0.0.1/32"),))
INTERNAL_ITEMS = '<ul><li class="post"><a href="/secret">internal admin item</a></li></ul>'


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[BrowserPool]:
    require_tool("chromium", "chromium-headless-shell", package="chromium")
    async with BrowserPool(BrowserSettings(timeout=30, max_pages=2, policy=POLICY)) as shared:
        yield shared


@pytest.fixture
def internal(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/admin").respond_with_data(
        INTERNAL_ITEMS, content_type="text/html", headers={"Access-Control-Allow-Origin": "*"}
    )
    return httpserver


def source(url: str, **extra: object) -> object:
    table = {"name": "page", "kind": "html", "url": url, "item": "li.post", "title": "a",
             "link": "a@href", "fetch": "browser", "wait": "3s", **extra}  # fmt: skip
    return build_source(adhoc_source_config(table))


async def fetch(pool: BrowserPool, url: str, **extra: object) -> list[str]:
    src = source(url, **extra)
    page = await pool.fetcher("page", src.config).get(url)  # type: ignore[attr-defined]
    return [e.title for e in src.extract(page)]  # type: ignore[attr-defined]


def page(server: HTTPServer, path: str, body: str) -> None:
    server.expect_request(path).respond_with_data(body, content_type="text/html")


# --- item 2: the page read is the configured one ----------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_that_navigates_itself_to_an_internal_address_stays_where_it_was(
    pool: BrowserPool, public: HTTPServer, internal: HTTPServer
) -> None:
    page(public, "/news", f"""<ul><li class="post"><a href="/1">Public item</a></li></ul>
<script>location.href = "{internal.url_for("/admin")}";</script>""")
    titles = await fetch(pool, public.url_for("/news"))
    assert titles == ["Public item"]
    assert internal.log == []  # the navigation was never sent


@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_that_fetches_an_internal_url_gets_nothing(
    pool: BrowserPool, public: HTTPServer, internal: HTTPServer
) -> None:
    page(public, "/news", f"""<ul id="l"><li class="post"><a href="/1">Public item</a></li></ul>
<script>fetch("{internal.url_for("/admin")}").then(r => r.text())
  .then(t => document.getElementById("l").insertAdjacentHTML("beforeend", t));</script>""")
    titles = await fetch(pool, public.url_for("/news"), wait_for="li.post")
    assert "internal admin item" not in titles
    assert internal.log == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_redirect_to_an_internal_address_publishes_nothing(
    pool: BrowserPool, public: HTTPServer, internal: HTTPServer
) -> None:
    public.expect_request("/news").respond_with_data(
        "", status=302, headers={"Location": internal.url_for("/admin")}
    )
    with pytest.raises(FetchError) as caught:
        await fetch(pool, public.url_for("/news"))
    assert "refused: " in caught.value.message
    assert "127.0.0.1 is a loopback address, reached from a public one" in caught.value.message


@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_that_navigates_to_another_site_is_stopped(
    pool: BrowserPool, public: HTTPServer
) -> None:
    page(public, "/news", """<ul><li class="post"><a href="/1">Public item</a></li></ul>
<script>location.href = "http://127.0.0.3:9/elsewhere";</script>""")
    assert await fetch(pool, public.url_for("/news")) == ["Public item"]


@pytest.mark.asyncio(loop_scope="module")
async def test_an_internal_page_the_config_names_is_read_with_its_internal_resources(
    pool: BrowserPool, httpserver: HTTPServer
) -> None:
    """The config's author chose it: an intranet page loads, and so does its own data."""
    page(httpserver, "/intranet", """<ul id="l"></ul><script>fetch("/items.html")
  .then(r => r.text()).then(t => document.getElementById("l").innerHTML = t);</script>""")
    page(httpserver, "/items.html", INTERNAL_ITEMS)
    assert await fetch(pool, httpserver.url_for("/intranet")) == ["internal admin item"]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_same_internal_page_typed_into_the_web_page_is_not_loaded(
    pool: BrowserPool, public: HTTPServer, httpserver: HTTPServer
) -> None:
    """A page-made source (`typed`, `[server] private_urls` off): its own URL on an internal
    address is refused before the browser sends anything; on a public one it is read, and
    the page's requests to an internal address are stopped."""
    page(httpserver, "/intranet", INTERNAL_ITEMS)
    src = source(httpserver.url_for("/intranet"))
    src.config._typed = True  # type: ignore[attr-defined]  # as `Config.keep_page_names` sets it
    with pytest.raises(FetchError) as caught:
        await pool.fetcher("page", src.config).get(httpserver.url_for("/intranet"))  # type: ignore[attr-defined]
    assert "127.0.0.1 is a loopback address; a URL typed into the web page" in str(caught.value)
    assert httpserver.log == []
    page(public, "/news", f"""<ul id="l"><li class="post"><a href="/1">Public item</a></li></ul>
<script>fetch("{httpserver.url_for("/intranet")}").then(r => r.text())
  .then(t => document.getElementById("l").insertAdjacentHTML("beforeend", t));</script>""")
    typed = source(public.url_for("/news"), wait_for="li.post")
    typed.config._typed = True  # type: ignore[attr-defined]
    got = await pool.fetcher("page", typed.config).get(public.url_for("/news"))  # type: ignore[attr-defined]
    assert [e.title for e in typed.extract(got)] == ["Public item"]  # type: ignore[attr-defined]
    assert httpserver.log == []


# --- item 3: the source's headers go to its own origin only ------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_configured_headers_and_cookies_reach_the_configured_origin_and_no_other(
    pool: BrowserPool, public: HTTPServer, httpserver: HTTPServer
) -> None:
    """The page loads a script from a third party (127.0.0.4, public here too); cookies are
    set for the configured host alone."""
    third = HTTPServer(host="127.0.0.4", port=0)
    third.start()
    try:
        third.expect_request("/lib.js").respond_with_data("window.x = 1;",
                                                           content_type="text/javascript")
        page(public, "/news", f"""<script src="{third.url_for("/lib.js")}"></script>
<ul><li class="post"><a href="/1">Public item</a></li></ul>""")
        headers = {"Authorization": "Bearer t-456", "X-Api-Key": "k-123"}
        cookies = {"session": "s-789"}
        titles = await fetch(pool, public.url_for("/news"), headers=headers, cookies=cookies)
        assert titles == ["Public item"]
        own = public.log[-1][0].headers
        assert (own.get("Authorization"), own.get("X-Api-Key")) == ("Bearer t-456", "k-123")
        assert own.get("Cookie") == "session=s-789"
        other = third.log[-1][0].headers
        assert other.get("Authorization") is None and other.get("X-Api-Key") is None
        assert other.get("Cookie") is None
    finally:
        third.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_redirect_off_the_origin_that_would_carry_the_headers_fails_the_fetch(
    pool: BrowserPool, public: HTTPServer
) -> None:
    third = HTTPServer(host="127.0.0.4", port=0)
    third.start()
    try:
        page(third, "/elsewhere", '<ul><li class="post"><a href="/1">Elsewhere</a></li></ul>')
        public.expect_request("/news").respond_with_data(
            "", status=302, headers={"Location": third.url_for("/elsewhere")}
        )
        with pytest.raises(FetchError, match="another origin, which got the source's headers"):
            await fetch(pool, public.url_for("/news"), headers={"X-Api-Key": "k-123"})
    finally:
        third.stop()


# --- item 7: no DevTools port ------------------------------------------------------------------


def _listening_inodes() -> set[str]:
    """Socket inodes of every listening TCP socket (IPv4 and IPv6) on this machine."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                found.add(fields[9])
    return found


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process ended meanwhile
        return found
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


@pytest.mark.asyncio(loop_scope="module")
async def test_the_local_browser_listens_on_no_port(pool: BrowserPool, public: HTTPServer) -> None:
    page(public, "/news", '<ul><li class="post"><a href="/1">Public item</a></li></ul>')
    assert await fetch(pool, public.url_for("/news")) == ["Public item"]
    assert pool.pid is not None
    _assert_no_port(pool.pid)


def _assert_no_port(leader: int) -> None:
    """Chromium was started with a pipe, and no process of its group listens on TCP."""
    group = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_group(int(p), leader)]
    assert leader in group
    args = Path(f"/proc/{leader}/cmdline").read_bytes().split(b"\0")
    assert b"--remote-debugging-pipe" in args
    assert not [a for a in args if a.startswith(b"--remote-debugging-port")]
    listening = _listening_inodes()
    assert [pid for pid in group if _socket_inodes(pid) & listening] == []


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False
