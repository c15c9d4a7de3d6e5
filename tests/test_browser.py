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
