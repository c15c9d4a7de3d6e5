"""Fetching only what the config asked for (issue 19, items 1, 3 and 6): the address policy.

Every server is on loopback. The policy takes the set of internal networks, so these tests
call 127.0.0.1 internal and 127.0.0.2 (another loopback address) "public": a hostile
upstream on 127.0.0.2 redirects to an internal service on 127.0.0.1.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from pytest_httpserver import HTTPServer

from feedbridge.config import load_config
from feedbridge.core.errors import ConfigError, FetchError
from feedbridge.fetch.addresses import AddressPolicy
from feedbridge.fetch.http import HttpClient, HttpSettings

INTERNAL = (ip_network("127.0.0.1/32"),)
POLICY = AddressPolicy(internal=INTERNAL)
SECRET_PAGE = "internal admin page"


@pytest.fixture
def internal(httpserver: HTTPServer) -> HTTPServer:
    """An internal service on 127.0.0.1 that must not be reached through a redirect."""
    httpserver.expect_request("/admin").respond_with_data(SECRET_PAGE)
    return httpserver


def client(policy: AddressPolicy = POLICY) -> HttpClient:
    return HttpClient(HttpSettings(timeout=10, policy=policy))


def redirect(server: HTTPServer, path: str, to: str) -> None:
    server.expect_request(path).respond_with_data("", status=302, headers={"Location": to})


# --- item 1: a redirect is not the config's choice ---------------------------------------------


async def test_a_redirect_from_a_public_address_to_an_internal_one_is_refused_unsent(
    public: HTTPServer, internal: HTTPServer
) -> None:
    redirect(public, "/feed", internal.url_for("/admin"))
    async with client() as http:
        with pytest.raises(FetchError) as caught:
            await http.fetcher("news").get(public.url_for("/feed"))
    assert caught.value.message == (
        "refused: 127.0.0.1 is a loopback address, reached from a public one "
        "(set [http] allow_private_redirects = true to allow it)"
    )
    assert caught.value.url == internal.url_for("/admin")
    assert internal.log == []  # not one byte was sent to the internal service


async def test_the_address_checked_is_the_one_connected_to_not_the_name(
    public: HTTPServer, internal: HTTPServer
) -> None:
    """`localhost` is a name: it is its resolved address (127.0.0.1) that is refused."""
    redirect(public, "/feed", f"http://localhost:{internal.port}/admin")
    async with client() as http:
        with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
            await http.fetcher("news").get(public.url_for("/feed"))
    assert internal.log == []


async def test_allow_private_redirects_lets_the_redirect_through(
    public: HTTPServer, internal: HTTPServer
) -> None:
    redirect(public, "/feed", internal.url_for("/admin"))
    async with client(AddressPolicy(internal=INTERNAL, private_redirects=True)) as http:
        page = await http.fetcher("news").get(public.url_for("/feed"))
    assert page.body.decode() == SECRET_PAGE and page.url == internal.url_for("/admin")


async def test_an_internal_address_the_config_names_is_fetched_and_may_redirect_inside(
    internal: HTTPServer,
) -> None:
    """The config's author chose it: an intranet source works, its own redirects too."""
    redirect(internal, "/old", "/admin")
    async with client() as http:
        page = await http.fetcher("intranet").get(internal.url_for("/old"))
    assert page.body.decode() == SECRET_PAGE


async def test_each_hop_is_judged_by_the_one_before_it(
    public: HTTPServer, internal: HTTPServer
) -> None:
    """internal (configured) → public → internal: the last hop comes from a public address."""
    redirect(internal, "/start", public.url_for("/bounce"))
    redirect(public, "/bounce", internal.url_for("/admin"))
    async with client() as http:
        with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
            await http.fetcher("intranet").get(internal.url_for("/start"))
    assert [r.path for r, _ in internal.log] == ["/start"]


async def test_a_kept_alive_internal_connection_does_not_carry_a_redirect_past_the_rule(
    public: HTTPServer, internal: HTTPServer
) -> None:
    """An intranet source leaves a pooled connection to 127.0.0.1; a public redirect to the
    same server must not ride on it."""
    redirect(public, "/feed", internal.url_for("/admin"))
    async with client() as http:
        assert (await http.fetcher("intranet").get(internal.url_for("/admin"))).status == 200
        with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1"):
            await http.fetcher("news").get(public.url_for("/feed"))
    assert len(internal.log) == 1  # the intranet source's own request only


