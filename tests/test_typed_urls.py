"""URLs typed into the web page (issue 19 item 1, with the web page of issue 23): a page-made
source, and every page the editor fetches, reach public addresses only unless `[server]
private_urls`, and the rule holds at each socket, not only when the page first looked the
host up (a name that resolved to a public address then may resolve to 127.0.0.1 by the
time it is fetched: DNS rebinding). The web page's side is in test_web.py.

As in test_address_policy.py, the policy is told 127.0.0.1/32 is internal and 127.0.0.2
plays a public site.
"""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedbridge.app.runtime import build_sources, open_config_store, runtime
from feedbridge.config import load_config
from feedbridge.core.errors import FetchError
from feedbridge.fetch.addresses import AddressPolicy
from feedbridge.fetch.http import HttpClient, HttpSettings
from tests.live import Site, serve_site

INTERNAL = (ip_network("127.0.0.1/32"),)
POLICY = AddressPolicy(internal=INTERNAL)
TYPED_REFUSAL = (
    "refused: 127.0.0.1 is a loopback address; a URL typed into the web page may reach "
    "public addresses only (unless [server] private_urls = true)"
)


@pytest.fixture
def internal(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/admin").respond_with_data("internal admin page")
    return httpserver


def client(policy: AddressPolicy = POLICY) -> HttpClient:
    return HttpClient(HttpSettings(timeout=10, policy=policy))


# --- the fetcher ---------------------------------------------------------------------------


async def test_a_typed_url_reaches_no_internal_address_even_where_the_config_could(
    internal: HTTPServer,
) -> None:
    """The same client, the same URL: the config's own source reads the internal page, a typed
    one is refused at the socket (nothing sent), in either order, over kept-alive pools."""
    url = internal.url_for("/admin")
    async with client() as http:
        chosen = await http.fetcher("file-source").get(url)
        with pytest.raises(FetchError) as caught:
            await http.fetcher("page-source", typed=True).get(url)
        again = await http.fetcher("file-source").get(url, conditional=False)
    assert chosen.body == again.body == b"internal admin page"
    assert caught.value.message == TYPED_REFUSAL
    assert len(internal.log) == 2  # the typed request never reached it


async def test_a_typed_url_on_a_public_address_is_fetched_and_its_redirects_held_inside(
    public: HTTPServer, internal: HTTPServer
) -> None:
    """Even with `[http] allow_private_redirects`, which is the config author's leave for
    their own sources, a typed URL's redirect may not reach an internal address."""
    public.expect_request("/page").respond_with_data("public page")
    public.expect_request("/jump").respond_with_data(
        "", status=302, headers={"Location": internal.url_for("/admin")}
    )
    async with client(AddressPolicy(internal=INTERNAL, private_redirects=True)) as http:
        typed = http.fetcher("page-source", typed=True)
        page = await typed.get(public.url_for("/page"))
        with pytest.raises(FetchError) as caught:
            await typed.get(public.url_for("/jump"))
    assert page.body == b"public page"
    assert caught.value.message == TYPED_REFUSAL
    assert caught.value.url == internal.url_for("/admin")
    assert internal.log == []


async def test_a_network_the_config_allows_by_name_is_reached_by_typed_urls_too(
    internal: HTTPServer,
) -> None:
    """`[http] allow_networks` names networks the operator vouches for: the one way past."""
    allowed = AddressPolicy(internal=INTERNAL, allowed=INTERNAL)
    async with client(allowed) as http:
        page = await http.fetcher("page-source", typed=True).get(internal.url_for("/admin"))
    assert page.body == b"internal admin page"


# --- which sources are typed ----------------------------------------------------------------


def page_table(url: str) -> dict[str, str]:
    return {"name": "typed", "kind": "feed", "url": url}


def test_a_page_made_source_is_typed_unless_private_urls_and_a_file_source_never(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    for server, typed in (("", True), ("private_urls = true", False)):
        path.write_text(
            f"[server]\n{server}\n"
            '[[sources]]\nname = "file"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed"\n'
        )
        config = load_config(path, page=[page_table("http://127.0.0.1:9/other")])
        by_name = {s.name: s.typed for s in config.sources}
        assert by_name == {"file": False, "typed": typed}, server


async def test_a_page_made_source_polls_no_internal_address(tmp_path: Path) -> None:
    """A page-made source saved with a loopback URL (its check passed: DNS said public then)
    fails its poll with the rule's words and sends nothing; the file's source beside it on
    the same server is polled."""
    site = Site()
    site.feeds["news"] = ["First"]
    with serve_site(site) as served:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[storage]\npath = "{tmp_path / "data"}"\n'
            f'[[sources]]\nname = "file"\nkind = "feed"\nurl = "{served.url("/feed/news.xml")}"\n'
        )
        config = load_config(path, page=[page_table(served.url("/feed/news.xml?page"))])
        build_sources(config)
        async with runtime(config, open_config_store(config)) as rt:
            reports = {r.source: r for r in await rt.worker.run_once()}
    assert reports["file"].ok and reports["file"].entries == 1
    assert not reports["typed"].ok
    assert reports["typed"].error is not None
    assert "127.0.0.1 is a loopback address; a URL typed into the web page" in (
        reports["typed"].error
    )
    assert served.hits["/feed/news.xml"] == 1  # the file source's poll alone
