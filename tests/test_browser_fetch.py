"""`fetch = "browser"`: a page whose items a script builds, through headless Chromium, to a feed.

The page is served by pytest-httpserver on 127.0.0.1; Chromium is Debian's, started by
feedbridge (one warm browser for the module) or by the test and reached over CDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer

from feedbridge.config import adhoc_source_config
from feedbridge.core.errors import EXIT_FAILED, EXIT_OK, ConfigError, FetchError
from feedbridge.fetch.browser import BrowserPool, BrowserSettings
from feedbridge.sources import build_source
from tests.atomcheck import A, check_atom
from tests.conftest import run_cli
from tests.tools import require_tool

POSTS = [
    {"path": "/posts/3", "title": "Third light", "date": "2026-11-03T09:30:00Z"},
    {"path": "/posts/2", "title": "Second wind", "date": "2026-11-02T08:00:00Z"},
    {"path": "posts/1", "title": "First steps", "date": "2026-11-01T07:15:00+01:00"},
]
# Items come from a fetch() of a JSON file, added after a timer: nothing is in the HTML.
JS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Lab notes</title></head>
<body><h1>Lab notes</h1><ul id="posts"></ul><img src="/banner.png" alt="">
<script>
fetch("/posts.json").then(r => r.json()).then(posts => setTimeout(() => {
  const list = document.getElementById("posts");
  for (const p of posts) {
    const li = document.createElement("li");
    li.className = "post";
    li.innerHTML = `<a href="${p.path}">${p.title}</a> <time datetime="${p.date}">${p.date}</time>`
      + `<p>Notes on ${p.title.toLowerCase()}.</p>`;
    list.appendChild(li);
  }
}, 300));
</script></body></html>"""
SELECTORS = {"item": "li.post", "title": "a", "link": "a@href", "date": "time", "summary": "p"}


def chromium_path() -> str:
    return require_tool("chromium", "chromium-headless-shell", package="chromium")


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/notes/").respond_with_data(JS_PAGE, content_type="text/html")
    httpserver.expect_request("/posts.json").respond_with_json(POSTS)
    httpserver.expect_request("/static/").respond_with_data(
        '<ul><li class="post"><a href="/s/1">Static one</a></li></ul>', content_type="text/html"
    )
    return httpserver


@pytest.fixture(scope="module")
def hanging_url() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/slow"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[BrowserPool]:
    """One warm browser for the module, as one feedbridge process has."""
    chromium_path()
    async with BrowserPool(BrowserSettings(timeout=20, max_pages=2)) as shared:
        yield shared


def html_source(url: str, **extra: object) -> object:
    return build_source(adhoc_source_config({"name": "notes", "kind": "html", "url": url,
                                             **SELECTORS, **extra}))


# --- the http fetcher sees nothing, and says why ----------------------------------------------

def test_http_fetcher_finds_no_items_on_a_script_built_page_and_says_so(
    site: HTTPServer, tmp_path: Path
) -> None:
    result = run_cli("preview", "--url", site.url_for("/notes/"), "--item", "li.post",
                     "--title", "a", cwd=tmp_path)
    assert result.returncode == EXIT_FAILED, result.stderr  # as `once` would (issue 18)
    assert "0 entries from 0 items" in result.stdout
    assert "the item selector matched nothing on this page" in result.stdout
    assert 'the page runs scripts: if they build the items, set fetch = "browser"' in result.stdout