async def test_cloud_metadata_addresses_are_refused_even_when_configured(
    internal: HTTPServer,
) -> None:
    """Here 127.0.0.1 plays the metadata service; allow_networks is the explicit way in."""
    metadata = AddressPolicy(internal=INTERNAL, metadata=frozenset({ip_address("127.0.0.1")}))
    async with client(metadata) as http:
        with pytest.raises(FetchError) as caught:
            await http.fetcher("meta").get(internal.url_for("/admin"))
    assert caught.value.message == (
        "refused: 127.0.0.1 is a cloud metadata address, never fetched "
        '(unless [http] allow_networks = ["127.0.0.1"])'
    )
    assert internal.log == []
    allowed = AddressPolicy(
        internal=INTERNAL, metadata=metadata.metadata, allowed=(ip_network("127.0.0.1/32"),)
    )
    async with client(allowed) as http:
        assert (await http.fetcher("meta").get(internal.url_for("/admin"))).status == 200


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("169.254.169.254", True),
        ("fd00:ec2::254", True),
        ("::ffff:169.254.169.254", True),  # the same address, IPv4-mapped
        ("100.100.100.200", True),
        ("169.254.1.1", False),  # link-local: internal, but not a metadata service
        ("93.184.215.14", False),
    ],
)
def test_the_default_policy_knows_the_clouds_metadata_addresses(
    address: str, refused: bool
) -> None:
    reason = AddressPolicy().refusal(ip_address(address), after_public=False)
    assert (reason is not None) == refused
    assert reason is None or "cloud metadata address" in reason


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "::1", "fe80::1", "fc00::1",
     "169.254.10.10", "100.64.0.1", "0.0.0.0", "::ffff:10.0.0.1", "64:ff9b::a00:1",
     "2002:c0a8:101::1"],
)  # fmt: skip
def test_the_default_policy_refuses_internal_addresses_after_a_public_hop(address: str) -> None:
    policy = AddressPolicy()
    assert policy.refusal(ip_address(address), after_public=True) is not None
    assert policy.refusal(ip_address(address), after_public=False) is None
    assert policy.refusal(ip_address("8.8.8.8"), after_public=True) is None


async def test_a_metadata_service_name_is_refused_before_any_lookup() -> None:
    async with HttpClient(HttpSettings(timeout=5)) as http:
        with pytest.raises(FetchError) as caught:
            await http.fetcher("meta").get("http://metadata.google.internal/computeMetadata/v1/")
    assert caught.value.message == (
        "refused: metadata.google.internal is a cloud metadata service, never fetched"
    )


async def test_a_redirect_to_a_non_http_url_is_a_named_error(public: HTTPServer) -> None:
    redirect(public, "/feed", "file:///etc/passwd")
    async with client() as http:
        with pytest.raises(FetchError, match=r"redirect to a non-http\(s\) URL: file:///etc/passwd"):
            await http.fetcher("news").get(public.url_for("/feed"))


async def test_too_many_redirects_still_stops(public: HTTPServer) -> None:
    redirect(public, "/loop", "/loop")
    async with HttpClient(HttpSettings(timeout=10, policy=POLICY, max_redirects=3)) as http:
        with pytest.raises(FetchError, match="too many redirects"):
            await http.fetcher("news").get(public.url_for("/loop"))
    assert len(public.log) == 4


# --- item 3: the source's headers go to its own origin only ------------------------------------


async def test_configured_headers_go_to_the_configured_origin_only(
    public: HTTPServer, internal: HTTPServer
) -> None:
    """A same-origin redirect keeps them; the cross-origin hop (allowed to 127.0.0.1 here)
    sees neither the API key nor the Authorization header."""
    redirect(public, "/feed", "/moved")  # same origin: keeps them
    redirect(public, "/moved", internal.url_for("/admin"))
    headers = {"X-Api-Key": "k-123", "Authorization": "Bearer t-456", "X-Team": "news"}
    policy = AddressPolicy(internal=INTERNAL, private_redirects=True)
    async with client(policy) as http:
        page = await http.fetcher("news", headers=headers).get(
            public.url_for("/feed"), accept="application/rss+xml"
        )
    assert page.status == 200
    sent = {r.path: r.headers for r, _ in [*public.log, *internal.log]}
    for path in ("/feed", "/moved"):
        assert (sent[path].get("X-Api-Key"), sent[path].get("Authorization")) == (
            "k-123", "Bearer t-456",
        )  # fmt: skip
    other = sent["/admin"]
    assert other.get("X-Api-Key") is None and other.get("Authorization") is None
    assert other.get("X-Team") is None
    assert other.get("Accept") == "application/rss+xml"  # what the fetch asks for stays


# --- item 6: a redirected GET is a plain GET ---------------------------------------------------


async def test_a_redirected_get_is_a_plain_get_without_a_body(
    public: HTTPServer,
) -> None:
    redirect(public, "/feed", "/moved")
    public.expect_request("/moved").respond_with_data("<rss/>")
    async with client() as http:
        page = await http.fetcher("news").get(public.url_for("/feed"))
    assert page.body == b"<rss/>"
    for request, _ in public.log:
        assert request.method == "GET"
        assert request.headers.get("Transfer-Encoding") is None, request.path
        assert request.headers.get("Content-Length") in (None, "0")
        assert request.get_data() == b""


# --- the options ------------------------------------------------------------------------------


def test_the_address_policy_options_load_and_bad_networks_are_named(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.toml"
    path.write_text(
        '[http]\nallow_private_redirects = true\nallow_networks = ["10.1.0.0/16", "fd00::/8"]\n'
    )
    config = load_config(path)
    assert config.http.allow_private_redirects is True
    assert config.http.allow_networks == ["10.1.0.0/16", "fd00::/8"]
    path.write_text('[http]\nallow_networks = ["10.1.0.0/33", "intranet"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        'http.allow_networks[0]: not an IP network: "10.1.0.0/33"',
        'http.allow_networks[1]: not an IP network: "intranet"',
    ]
