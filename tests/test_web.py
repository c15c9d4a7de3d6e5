"""The web pages' rules, in process: the real app on a real runtime and store, a real local
site, requests through httpx's ASGI transport (the browser flow is tests/test_web_browser.py).

Who may change what (a token on every form, cross-site requests refused, read-only when
exposed without a token), values escaped, secrets masked, typed URLs checked, a page-made
source validated with the whole config, the preview fed with the values just typed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer

from feedbridge.app.reload import Reloader
from feedbridge.app.runtime import Runtime, build_sources, open_config_store, runtime
from feedbridge.app.server import create_app
from feedbridge.app.web import pages_app
from feedbridge.app.web.access import Access, local_path
from feedbridge.app.web.forms import form_from_table, table_from_form
from feedbridge.config import load_config
from feedbridge.detect.hub import HUB_ENV
from feedbridge.store import Notice, TargetState
from tests.conftest import DATA
from tests.fakehub import FakeHub
from tests.live import Site, serve_site

SLACK = "slack://T1SecretAAA/B2SecretBBB/C3SecretCCCCCCCCCCCC/"
HOSTILE = (
    '<!doctype html><html><head><title>Evil "<script>alert(1)</script></title></head><body>'
    + "".join(
        f'<article class="post"><h2><a href="/p/{n}">&lt;script&gt;alert({n})&lt;/script&gt; '
        f'"onmouseover=x" {n}</a></h2><p>text {n}</p></article>'
        for n in range(4)
    )
    + "</body></html>"
)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site(Site()) as served:
        served.pages["blog"] = (DATA / "detect" / "blog-ghost.html").read_text()
        served.pages["hostile"] = HOSTILE
        served.feeds["news"] = ["First", "Second"]
        yield served


@dataclass
class Web:
    client: httpx.AsyncClient
    rt: Runtime
    reloader: Reloader
    site: Site

    async def csrf(self, path: str = "/sources/new") -> str:
        page = await self.client.get(path)
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert match, page.text[:500]
        return match[1]

    async def post(self, path: str, data: dict[str, str], **kw: object) -> httpx.Response:
        return await self.client.post(path, data={"csrf": await self.csrf(), **data}, **kw)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def web(tmp_path: Path, site: Site) -> AsyncIterator[Callable[..., object]]:
    """Start the pages on `config` lines; one runtime at a time per test."""
    opened: list[object] = []

    async def start(server: str = "private_urls = true", targets: str = "", query: str = "") -> Web:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[storage]\npath = "{tmp_path / "data"}"\n[server]\nport = 8080\n{server}\n'
            f'[[sources]]\nname = "news"\nkind = "feed"\n'
            f'url = "{site.url("/feed/news.xml")}{query}"\n'
            f"{targets}"
        )
        config = load_config(path)
        build_sources(config)
        context = runtime(config, open_config_store(config))
        rt = await context.__aenter__()
        opened.append(context)
        reloader = Reloader(path, rt)
        app = create_app(rt.board, [], base_url=config.server.base_url,
                         pages=pages_app(rt, reloader))  # fmt: skip
        host = "127.0.0.1" if "0.0.0.0" not in server else "192.0.2.7"
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url=f"http://{host}:8080")  # fmt: skip
        opened.append(client)
        return Web(client, rt, reloader, site)

    yield start
    for thing in reversed(opened):
        if isinstance(thing, httpx.AsyncClient):
            await thing.aclose()
        else:
            await thing.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_a_form_without_this_sessions_token_or_from_another_site_is_refused(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    url = site.url("/page/blog.html")
    token = await w.csrf()
    refused = {
        "no token": await w.client.post("/sources/new", data={"url": url}),
        "another session's token": await httpx.AsyncClient(
            transport=w.client._transport, base_url=str(w.client.base_url)
        ).post("/sources/new", data={"url": url, "csrf": token}),
        "another origin": await w.client.post(
            "/sources/new", data={"url": url, "csrf": token},
            headers={"Origin": "http://evil.example"},
        ),
        "another site": await w.client.post(
            "/sources/new", data={"url": url, "csrf": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        ),
    }  # fmt: skip
    for why, answer in refused.items():
        assert answer.status_code == 403, why
        assert "Refused" in answer.text, why
    assert w.site.hits["/page/blog.html"] == 0, "nothing was fetched for them"
    ok = await w.client.post("/sources/new", data={"url": url, "csrf": token},
                             headers={"Origin": "http://127.0.0.1:8080"})  # fmt: skip
    assert ok.status_code == 200 and "12 items matching" in ok.text
    rebound = await w.client.get("/", headers={"Host": "evil.example:8080"})
    assert rebound.status_code == 400, "no token: only this machine's own names reach the pages"


async def test_an_exposed_server_without_a_token_is_read_only_and_says_how_to_enable_editing(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web('host = "0.0.0.0"')  # type: ignore[misc]
    index = await w.client.get("/")
    assert index.status_code == 200 and "Editing is off" in index.text
    assert "Set [server] token in the config" in index.text
    form = await w.client.get("/sources/new")
    assert form.status_code == 403 and "listen on 127.0.0.1 only" in form.text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', index.text)
    data = {"url": site.url("/page/blog.html"), "csrf": token[1] if token else ""}
    post = await w.client.post("/sources/new", data=data)
    assert post.status_code == 403 and w.site.hits["/page/blog.html"] == 0
    assert (await w.client.get("/sources/news")).status_code == 200, "reading stays open"


async def test_with_a_token_pages_need_a_sign_in_or_the_token_and_guesses_are_limited(
    web: Callable[..., object],
) -> None:
    w: Web = await web('host = "0.0.0.0"\ntoken = "s3cret-token"')  # type: ignore[misc]
    page = await w.client.get("/sources/news")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/sources/news"
    assert (await w.client.get("/sources/news?token=s3cret-token")).status_code == 200
    csrf = await w.csrf("/login")
    for _ in range(10):
        wrong = await w.client.post("/login", data={"csrf": csrf, "token": "guess"})
        assert wrong.status_code == 401
    held = await w.client.post("/login", data={"csrf": csrf, "token": "s3cret-token"})
    assert held.status_code == 429, "ten misses: even the right token waits"
    access = Access.for_server("t", "0.0.0.0", "http://x")
    assert not access.throttled("1.2.3.4") and local_path("//evil.example/x") == "/"
    assert local_path("/sources/new") == "/sources/new" and local_path("https://e/") == "/"


async def test_a_page_made_source_is_validated_with_the_whole_config_and_nothing_is_stored(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    form = {"name": "news", "kind": "feed", "url": site.url("/feed/news.xml"), "action": "save"}
    taken = await w.post("/sources/new/edit", form)
    assert taken.status_code == 400 and "Not saved" in taken.text
    assert "duplicate source name &#34;news&#34;" in taken.text
    bad = await w.post("/sources/new/edit", {**form, "name": "blog", "kind": "html",
                                              "url": site.url("/page/blog.html"),
                                              "item": "article[[", "title": "h2"})  # fmt: skip
    assert bad.status_code == 400 and "invalid CSS selector" in bad.text
    assert w.rt.store.page_sources() == [] and w.reloader.problems == []
    good = await w.post("/sources/new/edit", {
        **form, "name": "blog", "kind": "html", "url": site.url("/page/blog.html"),
        "item": "article.post-card", "title": "h2", "link": "a.post-card-content-link@href",
    })  # fmt: skip
    assert good.status_code == 303 and good.headers["location"] == "/sources/blog?saved=1"
    (stored,) = w.rt.store.page_sources()
    assert stored.table == {"name": "blog", "kind": "html", "url": site.url("/page/blog.html"),
                            "item": "article.post-card", "title": "h2",
                            "link": "a.post-card-content-link@href"}  # fmt: skip
    assert [s.name for s in w.rt.worker.sources] == ["news", "blog"], "polled from now on"


async def test_the_preview_reads_the_values_just_typed_from_the_page_fetched_once(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    found = await w.post("/sources/new", {"url": site.url("/page/blog.html")})
    snapshot = re.search(r"snapshot=([\w-]+)&amp;candidate=0", found.text)
    assert snapshot, found.text
    values = {"snapshot": snapshot[1], "name": "b", "kind": "html",
              "url": site.url("/page/blog.html"), "item": "article.post-card",
              "link": "a.post-card-content-link@href"}  # fmt: skip
    titles = []
    for title in ("h2", "div.post-card-excerpt"):
        shown = await w.post("/sources/preview", {**values, "title": title})
        assert shown.status_code == 200 and shown.text.startswith('<div class="preview-body"')
        titles.append(re.findall(r'target="_blank" dir="auto">([^<]+)</a>', shown.text)[0])
    assert titles == [
        "Reading a flame graph, step by step",
        "We measured it, then measured it again, and the numbers surprised us.",
    ]
    shown = await w.post("/sources/preview", {**values, "item": "article.gone", "title": "h2"})
    assert "0 entries</strong> from 0 items" in shown.text and "matched nothing" in shown.text
    assert "these selectors match 12 items: item = &#34;article.post-card&#34;" in shown.text
    assert site.hits["/page/blog.html"] == 1, "every preview read the one fetch"
    broken = await w.post("/sources/preview", {**values, "title": "h2", "item": "li[["})
    assert "invalid CSS selector" in broken.text and "data-errors=" in broken.text


async def test_what_pages_and_sources_say_is_escaped_on_every_page(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    url = site.url("/page/hostile.html")
    found = await w.post("/sources/new", {"url": url})
    assert found.status_code == 200
    saved = await w.post("/sources/new/edit", {"name": "evil", "kind": "html", "url": url,
                                               "item": "article.post", "title": "h2",
                                               "link": "h2 a@href", "action": "save"})  # fmt: skip
    assert saved.status_code == 303
    await w.rt.worker.poll(w.rt.publisher.sources["evil"])
    pages = [found.text] + [(await w.client.get(p)).text for p in ("/", "/sources/evil")]
    for text in pages:
        assert "<script>alert" not in text and '"onmouseover' not in text
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in pages[2]
    assert "script-src 'self'" in (await w.client.get("/sources/evil")).headers[
        "content-security-policy"]  # fmt: skip


async def test_the_targets_page_masks_every_secret_and_shows_the_queue_and_failures(
    web: Callable[..., object],
) -> None:
    targets = f'[[targets]]\nname = "team"\nurl = "{SLACK}"\ndigest = "daily 08:00 Europe/Berlin"\n'
    w: Web = await web(targets=targets)  # type: ignore[misc]
    store = w.rt.store
    store.enqueue([Notice("team", "entry", "news:a", {"title": "Queued one", "key": "a"})], 1.0)
    (row,) = store.claim_due("team", 2.0)
    store.settle("team", TargetState(), failed=[row], reason="HTTP 410 from Slack: <gone>")
    store.enqueue([Notice("team", "entry", "news:b", {"title": "Waiting", "key": "b"})], 3.0)
    page = await w.client.get("/targets")
    assert page.status_code == 200
    for secret in ("T1SecretAAA", "B2SecretBBB", "C3SecretCCCCCCCCCCCC"):
        assert secret not in page.text
    assert "<code>slack://T...A/B...B/C...C//?" in page.text, "Apprise's own masked form"
    assert "as markdown" in page.text and "1 message waiting" in page.text
    assert "digest daily 08:00 Europe/Berlin" in page.text and "next at" in page.text
    assert "Queued one" in page.text and "HTTP 410 from Slack: &lt;gone&gt;" in page.text


async def test_a_typed_url_on_a_private_or_metadata_address_is_refused(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web("private_urls = false")  # type: ignore[misc]
    local = await w.post("/sources/new", {"url": site.url("/page/blog.html")})
    assert local.status_code == 400
    assert "loopback or private-network address (127.0.0.1)" in local.text
    assert "[server] private_urls = true" in local.text and site.hits["/page/blog.html"] == 0
    for url in ("http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/"):
        answer = await w.post("/sources/new", {"url": url})
        assert answer.status_code == 400 and "cloud metadata" in answer.text
    # a Hub table's address typed into the editor is checked the same way before the API is asked
    hub = {"name": "h", "kind": "hf_repos", "author": "Qwen", "base_url": site.url("/")}
    shown = await w.post("/sources/preview", hub)
    assert "loopback or private-network address (127.0.0.1)" in shown.text
    shown = await w.post("/sources/preview", {**hub, "base_url": "http://169.254.169.254"})
    assert "cloud metadata" in shown.text and sum(site.hits.values()) == 0


async def test_the_editor_fetch_is_held_at_the_socket_when_the_look_up_was_fooled(
    web: Callable[..., object], site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's own check is told the host is public (a rebinding name answers a public
    address first); the fetch that follows connects to 127.0.0.1 and is refused there."""

    async def fooled(url: str, private: bool) -> None:
        return None

    monkeypatch.setattr("feedbridge.app.web.snapshots.check_url", fooled)
    w: Web = await web("private_urls = false")  # type: ignore[misc]
    answer = await w.post("/sources/new", {"url": site.url("/page/blog.html")})
    assert answer.status_code == 400
    assert "127.0.0.1 is a loopback address; a URL typed into the web page" in answer.text
    assert site.hits["/page/blog.html"] == 0