# --- the browser fetcher sees what a reader sees ----------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
async def test_browser_fetcher_finds_every_item_with_absolute_links_and_dates(
    pool: BrowserPool, site: HTTPServer
) -> None:
    source = html_source(site.url_for("/notes/"), fetch="browser")
    fetcher = pool.fetcher("notes", source.config)  # type: ignore[attr-defined]
    page = await fetcher.get(site.url_for("/notes/"))
    entries = source.extract(page)  # type: ignore[attr-defined]

    assert [(e.title, e.link, e.published) for e in entries] == [
        ("Third light", site.url_for("/posts/3"), datetime(2026, 11, 3, 9, 30, tzinfo=UTC)),
        ("Second wind", site.url_for("/posts/2"), datetime(2026, 11, 2, 8, 0, tzinfo=UTC)),
        ("First steps", site.url_for("/notes/posts/1"), datetime(2026, 11, 1, 6, 15, tzinfo=UTC)),
    ]
    assert entries[0].summary == "Notes on third light."
    info = fetcher.last
    assert info is not None and info.waited_for == "li.post" and info.appeared_after is not None
    assert info.appeared_after >= 0.3  # the script's timer ran before the DOM was read
    assert info.blocked == 1  # the banner image was never downloaded
    assert not [r for r, _ in site.log if r.path == "/banner.png"]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_selector_that_never_appears_ends_at_wait_with_a_named_error(
    pool: BrowserPool, site: HTTPServer
) -> None:
    source = html_source(site.url_for("/notes/"), fetch="browser", wait_for="li.never", wait="1s")
    fetcher = pool.fetcher("notes", source.config)  # type: ignore[attr-defined]
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetcher.get(site.url_for("/notes/"))
    assert 1 <= time.monotonic() - started < 10
    assert str(caught.value) == (
        f"source 'notes' ({site.url_for('/notes/')}): "
        'waited 1s for "li.never" (wait_for); it never appeared'
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hanging_page_ends_at_the_deadline_and_the_browser_keeps_serving(
    pool: BrowserPool, site: HTTPServer, hanging_url: str
) -> None:
    quick = BrowserPool(BrowserSettings(timeout=2, max_body=3000))
    try:
        hung = html_source(hanging_url, fetch="browser")
        fetcher = quick.fetcher("hung", hung.config)  # type: ignore[attr-defined]
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"no complete page within 2s"):
            await fetcher.get(hanging_url)
        assert time.monotonic() - started < 60  # ended by the deadline, not hanging on
        quick.settings = replace(quick.settings, timeout=60)  # a loaded CI machine is slow
        ok = html_source(site.url_for("/notes/"), fetch="browser")
        page = await quick.fetcher("notes", ok.config).get(site.url_for("/notes/"))  # type: ignore[attr-defined]
        assert len(ok.extract(page)) == 3  # type: ignore[attr-defined]
        # the body cap applies to the page as the scripts left it, not as it was sent
        site.expect_request("/grows").respond_with_data(
            '<li class="post">a</li><script>document.body.append("x".repeat(5000))</script>',
            content_type="text/html",
        )
        big = html_source(site.url_for("/grows"), fetch="browser")
        with pytest.raises(FetchError, match=r"page of 5\d{3} bytes exceeds 3000$"):
            await quick.fetcher("big", big.config).get(site.url_for("/grows"))  # type: ignore[attr-defined]
        assert quick.restarts == 0
    finally:
        await quick.aclose()


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_crashed_browser_is_restarted_for_the_next_fetch(
    pool: BrowserPool, site: HTTPServer
) -> None:
    source = html_source(site.url_for("/notes/"), fetch="browser")
    fetcher = pool.fetcher("notes", source.config)  # type: ignore[attr-defined]
    await fetcher.get(site.url_for("/notes/"))
    assert pool.pid is not None
    before = pool.restarts
    os.killpg(pool.pid, signal.SIGKILL)
    for _ in range(2):  # the crash may surface on this fetch; the next one has a new browser
        try:
            page = await fetcher.get(site.url_for("/notes/"))
            break
        except FetchError as exc:
            assert "crashed" in str(exc) or "closed" in str(exc)
    assert len(source.extract(page)) == 3  # type: ignore[attr-defined]
    assert pool.restarts == before + 1


