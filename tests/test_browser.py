"""A real browser (Debian's headless Chromium) loads the index page of a running instance."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from selectolax.lexbor import LexborHTMLParser

from tests.conftest import HfApi, start_run
from tests.test_run import free_port, wait_for
from tests.tools import require_tool

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium(tmp_path: Path, *args: str) -> str:
    browser = require_tool("chromium", "chromium-browser", package="chromium")
    profile = tmp_path / "profile"
    result = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_index_page_in_a_real_browser_lists_sources_with_subscribe_links(
    tmp_path: Path, hf_api: HfApi
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
base_url = "{base}"
[[sources]]
name = "hf-daily"
kind = "hf_papers"
base_url = "{hf_api.base_url}"
[[sources]]
name = "hf-trending"
kind = "hf_papers"
listing = "trending"
base_url = "{hf_api.base_url}"
""")
    proc = start_run(config, tmp_path, output=False)
    try:
        wait_for(f"{base}/healthz")
        deadline = time.monotonic() + 20
        while "37" not in httpx.get(base).text and time.monotonic() < deadline:
            time.sleep(0.2)
        dom = chromium(tmp_path, "--dump-dom", f"{base}/")
        shot = Path(os.environ.get("FEEDBRIDGE_SHOT_DIR", tmp_path)) / "index.png"
        chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", f"{base}/")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    tree = LexborHTMLParser(dom)
    rows = tree.css("tbody tr")
    assert len(rows) == 2
    first = rows[0].text(separator=" ", strip=True)
    assert "Hugging Face Daily Papers" in first and "hf_papers" in first and "ok" in first
    assert "Hugging Face Trending Papers" in rows[1].text(separator=" ")
    links = {a.text(strip=True): a.attributes["href"] for a in rows[0].css("td:last-child a")}
    assert links == {"Atom": f"{base}/feeds/hf-daily.atom", "RSS": f"{base}/feeds/hf-daily.rss",
                     "JSON": f"{base}/feeds/hf-daily.json"}
    alternates = [(n.attributes["type"], n.attributes["href"])
                  for n in tree.css('head link[rel="alternate"]')]
    assert alternates == [("application/atom+xml", f"{base}/feeds/hf-daily.atom"),
                          ("application/atom+xml", f"{base}/feeds/hf-trending.atom")]
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_index_page_under_its_csp_in_chromium_styles_itself_and_runs_no_inline_script(
    tmp_path: Path,
) -> None:
    """Chromium honours the page's Content-Security-Policy: the hashed <style> applies, a
    script injected inline is refused (a violation event, never run), and a page on another
    origin cannot frame it."""
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    from tests.test_server import BASE, SOURCES, board_with, create_app

    executable = require_tool("chromium", "chromium-browser", package="chromium")
    port = free_port()
    app = create_app(board_with(), SOURCES, base_url=BASE)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=FLAGS[1:])
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/")
            max_width = page.evaluate("getComputedStyle(document.body).maxWidth")
            injected = page.evaluate("""() => new Promise(resolve => {
                document.addEventListener('securitypolicyviolation',
                    e => resolve({blocked: e.violatedDirective, ran: !!window.injected}));
                setTimeout(() => resolve({blocked: null, ran: !!window.injected}), 10000);
                const s = document.createElement('script');
                s.textContent = 'window.injected = true';
                document.body.appendChild(s);
            })""")
            # set_content returns on the load event, which waits for the frame to load or fail
            page.set_content(f'<iframe src="http://127.0.0.1:{port}/"></iframe>')
            framed = page.frames[1].url
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert max_width == "1152px"  # 72rem: the hashed style applied
    assert injected == {"blocked": "script-src-elem", "ran": False}
    assert framed == "chrome-error://chromewebdata/"  # refused: frame-ancestors 'none'
    assert not [e for e in errors if "Content Security Policy" in e and "style" in e], errors
