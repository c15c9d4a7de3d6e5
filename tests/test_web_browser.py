"""The web pages in a real Chromium (Playwright, Debian's /usr/bin/chromium), on a running
`feedbridge run`: paste the address of a local page, pick what detection found, change a
selector and watch the preview change, save, see the feed served and polled, edit it, make a
bad edit that is refused while the old source keeps running, delete it (410); the targets
page sends a test; signing in is required when the server is exposed with a token.

Each step's page is photographed (`FEEDBRIDGE_SHOT_DIR`, else the test's directory; the
README shows the copies under docs/screenshots/), wide and narrow, long and non-ASCII titles
included.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from pytest_httpserver import HTTPServer

from feedbridge.detect.hub import HUB_ENV
from tests.conftest import DATA, Receiver
from tests.fakehub import FakeHub
from tests.live import Node, Site, new_port, running, serve_site
from tests.tools import require_tool

# A page whose titles are long and not ASCII (right to left too): they must wrap, not widen the
# page. (Scripts the machine's fonts draw: Debian's Chromium here has DejaVu, not CJK or emoji.)
WORLD = """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Weltnachrichten</title>
</head><body><header><nav><a href="/">Start</a> <a href="/über">Über uns</a></nav></header>
<main><h1>Neueste Beiträge</h1>
{items}
</main><footer><a href="/impressum">Impressum</a></footer></body></html>"""
TITLES = [
    "Überraschende Ergebnisse der Straßenbahn-Verkehrszählung in Köln-Mülheim und Düsseldorf-"
    "Oberkassel: Fahrgastzahlen übertreffen alle Erwartungen",
    "מדריך: איך בונים ספרייה ציבורית חדשה בתל אביב — ראיון עם האדריכלית",
    "Ελληνικά: Η νέα γέφυρα της Θεσσαλονίκης ανοίγει για την κυκλοφορία №2",  # noqa: RUF001
    "Señales débiles: ¿por qué los pingüinos de la Antártida cambian su ruta migratoria?",
    "Короткий заголовок",
    "Supercalifragilisticexpialidocious-Donaudampfschifffahrtsgesellschaftskapitänsmütze",
]


def world_page() -> str:
    items = "".join(
        f'<article class="post"><h2><a href="/posts/{n}">{title}</a></h2>'
        f'<time datetime="2026-05-0{n + 1}T08:00:00Z">{n + 1}. Mai</time>'
        f"<p>Zusammenfassung {n}: Ein längerer Text über das Thema, mit Umlauten äöü.</p></article>"
        for n, title in enumerate(TITLES)
    )
    return WORLD.format(items=items)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_tool("chromium", "chromium-headless-shell", package="chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site(Site()) as served:
        served.pages["blog"] = (DATA / "detect" / "blog-ghost.html").read_text()
        served.pages["world"] = world_page()
        served.feeds["news"] = ["First news", "Second news"]
        yield served


def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("FEEDBRIDGE_SHOT_DIR", tmp_path))
    where.mkdir(parents=True, exist_ok=True)
    return where


def write_config(tmp_path: Path, port: int, site: Site, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
private_urls = true
{extra}
[[sources]]
name = "news"
kind = "feed"
url = "{site.url("/feed/news.xml")}"
interval = "1h"
""")
    return path