@pytest.mark.asyncio(loop_scope="module")
async def test_no_more_than_max_pages_load_at_once(pool: BrowserPool) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock, active, peak = threading.Lock(), [0], [0]

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.3)
            with lock:
                active[0] -= 1
            body = b'<li class="post"><a href="/x">x</a></li>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Slow) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        sources = [html_source(f"{base}/p{n}", fetch="browser") for n in range(5)]
        pages = await asyncio.gather(*(
            pool.fetcher(f"s{n}", s.config).get(f"{base}/p{n}")  # type: ignore[attr-defined]
            for n, s in enumerate(sources)
        ))
        server.shutdown()
    assert [len(s.extract(p)) for s, p in zip(sources, pages, strict=True)] == [1] * 5  # type: ignore[attr-defined]
    assert peak[0] == pool.settings.max_pages == 2


@pytest.mark.asyncio(loop_scope="module")
async def test_an_http_error_is_a_fetch_error_with_its_status(
    pool: BrowserPool, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/gone").respond_with_data("gone", status=410,
                                                          headers={"Retry-After": "120"})
    source = html_source(httpserver.url_for("/gone"), fetch="browser")
    with pytest.raises(FetchError) as caught:
        await pool.fetcher("gone", source.config).get(httpserver.url_for("/gone"))  # type: ignore[attr-defined]
    assert caught.value.status == 410 and caught.value.retry_after == 120
    assert caught.value.message == "HTTP 410 GONE"


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_hung_browser_is_killed_at_the_deadline_and_replaced(site: HTTPServer) -> None:
    chromium_path()  # skipped, with the install command, where Debian's chromium is missing
    quick = BrowserPool(BrowserSettings(timeout=60))  # a loaded CI machine is slow
    try:
        source = html_source(site.url_for("/notes/"), fetch="browser")
        fetcher = quick.fetcher("notes", source.config)  # type: ignore[attr-defined]
        await fetcher.get(site.url_for("/notes/"))
        quick.settings = replace(quick.settings, timeout=2)
        hung = quick.pid
        assert hung is not None
        os.killpg(hung, signal.SIGSTOP)  # alive, but answers nothing
        with pytest.raises(FetchError, match=r"no complete page within 2s"):
            await fetcher.get(site.url_for("/notes/"))
        assert quick.restarts == 1 and not _alive(hung)
        quick.settings = replace(quick.settings, timeout=60)  # a loaded CI machine is slow
        assert len(source.extract(await fetcher.get(site.url_for("/notes/")))) == 3  # type: ignore[attr-defined]
        assert quick.pid not in (None, hung)
    finally:
        await quick.aclose()


@pytest.mark.asyncio(loop_scope="module")
async def test_each_fetch_gets_a_fresh_context_with_its_own_cookies_and_headers(
    pool: BrowserPool, httpserver: HTTPServer
) -> None:
    seen: list[tuple[str | None, str | None]] = []

    def echo(request: object) -> object:
        from werkzeug import Response

        req = request  # werkzeug Request
        seen.append((req.headers.get("Cookie"), req.headers.get("X-Team")))  # type: ignore[attr-defined]
        return Response('<script>document.cookie = "left=behind"</script><li class="post">'
                        '<a href="/x">x</a></li>', content_type="text/html")

    httpserver.expect_request("/echo").respond_with_handler(echo)
    url = httpserver.url_for("/echo")
    first = html_source(url, fetch="browser", cookies={"session": "abc123"},
                        headers={"X-Team": "ml"})
    second = html_source(url, fetch="browser")
    await pool.fetcher("a", first.config).get(url)  # type: ignore[attr-defined]
    await pool.fetcher("b", second.config).get(url)  # type: ignore[attr-defined]
    assert seen == [("session=abc123", "ml"), (None, None)]


LAZY_PAGE = """<!doctype html><title>Lazy</title><body><ol id="list"></ol><script>
let shown = 0;
function more() {
  for (let i = 0; i < 4 && shown < 10; i++, shown++) {
    const li = document.createElement("li");
    li.className = "post";
    li.style.height = "400px";
    li.innerHTML = `<a href="/lazy/${shown}">Item ${shown}</a>`;
    document.getElementById("list").appendChild(li);
  }
}
more();
window.addEventListener("scroll", () => setTimeout(more, 100));
</script></body>"""