async def test_saving_a_source_on_a_private_address_is_refused_beside_its_url(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web("private_urls = false")  # type: ignore[misc]
    form = {"kind": "feed", "name": "sneaky", "url": site.url("/feed/news.xml")}
    answer = await w.post("/sources/new/edit", form)
    assert answer.status_code == 400
    problem = re.search(r'<p class="problem" data-for="url">([^<]*)</p>', answer.text)
    assert problem and "loopback or private-network address (127.0.0.1)" in problem[1]
    hub = {"kind": "hf_repos", "name": "sneaky", "author": "Qwen", "base_url": site.url("/")}
    answer = await w.post("/sources/new/edit", hub)
    assert answer.status_code == 400
    problem = re.search(r'<p class="problem" data-for="base_url">([^<]*)</p>', answer.text)
    assert problem and "loopback or private-network address (127.0.0.1)" in problem[1]
    assert "sneaky" not in {s.name for s in w.reloader.config.sources}
    assert sum(site.hits.values()) == 0


async def test_pausing_stops_the_polls_but_keeps_the_feed_served(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    form = {"name": "feed2", "kind": "feed", "url": site.url("/feed/news.xml"), "action": "save"}
    assert (await w.post("/sources/new/edit", form)).status_code == 303
    await w.rt.worker.poll(w.rt.publisher.sources["feed2"])
    paused = await w.post("/sources/feed2/pause", {})
    assert paused.status_code == 303
    assert "feed2" not in [s.name for s in w.rt.worker.sources]
    assert "feed2" in w.rt.publisher.sources and w.rt.board.get("feed2") is not None
    page = await w.client.get("/sources/feed2")
    assert "paused" in page.text and ">Resume<" in page.text
    await w.post("/sources/feed2/pause", {})
    assert "feed2" in [s.name for s in w.rt.worker.sources]


async def test_the_address_of_a_feed_itself_is_offered_as_a_feed_source(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    found = await w.post("/sources/new", {"url": site.url("/feed/news.xml")})
    assert found.status_code == 200 and "this is a feed: RSS feed with 2 entries" in found.text
    assert "First" in found.text and "Second" in found.text
    link = re.search(r'href="(/sources/new/edit\?snapshot=[^"]+candidate=0[^"]*)"', found.text)
    assert link
    editor = await w.client.get(link[1].replace("&amp;", "&"))
    assert '<option value="feed" selected>' in editor.text
    assert "2 entries</strong> from 2 items" in editor.text
    # an XHTML page opens with an XML prolog too, yet it is a page: its lists are offered
    site.pages["xhtml"] = '<?xml version="1.0" encoding="utf-8"?>\n' + site.pages["blog"]
    page = await w.post("/sources/new", {"url": site.url("/page/xhtml.html")})
    assert page.status_code == 200 and "12 items matching" in page.text
    assert "this is a feed" not in page.text and "looks like a feed" not in page.text


async def test_a_pasted_hub_url_offers_its_hub_table_whose_editor_previews_and_saves_it(
    web: Callable[..., object], httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = FakeHub(httpserver)
    monkeypatch.setenv(HUB_ENV, hub.base_url)  # the detected tables read the fake Hub
    w: Web = await web()  # type: ignore[misc]
    found = await w.post(
        "/sources/new", {"url": "https://huggingface.co/datasets?author=lerobot&sort=created"}
    )
    assert found.status_code == 200
    assert "datasets by lerobot sorted by created" in found.text
    assert 'the Hugging Face Hub&#39;s API · <span class="good">checked' in found.text
    titles = re.findall(r'<li dir="auto">([^<]+)</li>', found.text)
    assert titles == ["lerobot/so101-pick-place-cubes"], "only lerobot's, newest first"
    assert hub.paths("/") == ["/api/datasets"], "the Hub's page is never fetched"
    link = re.search(r'href="(/sources/new/edit\?snapshot=[^"]+candidate=0[^"]*)"', found.text)
    assert link
    editor = await w.client.get(link[1].replace("&amp;", "&"))
    assert '<option value="hf_repos" selected>' in editor.text
    assert '<option value="dataset" selected>' in editor.text
    assert 'name="repo_author" value="lerobot"' in editor.text
    assert "1 entry</strong> from 1 item" in editor.text
    assert 'target="_blank" dir="auto">lerobot/so101-pick-place-cubes</a>' in editor.text
    assert len(hub.requests) == 1, "the preview read the answer the detection had"
    snapshot = re.search(r'name="snapshot" value="([\w-]+)"', editor.text)
    assert snapshot
    values = {"snapshot": snapshot[1], "name": "lerobot-data", "kind": "hf_repos", "url": "",
              "type": "dataset", "repo_author": "lerobot, nvidia", "sort": "created",
              "base_url": hub.base_url, "item": "", "title": ""}  # fmt: skip
    shown = await w.post("/sources/preview", values)
    assert re.findall(r'target="_blank" dir="auto">([^<]+)</a>', shown.text) == [
        "lerobot/so101-pick-place-cubes",
        "nvidia/GR00T-Sim-Teleop-2605",
    ]
    bad = await w.post("/sources/preview", {**values, "repo_author": "lerobot, <x>"})
    assert "invalid Hub user or organization name" in bad.text and "data-errors=" in bad.text
    saved = await w.post("/sources/new/edit", {**values, "action": "save"})
    assert saved.status_code == 303, saved.text
    (stored,) = w.rt.store.page_sources()
    assert stored.table == {"name": "lerobot-data", "kind": "hf_repos", "type": "dataset",
                            "author": ["lerobot", "nvidia"], "sort": "created",
                            "base_url": hub.base_url}  # fmt: skip
    again = await w.client.get("/sources/lerobot-data/edit")
    assert 'name="repo_author" value="lerobot, nvidia"' in again.text
    assert "2 entries</strong> from 2 items" in again.text


async def test_a_form_too_big_or_not_url_encoded_is_refused_even_before_signing_in(
    web: Callable[..., object],
) -> None:
    w: Web = await web('host = "0.0.0.0"\ntoken = "s3cret-token"')  # type: ignore[misc]
    csrf = await w.csrf("/login")
    huge = await w.client.post("/login", data={"csrf": csrf, "token": "x" * 300_000})
    assert huge.status_code == 413
    many = await w.client.post("/login", data={f"f{n}": "1" for n in range(100)})
    assert many.status_code == 413
    multipart = await w.client.post("/login", files={"token": ("t", b"s3cret-token")})
    assert multipart.status_code == 413
    right = await w.client.post("/login", data={"csrf": csrf, "token": "s3cret-token"})
    assert right.status_code == 303


async def test_a_file_sources_page_says_where_it_lives_with_its_current_error_and_last_polls(
    web: Callable[..., object], site: Site
) -> None:
    w: Web = await web()  # type: ignore[misc]
    news = w.rt.publisher.sources["news"]
    await w.rt.worker.poll(news)
    del site.feeds["news"]  # the site now answers 404
    await w.rt.worker.poll(news)
    page = await w.client.get("/sources/news")
    assert page.status_code == 200
    assert "news · feed · from config.toml" in page.text
    assert "This source is in config.toml: change it there." in page.text
    assert "/sources/news/edit" not in page.text and ">Delete<" not in page.text
    refused = await w.client.get("/sources/news/edit")
    assert refused.status_code == 404 and "no source made on this page" in refused.text
    error = re.search(r"<dt>Current error</dt><dd class=\"detail\">([^<]+)</dd>", page.text)
    assert error and "HTTP 404" in error[1], page.text
    rows = re.findall(r'<tr class="(\w+)"><td>[^<]+</td><td data-label="Result">\w+</td>'
                      r'<td data-label="Entries">(\d+)</td><td data-label="New">(\d+)</td>',
                      page.text)  # fmt: skip
    assert rows == [("failed", "0", "0"), ("ok", "2", "2")], "newest first: time, result..."
    assert "failing (1 in a row)" in (await w.client.get("/")).text


async def test_the_index_loads_feeds_on_the_event_loop_so_a_newer_version_is_never_hidden(
    web: Callable[..., object],
) -> None:
    """The worker's sync drops a feed whose stored version moved on (another node polled it)
    on the event loop; a feed loaded in a thread meanwhile could land on the board after that
    and be served stale until the next poll. Every reader of the board stays on the loop."""
    import threading

    w: Web = await web()  # type: ignore[misc]
    await w.rt.worker.poll(w.rt.publisher.sources["news"])
    w.rt.board.feeds.clear()  # as after a restart or a sync: read again on the next request
    loader, threads = w.rt.board.loader, []
    assert loader is not None

    def watched(name: str) -> object:
        threads.append(threading.current_thread())
        return loader(name)

    w.rt.board.loader = watched  # type: ignore[assignment]
    index = await w.client.get("/")
    assert index.status_code == 200 and "Second" in index.text
    assert threads == [threading.main_thread()]


def test_a_hub_kinds_form_makes_its_table_with_lists_and_the_feeds_title() -> None:
    form = {"name": "q", "kind": "hf_repos", "url": "https://ignored.example/", "item": "li",
            "repo_author": " Qwen, deepseek-ai ,", "filter": "gguf", "feed_title": "New models",
            "type": "model", "sort": "likes", "limit": "20", "query": "not hf_repos'"}  # fmt: skip
    table = table_from_form(form)
    assert table == {"name": "q", "kind": "hf_repos", "author": ["Qwen", "deepseek-ai"],
                     "filter": ["gguf"], "type": "model", "sort": "likes", "limit": 20,
                     "title": "New models"}  # fmt: skip
    assert table_from_form(form_from_table(table)) == table


def test_every_form_field_has_a_name_of_its_own_and_each_kind_keeps_its_author() -> None:
    """An html source's author selector and the Hub's authors were one field name: the Hub's
    replaced the other in the form, and an html source's author selector was dropped."""
    from feedbridge.app.web.forms import HUB_FIELDS, ITEM_FIELDS, OPTIONS

    names = [f.name for f in (*ITEM_FIELDS, *HUB_FIELDS, *OPTIONS)]
    assert len(names) == len(set(names))
    html = {"name": "b", "kind": "html", "url": "https://blog.example/", "item": "article",
            "title": "h2", "link": "a@href", "author": ".byline"}  # fmt: skip
    assert table_from_form(html)["author"] == ".byline"
    assert table_from_form(form_from_table(table_from_form(html))) == table_from_form(html)
    hub = table_from_form({"name": "q", "kind": "hf_repos", "author": ".byline",
                           "repo_author": "Qwen"})  # fmt: skip
    assert hub["author"] == ["Qwen"]


def test_a_sources_table_as_shown_masks_its_headers_and_reads_back_as_that_source(
    tmp_path: Path,
) -> None:
    import tomli

    from feedbridge.app.web.sources import as_written

    path = tmp_path / "config.toml"
    path.write_text('[[sources]]\nname = "a"\nkind = "feed"\nurl = "https://a.example/"\n'
                    'headers = { Authorization = "Bearer s3cret-value" }\n')  # fmt: skip
    shown = as_written(path, "a", None)
    assert "s3cret" not in shown
    assert tomli.loads(shown) == {"sources": [{
        "name": "a", "kind": "feed", "url": "https://a.example/",
        "headers": {"Authorization": "***"},
    }]}, shown  # fmt: skip


async def test_a_source_page_shows_its_url_with_a_secret_from_the_environment_masked(
    web: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key given as `${ENV}` in a source's URL is a secret (issue 19): its page says what it
    reads with the key as ***, and its table as written keeps the `${ENV}` reference."""
    monkeypatch.setenv("FEED_KEY", "k3y-from-the-env-77")
    w: Web = await web(query="?key=${FEED_KEY}&lang=en")  # type: ignore[misc]
    page = await w.client.get("/sources/news")
    assert page.status_code == 200
    assert "k3y-from-the-env-77" not in page.text
    reads = re.search(r"<dt>Reads</dt><dd>([^<]+)</dd>", page.text)
    assert reads and reads[1].endswith("/feed/news.xml?key=***&amp;lang=en"), page.text
    assert "${FEED_KEY}" in page.text


async def test_with_the_sources_table_locked_the_index_lists_every_feed_after_one_lock_wait(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    """200 sources on PostgreSQL, the `sources` table locked by another session: the index
    reads every state in one query, so it answers after one lock timeout (1 s), not one per
    source (200 s), listing every feed with "state unavailable" (not "pending": they were
    polled) and a notice; once the lock goes, the states are back."""
    import time

    import psycopg

    from feedbridge.store import PollOutcome, SourceState

    count = 200
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "{pg_url}"\n[server]\nport = 8080\nprivate_urls = true\n'
        + "".join(
            f'[[sources]]\nname = "s{i:03}"\nkind = "feed"\nurl = "{site.url(f"/feed/{i}.xml")}"\n'
            for i in range(count)
        )
    )
    config = load_config(path)
    async with runtime(config, open_config_store(config)) as rt:
        names = [f"s{i:03}" for i in range(count)]
        rt.store.register_sources(names, time.time())
        for name in names:
            rt.store.apply_poll(name, PollOutcome(SourceState(last_poll=1e9, status="ok")))
        app = create_app(rt.board, [], base_url=config.server.base_url,
                         pages=pages_app(rt, Reloader(path, rt)))  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080",
                                     timeout=300) as client:  # fmt: skip
            before = await client.get("/")
            assert before.status_code == 200 and before.text.count(">ok<") == count
            with psycopg.connect(pg_url) as locker:
                locker.execute("LOCK TABLE sources")
                started = time.monotonic()
                locked = await client.get("/")
                took = time.monotonic() - started
                locker.rollback()
            after = await client.get("/")
    assert locked.status_code == 200, locked.text[:300]
    assert took < 10, f"the index took {took:.1f}s under the lock (a wait per source?)"
    assert locked.text.count("state unavailable") == count
    assert all(f"/feeds/{name}.atom" in locked.text for name in names), "every feed is listed"
    assert "could not be read from the store now" in locked.text and ">ok<" not in locked.text
    assert "pending" not in locked.text and "never" not in locked.text, "not: never polled"
    assert after.text.count(">ok<") == count and "state unavailable" not in after.text


async def test_the_hub_answers_one_editor_holds_are_bounded_in_bytes_not_only_in_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A typed `base_url` may answer up to the body cap each time: the answers one snapshot
    keeps stay within MAX_BYTES (the oldest dropped, the newest kept), not MAX_API x 10 MB."""
    from feedbridge.app.web import snapshots
    from feedbridge.core.models import Page

    monkeypatch.setattr(snapshots, "MAX_BYTES", 1000)
    asked: list[str] = []

    async def fetch(url: str) -> Page:
        asked.append(url)
        return Page(url=url, status=200, body=b"x" * 400)

    held = snapshots.Snapshots(fetch, private=True)
    snapshot = held.blank("http://127.0.0.1:9/")
    for n in range(6):
        await held.api(snapshot, f"http://127.0.0.1:9/api/models?p={n}")
    assert snapshot.size <= 1000
    assert list(snapshot.api) == [f"http://127.0.0.1:9/api/models?p={n}" for n in (4, 5)]
    await held.api(snapshot, "http://127.0.0.1:9/api/models?p=5")  # still held: not asked again
    assert len(asked) == 6