def feed_entries(node: Node, name: str, count: int, timeout: float = 60) -> list[str]:
    """The titles of the feed once it holds `count` entries (it is polled in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        response = node.get(f"/feeds/{name}.atom")
        titles = [e.title for e in feedparser.parse(response.content).entries]
        if (response.status_code == 200 and len(titles) == count) or time.monotonic() > deadline:
            return titles
        time.sleep(0.2)


def test_a_source_is_made_previewed_saved_polled_edited_and_deleted_in_the_browser(
    tmp_path: Path, site: Site, browser: Browser, receiver: Receiver
) -> None:
    port = new_port()
    config = write_config(
        tmp_path, port, site,
        f'[[targets]]\nname = "team-chat"\nurl = "{receiver.url()}"\n',
    )  # fmt: skip
    out = shots(tmp_path)
    with running(config, tmp_path, port) as node:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(node.base + "/")
        page.get_by_role("link", name="Add a source").click()
        page.get_by_label("Address of a page").fill(site.url("/page/blog.html"))
        page.get_by_role("button", name="Find entries").click()
        best = page.locator(".candidate.best")
        expect(best).to_contain_text("12 items matching 'article.post-card'")
        expect(best).to_contain_text("Reading a flame graph, step by step")
        page.screenshot(path=out / "web-add-source.png", full_page=True)

        best.get_by_role("link", name="Use this list").click()
        entries = page.locator("#preview .entries li")
        expect(entries).to_have_count(12)
        expect(entries.first).to_contain_text("Reading a flame graph, step by step")
        fetched = site.hits["/page/blog.html"]
        # a selector typed: the preview follows, from the page fetched once
        page.get_by_label("Title", exact=True).fill("div.post-card-excerpt")
        expect(entries.first).not_to_contain_text("Reading a flame graph", timeout=10_000)
        expect(page.locator("#preview .summary")).to_contain_text("12 entries from 12 items")
        page.get_by_label("Item", exact=True).fill("article.nothing-here")
        expect(page.locator("#preview .warn").first).to_contain_text("matched nothing")
        expect(page.locator("#preview .hint").first).to_contain_text("article.post-card")
        page.get_by_label("Item", exact=True).fill("article.post-card")
        page.get_by_label("Title", exact=True).fill("h2")
        expect(entries.first).to_contain_text("Reading a flame graph, step by step")
        assert site.hits["/page/blog.html"] == fetched, "the preview never fetched again"
        page.get_by_label("Name").fill("ghost-blog")
        page.screenshot(path=out / "web-editor.png", full_page=True)
        page.get_by_role("button", name="Save").click()

        expect(page).to_have_url(node.base + "/sources/ghost-blog?saved=1")
        expect(page.locator("[role=status]")).to_contain_text("Saved")
        titles = feed_entries(node, "ghost-blog", 12)
        assert titles[0] == "Reading a flame graph, step by step", titles
        assert site.hits["/page/blog.html"] == fetched + 1, "polled once, after the save"
        page.reload()
        expect(page.locator("table.polls tbody tr").first).to_contain_text("ok")
        page.screenshot(path=out / "web-source.png", full_page=True)
        page.goto(node.base + "/")
        expect(page.locator("table.index tbody tr")).to_have_count(2)
        page.screenshot(path=out / "web-index.png", full_page=True)
        page.goto(node.base + "/sources/ghost-blog")

        # edit: a feed title
        page.get_by_role("link", name="Edit").click()
        page.get_by_role("group").get_by_text("Options").click()
        page.get_by_label("Feed title").fill("Ghost — Ünïcode blog")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("h1")).to_have_text("Ghost — Ünïcode blog")
        deadline = time.monotonic() + 60
        while "Ünïcode" not in node.get("/feeds/ghost-blog.atom").text:
            assert time.monotonic() < deadline, "the edited source was not served"
            time.sleep(0.2)

        # a bad edit: refused, shown, and the running source stays as it was
        page.get_by_role("link", name="Edit").click()
        page.get_by_label("Item", exact=True).fill("article[[")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_role("alert")).to_contain_text("Not saved")
        expect(page.locator(".field.invalid .problem")).to_contain_text("invalid CSS selector")
        page.screenshot(path=out / "web-bad-edit.png", full_page=True)
        assert len(feed_entries(node, "ghost-blog", 12)) == 12
        assert node.logged(r"config reloaded why=\"source ghost-blog saved")

        # delete: the feed answers 410
        page.goto(node.base + "/sources/ghost-blog")
        page.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete ghost-blog").click()
        expect(page).to_have_url(re.compile(r"/\?deleted=ghost-blog$"))
        assert node.get("/feeds/ghost-blog.atom").status_code == 410
        node.wait_log(r"source removed, its feed now answers 410 source=ghost-blog")

        # the targets page, and a test message through a target
        page.get_by_role("link", name="Targets").click()
        page.get_by_role("button", name="Send a test message").click()
        expect(page.locator(".tested")).to_contain_text("accepted")
        assert receiver.received, "the test message arrived"
        page.screenshot(path=out / "web-targets.png", full_page=True)


def test_a_hub_address_pasted_in_the_browser_becomes_a_hub_source_with_a_live_preview(
    tmp_path: Path,
    site: Site,
    browser: Browser,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An organization's page on the Hub: its new models found through the Hub's API (the
    page itself never fetched), another author typed in the editor and the preview follows,
    saved, polled and served; wide and narrow."""
    hub = FakeHub(httpserver)
    monkeypatch.setenv(HUB_ENV, hub.base_url)  # the node's tables read the fake Hub
    port = new_port()
    config = write_config(tmp_path, port, site)
    out = shots(tmp_path)
    with running(config, tmp_path, port) as node:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(node.base + "/sources/new")
        page.get_by_label("Address of a page").fill("https://huggingface.co/Qwen")
        page.get_by_role("button", name="Find entries").click()
        best = page.locator(".candidate.best")
        expect(best).to_contain_text("new models by Qwen")
        expect(best).to_contain_text("Qwen/Qwen3.5-14B-Instruct-GGUF")
        page.screenshot(path=out / "web-add-hub.png", full_page=True)

        best.get_by_role("link", name="Use this list").click()
        entries = page.locator("#preview .entries li")
        expect(entries).to_have_count(3)
        expect(page.get_by_role("textbox", name="Author")).to_have_value("Qwen")
        page.get_by_role("textbox", name="Author").fill("Qwen, deepseek-ai")
        expect(entries).to_have_count(6, timeout=10_000)
        expect(entries.first).to_contain_text("deepseek-ai/DeepSeek-V3.2-Exp")  # the newest
        page.get_by_label("Name").fill("qwen-and-deepseek")
        page.screenshot(path=out / "web-editor-hub.png", full_page=True)
        page.set_viewport_size({"width": 380, "height": 800})
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 380, f"the Hub editor is {width} px wide in a 380 px window"
        page.screenshot(path=out / "web-editor-hub-narrow.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("button", name="Save").click()

        expect(page).to_have_url(node.base + "/sources/qwen-and-deepseek?saved=1")
        titles = feed_entries(node, "qwen-and-deepseek", 6)
        assert titles[0] == "deepseek-ai/DeepSeek-V3.2-Exp", titles
    assert not [a for a in hub.answers if not a.path.startswith("/api/")], "only the API"


def test_long_and_non_ascii_titles_wrap_in_a_narrow_window(
    tmp_path: Path, site: Site, browser: Browser
) -> None:
    port = new_port()
    out = shots(tmp_path)
    with running(write_config(tmp_path, port, site), tmp_path, port) as node:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(node.base + "/sources/new")
        page.get_by_label("Address of a page").fill(site.url("/page/world.html"))
        page.get_by_role("button", name="Find entries").click()
        page.locator(".candidate.best").get_by_role("link", name="Use this list").click()
        entries = page.locator("#preview .entries li")
        expect(entries).to_have_count(len(TITLES))
        # as the feed will serve them: newest first (the page lists them oldest first)
        expect(entries.first).to_contain_text(TITLES[-1])
        expect(entries.nth(4)).to_contain_text(TITLES[1])  # the right-to-left one
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide in a 390px window"
        page.screenshot(path=out / "web-editor-narrow.png", full_page=True)
        page.get_by_label("Name").fill("welt")
        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(node.base + "/sources/welt?saved=1")
        assert feed_entries(node, "welt", len(TITLES)) == TITLES[::-1], "newest first"
        page.reload()
        expect(page.locator("h1")).to_have_text("Weltnachrichten", timeout=10_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=out / "web-source-narrow.png", full_page=True)
        page.goto(node.base + "/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=out / "web-index-narrow.png", full_page=True)


def test_an_exposed_server_asks_for_its_token_once_and_keeps_a_strict_session(
    tmp_path: Path, site: Site, browser: Browser
) -> None:
    port = new_port()
    config = write_config(
        tmp_path, port, site, 'host = "0.0.0.0"\ntoken = "correct-horse-battery"\n'
    )
    with running(config, tmp_path, port) as node:
        context = browser.new_context(viewport={"width": 1000, "height": 700})
        page = context.new_page()
        page.goto(node.base + "/sources/new")
        expect(page).to_have_url(re.compile(r"/login\?next=/sources/new$"))
        page.get_by_label("Token").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("That is not this server's token.")
        page.screenshot(path=shots(tmp_path) / "web-login.png")
        page.get_by_label("Token").fill("correct-horse-battery")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(node.base + "/sources/new")
        (cookie,) = context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert "correct-horse-battery" not in cookie["value"]
        page.get_by_role("button", name="Sign out").click()
        page.goto(node.base + "/sources/new")
        expect(page).to_have_url(re.compile(r"/login"))
        context.close()


def test_a_form_posted_from_another_site_is_refused_in_the_browser(
    tmp_path: Path, site: Site, browser: Browser
) -> None:
    port = new_port()
    site.pages["attack"] = (
        f'<!doctype html><html><body><form method="post" '
        f'action="http://127.0.0.1:{port}/sources/new/edit">'
        '<input name="name" value="pwned"><input name="kind" value="feed">'
        f'<input name="url" value="{site.url("/feed/news.xml")}">'
        '<input name="action" value="save"><input name="csrf" value="guessed">'
        "<button>Win a prize</button></form></body></html>"
    )
    with running(write_config(tmp_path, port, site), tmp_path, port) as node:
        context = browser.new_context()
        page = context.new_page()
        page.goto(node.base + "/sources/new")  # the victim has a session with the pages
        attack = site.url("/page/attack.html").replace("127.0.0.1", "localhost")
        page.goto(attack)
        page.get_by_role("button", name="Win a prize").click()
        expect(page.locator("main")).to_contain_text("Refused")
        assert page.url == node.base + "/sources/new/edit"
        assert node.get("/sources/pwned").status_code == 404, "nothing was made"
        context.close()