@pytest.mark.asyncio(loop_scope="module")
async def test_scroll_loads_a_lazy_list_until_it_ends(
    pool: BrowserPool, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/lazy").respond_with_data(LAZY_PAGE, content_type="text/html")
    url = httpserver.url_for("/lazy")
    unscrolled = html_source(url, fetch="browser")
    page = await pool.fetcher("lazy", unscrolled.config).get(url)  # type: ignore[attr-defined]
    assert len(unscrolled.extract(page)) == 4  # type: ignore[attr-defined]

    # each scroll waits up to 3 s for more items (1 s once fell short beside other tests)
    source = html_source(url, fetch="browser", scroll=5, wait="3s")
    fetcher = pool.fetcher("lazy", source.config)  # type: ignore[attr-defined]
    entries = source.extract(await fetcher.get(url))  # type: ignore[attr-defined]
    assert [e.title for e in entries] == [f"Item {n}" for n in range(10)]
    assert fetcher.last is not None and fetcher.last.scrolls == 2  # 4 + 4 + 2, then no more


# --- config -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"wait_for": "li"}, 'sources[0].wait_for: only used with fetch = "browser"'),
        ({"fetch": "browser", "block": ["video"]}, "sources[0].block[0]:"),
        ({"fetch": "browser", "wait": "0s"},
         'sources[0].wait: duration must be positive, got "0s"'),
        ({"fetch": "browser", "scroll": 99}, "sources[0].scroll:"),
        ({"fetch": "browser", "encoding": "latin-1"},
         'sources[0].encoding: not used with fetch = "browser" (the browser decodes the page)'),
        ({"fetch": "chrome"}, "sources[0].fetch:"),
    ],
)
def test_browser_options_are_validated_by_key(extra: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        adhoc_source_config({"name": "n", "kind": "html", "url": "http://x.test/", "item": "li",
                             **extra})
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_check_says_which_browser_and_its_version_or_why_none(tmp_path: Path) -> None:
    exe = chromium_path()
    config = tmp_path / "config.toml"
    base = ('[[sources]]\nname = "n"\nkind = "html"\nurl = "http://x.test/"\nitem = "li"\n'
            'fetch = "browser"\n')
    config.write_text(base)
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    assert f"browser: {version} at {exe}" in result.stdout
    assert "  n [html] http://x.test/ (in the browser), every 30m" in result.stdout

    config.write_text(base + '[browser]\nexecutable = "/opt/nowhere/chrome"\n')
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'error: fetch = "browser" sources, but no browser: /opt/nowhere/chrome not found: '
        "install Debian's chromium (apt-get install chromium), or set [browser] executable "
        "or [browser] cdp_url"
    )


@pytest.mark.slow
def test_preview_with_the_browser_says_how_long_and_what_it_waited_for(
    site: HTTPServer, tmp_path: Path
) -> None:
    chromium_path()
    result = run_cli("preview", "--url", site.url_for("/notes/"), "--fetch", "browser",
                     *[f"--{k}={v}" for k, v in SELECTORS.items()], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r'browser: Chromium [\d.]+; page ready in \d+\.\d\d s \(HTTP 200\); waited for '
        r'"li\.post": there after \d+\.\d\d s; 1 requests blocked', lines[1]
    ), lines[1]
    assert "3 entries from 3 items" in result.stdout
    assert "Third light" in result.stdout and site.url_for("/posts/3") in result.stdout


# --- end to end: `feedbridge once` to a valid Atom feed -----------------------------------------

