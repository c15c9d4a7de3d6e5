"""`feedbridge run`: the worker and the feed server in one process, stopped by SIGTERM."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import feedparser
import httpx

from tests.conftest import HfApi, start_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(0.2)


def test_run_serves_feeds_with_conditional_get_and_stops_on_sigterm(
    tmp_path: Path, hf_api: HfApi
) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
base_url = "http://127.0.0.1:{port}"
[[sources]]
name = "hf-daily"
kind = "hf_papers"
base_url = "{hf_api.base_url}"
interval = "1h"
""")
    proc = start_run(config, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/healthz").text == "ok\n"
        deadline = time.monotonic() + 20
        while True:
            atom = httpx.get(f"{base}/feeds/hf-daily.atom")
            if len(feedparser.parse(atom.content).entries) == 37 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert atom.status_code == 200
        assert atom.headers["content-type"].startswith("application/atom+xml")
        assert len(feedparser.parse(atom.content).entries) == 37

        etag, modified = atom.headers["etag"], atom.headers["last-modified"]
        assert (
            httpx.get(f"{base}/feeds/hf-daily.atom", headers={"If-None-Match": etag}).status_code
            == 304
        )
        assert (
            httpx.get(
                f"{base}/feeds/hf-daily.atom", headers={"If-Modified-Since": modified}
            ).status_code
            == 304
        )
        for ext, kind in (("rss", "application/rss+xml"), ("json", "application/feed+json")):
            response = httpx.get(f"{base}/feeds/hf-daily.{ext}")
            assert response.headers["content-type"].startswith(kind)
            assert len(feedparser.parse(response.content).entries) == 37 or ext == "json"
        assert httpx.get(f"{base}/feeds/nope.atom").status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "stopping" in output