def _config(tmp_path: Path, site: HTTPServer, browser: str, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[output]
dir = "out"
{browser}
[[sources]]
name = "notes"
kind = "html"
url = "{site.url_for('/notes/')}"
feed_title = "Lab notes"
fetch = "browser"
{chr(10).join(f'{k} = "{v}"' for k, v in SELECTORS.items())}
{extra}
""")
    return config


def _assert_notes_feed(tmp_path: Path, site: HTTPServer) -> None:
    atom = (tmp_path / "out" / "notes.atom").read_bytes()
    assert check_atom(atom) == []
    root = ET.fromstring(atom)
    links = [e.find(f"{A}link").get("href") for e in root.findall(f"{A}entry")]  # type: ignore[union-attr]
    assert links == [site.url_for("/posts/3"), site.url_for("/posts/2"),
                     site.url_for("/notes/posts/1")]
    assert [e.findtext(f"{A}published") for e in root.findall(f"{A}entry")] == [
        "2026-11-03T09:30:00+00:00", "2026-11-02T08:00:00+00:00", "2026-11-01T06:15:00+00:00"]


def test_once_with_system_chromium_gives_a_valid_feed_and_other_sources_are_unaffected(
    site: HTTPServer, tmp_path: Path
) -> None:
    chromium_path()
    extra = f"""
[[sources]]
name = "static"
kind = "html"
url = "{site.url_for('/static/')}"
item = "li.post"
[[sources]]
name = "never"
kind = "html"
url = "{site.url_for('/notes/')}"
item = "li.post"
fetch = "browser"
wait_for = "li.never"
wait = "1s"
"""
    result = run_cli("--config", str(_config(tmp_path, site, "", extra)), "once", cwd=tmp_path)
    assert result.returncode in (EXIT_OK, EXIT_FAILED), result.stderr  # "never" failed
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["notes"].startswith("3 entries") and lines["notes"].endswith("ok")
    assert lines["static"].startswith("1 entry,") and lines["static"].endswith("ok")
    assert lines["never"].endswith(
        f"error: source 'never' ({site.url_for('/notes/')}): "
        'waited 1s for "li.never" (wait_for); it never appeared'
    )
    _assert_notes_feed(tmp_path, site)


@pytest.fixture
def cdp_browser(tmp_path: Path) -> Iterator[str]:
    """A Chromium the test starts, as a separate browser container would run."""
    from feedbridge.fetch.chromium import CHROMIUM_FLAGS

    profile = tempfile.mkdtemp(prefix="cdp-test-")
    proc = subprocess.Popen(
        [chromium_path(), *CHROMIUM_FLAGS, "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    port_file = Path(profile) / "DevToolsActivePort"
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            assert time.monotonic() < deadline, "chromium wrote no DevToolsActivePort"
            assert proc.poll() is None, "chromium exited"
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.slow
def test_once_over_cdp_gives_a_valid_feed(
    site: HTTPServer, tmp_path: Path, cdp_browser: str
) -> None:
    config = _config(tmp_path, site, f'[browser]\ncdp_url = "{cdp_browser}"\n')
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("notes: 3 entries, 3 new"), result.stdout
    _assert_notes_feed(tmp_path, site)
    check = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert re.search(rf"browser: Chrome/[\d.]+ over CDP at {re.escape(cdp_browser)}", check.stdout)


@pytest.mark.slow
def test_the_browser_containers_script_serves_cdp_by_host_name(
    site: HTTPServer, tmp_path: Path
) -> None:
    """docker/cdp-browser.sh as the compose file runs it; cdp_url names a host, not an IP."""
    chromium_path()
    require_tool("socat", package="socat")
    port, inner = _free_port(), _free_port()
    proc = subprocess.Popen(
        ["sh", str(Path(__file__).parent.parent / "docker" / "cdp-browser.sh")],
        env={**os.environ, "CDP_PORT": str(port), "CDP_INNER_PORT": str(inner)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the relay listens at once; CDP answers once Chromium is up
            try:
                with socket.create_connection(("127.0.0.1", inner), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no CDP port"
                time.sleep(0.1)
        config = _config(tmp_path, site, f'[browser]\ncdp_url = "http://{socket.gethostname()}:{port}"\n')
        result = run_cli("--config", str(config), "once", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("notes: 3 entries, 3 new"), result.stdout
        _assert_notes_feed(tmp_path, site)
    finally:
        proc.terminate()  # the script stops Chromium (its own process group) and the relay
        proc.wait(timeout=15)


@pytest.mark.slow
def test_the_browser_containers_script_stops_with_exit_0_and_leaves_no_files(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`docker stop` sends SIGTERM to cdp-browser.sh: it must exit 0 (not fail removing a
    profile Chromium still writes) and leave nothing behind, not even in HOME, which is the
    image's /data volume. Three stops: the old script failed about half of them."""
    chromium_path()
    require_tool("socat", package="socat")
    home = tmp_path / "home"
    home.mkdir()
    # a short TMPDIR, as a container's /tmp: Chromium's socket paths must fit in 108 bytes
    tmp = Path(tempfile.mkdtemp(prefix="cdp-"))
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    for stop in range(3):
        inner, log = _free_port(), tmp_path / f"stop-{stop + 1}.log"
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                ["sh", str(Path(__file__).parent.parent / "docker" / "cdp-browser.sh")],
                env={**os.environ, "CDP_PORT": str(_free_port()), "CDP_INNER_PORT": str(inner),
                     "HOME": str(home), "TMPDIR": str(tmp)},
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 30
            while True:  # Chromium is up, writing its profile, once CDP answers
                try:
                    with socket.create_connection(("127.0.0.1", inner), timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"no CDP port: {log.read_text()[-2000:]}")
                    time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)  # to the script only, as to a container's PID 1
            proc.wait(timeout=15)
            assert proc.returncode == 0, f"stop {stop + 1}: {proc.returncode}: {log.read_text()}"
            assert list(tmp.iterdir()) == [], "the profile outlived the container's script"
            assert list(home.iterdir()) == [], "Chromium wrote into HOME (the /data volume)"
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- shutdown ---------------------------------------------------------------------------------

def _descendants(root: int) -> dict[int, str]:
    """Every process below `root`, by pid, with its command name (a /proc scan)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2:]
            if rest.split()[0] != "Z":
                parents[int(entry)] = int(rest.split()[1])
                names[int(entry)] = name
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = names[child]
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _kill_during_a_browser_fetch(
    tmp_path: Path, sig: signal.Signals
) -> tuple[float, dict[int, str], int]:
    """`feedbridge run` on a page that never answers, sent `sig` while the browser waits:
    seconds to exit, the browser processes it had, its exit code."""
    chromium_path()
    accepted = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            accepted.set()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
enabled = false
[[sources]]
name = "slow"
kind = "html"
url = "http://127.0.0.1:{server.getsockname()[1]}/"
item = "li"
fetch = "browser"
""")
    with (tmp_path / "log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log,
        )
    try:
        assert accepted.wait(60), "the browser never requested the page"
        browsers = {pid: n for pid, n in _descendants(proc.pid).items() if "chrom" in n}
        assert browsers, _descendants(proc.pid)
        started = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        server.close()
        acceptor.join(5)  # a connection accepted while closing must be closed too
        for conn in held:
            conn.close()
    deadline = time.monotonic() + 20  # orphaned renderers see their browser gone and exit
    while any(_alive(pid) for pid in browsers) and time.monotonic() < deadline:
        time.sleep(0.05)
    return took, browsers, proc.returncode


def test_sigterm_during_a_browser_fetch_exits_within_2s_leaving_no_chromium(
    tmp_path: Path,
) -> None:
    took, browsers, code = _kill_during_a_browser_fetch(tmp_path, signal.SIGTERM)
    assert took < 2, f"exit took {took:.2f}s"
    assert not [pid for pid in browsers if _alive(pid)], browsers
    assert code == 0, (tmp_path / "log").read_text()
    assert "stopping" in (tmp_path / "log").read_text()


@pytest.mark.slow
def test_sigkill_of_feedbridge_takes_its_chromium_with_it(tmp_path: Path) -> None:
    """No cleanup code runs on SIGKILL: Chromium was told to die with its parent."""
    _, browsers, code = _kill_during_a_browser_fetch(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not [pid for pid in browsers if _alive(pid)], browsers
