"""What an operator sees: `once`'s exit codes, `check` and `preview --url` errors, the
index page from a source's first failure, metrics from start-up, links that follow the port."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.app.cli import main
from feedbridge.app.runtime import runtime
from feedbridge.config import load_config
from feedbridge.core.errors import StoreError
from feedbridge.core.metrics import Metrics
from tests.conftest import Receiver, run_cli, start_run
from tests.test_run import free_port, wait_for

PAGE = (
    "<html><body><main>"
    + "".join(f'<article><h2><a href="/p/{i}">Post {i}</a></h2></article>' for i in range(3))
    + "</main></body></html>"
)
REDESIGNED = "<html><body><main><div class='card'><h2>Post 0</h2></div></main></body></html>"


def blog(url: str, item: str = "article", extra: str = "") -> str:
    return f"""
[[sources]]
name = "blog"
kind = "html"
url = "{url}"
item = "{item}"
first_run = "notify"
{extra}
"""


def once(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\npath = "data"\n' + text)
    return run_cli("--config", str(config), "once", cwd=tmp_path)


# --- once: exit codes -----------------------------------------------------------------------


def test_once_exits_0_when_every_source_and_delivery_worked(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    httpserver.expect_request("/blog/").respond_with_data(PAGE, content_type="text/html")
    target = f'[[targets]]\nname = "hook"\nurl = "{receiver.url()}"\n'
    result = once(tmp_path, blog(httpserver.url_for("/blog/")) + target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "blog: 3 entries, 3 new, 3 queued, " in result.stdout
    assert len(receiver.received) == 3
    again = run_cli("--config", "config.toml", "once", cwd=tmp_path)  # the very same page
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.fullmatch(r"blog: unchanged since the last poll, \d+ ms, ok\n", again.stdout)
    assert len(receiver.received) == 3


def test_once_exits_1_when_a_source_fails(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/blog/").respond_with_data("down", status=500)
    url = httpserver.url_for("/blog/")
    result = once(tmp_path, blog(url))
    assert result.returncode == 1
    assert "blog: 0 entries, 0 new, 0 queued" in result.stdout
    assert f"error: source 'blog' ({url}): HTTP 500" in result.stdout


def test_once_exits_1_when_a_delivery_fails(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    httpserver.expect_request("/blog/").respond_with_data(PAGE, content_type="text/html")
    receiver.status = 500
    target = f'[[targets]]\nname = "hook"\nurl = "{receiver.url()}"\n'
    result = once(tmp_path, blog(httpserver.url_for("/blog/")) + target)
    assert result.returncode == 1
    assert "blog: 3 entries, 3 new, 3 queued" in result.stdout  # the source itself was fine
    assert "target hook: 3 messages not delivered yet, will retry" in result.stdout


def test_once_exits_0_while_entries_wait_for_a_digest(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    httpserver.expect_request("/blog/").respond_with_data(PAGE, content_type="text/html")
    digest = time.strftime("%H:%M", time.gmtime(time.time() + 6 * 3600))
    target = (
        f'[[targets]]\nname = "hook"\nurl = "{receiver.url()}"\ndigest = "daily {digest} UTC"\n'
    )
    result = once(tmp_path, blog(httpserver.url_for("/blog/")) + target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"target hook: 3 entries waiting for the digest at {digest} UTC" in result.stdout
    assert receiver.received == []


def test_item_selector_matching_nothing_on_a_page_with_content_warns_and_exits_1(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/blog/").respond_with_data(REDESIGNED, content_type="text/html")
    url = httpserver.url_for("/blog/")
    result = once(tmp_path, blog(url, item="article.post"))
    assert result.returncode == 1
    warning = (
        f"source 'blog' ({url}): item selector 'article.post' matched nothing on a page "
        "with content"
    )
    assert result.stdout == (
        f"blog: 0 entries, 0 new, 0 queued, {ms(result.stdout)} ms, warning: {warning}\n"
    )
    assert "poll warning" in result.stderr and "article.post" in result.stderr
    # the status shows it (index page, preview): kept until a poll matches again
    preview = run_cli("--config", "config.toml", "preview", "blog", cwd=tmp_path)
    assert f"last poll by the worker: warning ({warning})" in preview.stdout
    again = run_cli("--config", "config.toml", "once", cwd=tmp_path)  # the very same page
    assert again.returncode == 1 and f"warning: {warning}" in again.stdout
    httpserver.clear()
    fixed = PAGE.replace("<article>", '<article class="post">')
    httpserver.expect_request("/blog/").respond_with_data(fixed, content_type="text/html")
    assert run_cli("--config", "config.toml", "once", cwd=tmp_path).returncode == 0
    preview = run_cli("--config", "config.toml", "preview", "blog", cwd=tmp_path)
    assert "last poll by the worker: ok\n" in preview.stdout


def test_an_empty_page_is_not_a_selector_warning(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/blog/").respond_with_data(
        "<html><body>  </body></html>", content_type="text/html"
    )
    result = once(tmp_path, blog(httpserver.url_for("/blog/")))
    assert result.returncode == 0, result.stdout
    assert result.stdout.endswith(" ms, ok\n")


def ms(stdout: str) -> str:
    return stdout.split(" ms,")[0].rsplit(", ", 1)[1]


def test_once_exits_2_on_a_config_error_and_3_on_a_store_error(tmp_path: Path) -> None:
    assert once(tmp_path, 'colour = "blue"\n').returncode == 2
    config = tmp_path / "store.toml"
    config.write_text('[storage]\npath = "/proc/feedbridge"\n')
    assert run_cli("--config", str(config), "once", cwd=tmp_path).returncode == 3


# --- check and preview ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/proc/feedbridge", "/sys/feedbridge"])
def test_check_fails_like_once_on_a_store_that_cannot_be_created(tmp_path: Path, path: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{path}"\n')
    checked = run_cli("--config", str(config), "check", cwd=tmp_path)
    ran = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert (checked.returncode, ran.returncode) == (3, 3)
    assert checked.stderr.startswith(f"error: cannot open the store at {path}: ")
    assert checked.stderr == ran.stderr
    assert "config ok" not in checked.stdout


def test_check_on_a_new_store_leaves_nothing_behind(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\npath = "var/lib/feedbridge"\n')
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("config ok\n")
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--url", "notaurl", "--item", "li"],
         '--url: must be an absolute http(s) URL, got "notaurl"'),
        (["--url", "https://x.test/", "--item", "li[["], "--item: invalid CSS selector 'li[['"),
        (["--url", "https://x.test/", "--item", "li", "--title", "h2[["],
         "--title: invalid CSS selector 'h2[['"),
        (["--url", "https://x.test/", "--kind", "json", "--item", "data.[["],
         '--item: invalid JMESPath expression "data.[["'),
        (["--url", "https://x.test/", "--kind", "feed", "--date", "time"],
         "--date: not used with --kind feed"),
        (["--url", "https://x.test/"], "--item is required with --kind html"),
    ],
)  # fmt: skip
def test_preview_url_errors_name_the_command_line_flag(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(main, ["preview", *args])  # in-process: no fetch happens
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "sources" not in result.stderr


# --- metrics from start-up ------------------------------------------------------------------

SERIES = [
    "feedbridge_source_polls_total",
    "feedbridge_source_errors_total",
    "feedbridge_source_entries",
    "feedbridge_source_new_entries_total",
    "feedbridge_source_last_success_timestamp_seconds",
    "feedbridge_source_poll_duration_seconds",
]
TARGET_SERIES = [
    "feedbridge_target_deliveries_sent_total",
    "feedbridge_target_deliveries_failed_total",
    "feedbridge_target_queued",
]


def test_every_series_of_every_source_and_target_exists_at_0_from_start_up(
    tmp_path: Path,
) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text(f"""
[storage]
path = "{tmp_path / "data"}"
{blog("https://blog.example/")}
[[sources]]
name = "hf"
kind = "hf_papers"
[[targets]]
name = "hook"
url = "json://127.0.0.1:9/hook"
""")

    async def scrape() -> str:
        async with runtime(load_config(config_path)) as rt:
            return rt.metrics.expose().decode()

    text = asyncio.run(scrape())
    for source in ("blog", "hf"):
        for series in SERIES:
            assert f'{series}{{source="{source}"}} 0.0' in text, (series, source)
    for series in TARGET_SERIES:
        assert f'{series}{{target="hook"}} 0.0' in text, series


def test_series_are_created_after_start_up_and_a_poll_first_wins_over_the_stored_time() -> None:
    """know() creates nothing (5,000 sources cost a third of a second); settle(), a poll or a
    scrape does, and a source polled before that keeps its new last success."""
    metrics = Metrics()
    metrics.know(["polled", "idle"], ["hook"], lambda names: dict.fromkeys(names, 1000.0))
    sample = metrics.registry.get_sample_value
    assert sample("feedbridge_source_polls_total", {"source": "idle"}) is None
    assert sample("feedbridge_target_deliveries_sent_total", {"target": "hook"}) == 0.0
    metrics.record_poll("polled", ok=True, seconds=0.5, new=2, entries=7)
    text = metrics.expose().decode()
    assert 'feedbridge_source_last_success_timestamp_seconds{source="idle"} 1000.0' in text
    assert 'feedbridge_source_polls_total{source="idle"} 0.0' in text
    polled = sample("feedbridge_source_last_success_timestamp_seconds", {"source": "polled"})
    assert polled is not None and polled > time.time() - 60
    assert sample("feedbridge_source_entries", {"source": "polled"}) == 7.0

    later = Metrics()
    reads: list[int] = []

    def stored(names: Sequence[str]) -> dict[str, float | None]:
        reads.append(len(names))
        return {n: 5.0 for n in names if n != "s0"}  # s0: never succeeded

    later.know([f"s{i}" for i in range(450)], [], stored)
    asyncio.run(later.settle())
    assert reads == [200, 200, 50], "one store call per batch, not one per source"
    sample = later.registry.get_sample_value
    assert sample("feedbridge_source_errors_total", {"source": "s449"}) == 0
    assert sample("feedbridge_source_last_success_timestamp_seconds", {"source": "s0"}) == 0
    assert sample("feedbridge_source_last_success_timestamp_seconds", {"source": "s449"}) == 5


def test_a_store_that_cannot_give_last_successes_costs_one_call_per_batch() -> None:
    """The store is locked or down: settle makes one failing call per batch (each may wait a
    lock timeout), the series exist at 0 and the first poll sets them."""
    metrics = Metrics()
    calls: list[int] = []

    def stored(names: Sequence[str]) -> dict[str, float | None]:
        calls.append(len(names))
        raise StoreError("store at postgresql://db failed: canceling statement due to lock timeout")

    metrics.know([f"s{i}" for i in range(300)], [], stored)
    asyncio.run(metrics.settle())
    assert calls == [200, 100]
    sample = metrics.registry.get_sample_value
    assert sample("feedbridge_source_last_success_timestamp_seconds", {"source": "s299"}) == 0


# --- feedbridge run: the index page, links that follow the port, /metrics at once --------------


def test_run_shows_a_failing_source_from_its_first_failure_with_links_on_its_port(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/blog/").respond_with_data("down", status=500)
    url = httpserver.url_for("/blog/")
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
host = "0.0.0.0"
port = {port}
{blog(url)}
[[targets]]
name = "ops"
url = "json://127.0.0.1:9/hook"
health = true
""")
    proc = start_run(config, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz")
        metrics = httpx.get(f"{base}/metrics").text
        for series in SERIES:
            assert f'{series}{{source="blog"}}' in metrics, series
        for series in TARGET_SERIES:
            assert f'{series}{{target="ops"}} 0.0' in metrics, series
        deadline = time.monotonic() + 30
        while 'class="status failing"' not in (page := httpx.get(f"{base}/").text):
            assert time.monotonic() < deadline, page
            time.sleep(0.1)
        opml = httpx.get(f"{base}/opml").text
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert '<td class="status failing" data-label="Status">failing (1 in a row)' in page
    assert f"source &#39;blog&#39; ({url}): HTTP 500" in page
    assert f'href="http://localhost:{port}/feeds/blog.atom"' in page
    assert "localhost:8080" not in page + opml
    assert f'xmlUrl="http://localhost:{port}/feeds/blog.atom"' in opml
    assert "server.base_url not set" in output and f"base_url=http://localhost:{port}" in output
    assert "health event" not in output  # the alert waits for the third failure
    assert re.search(r"retry scheduled source=blog in_s=6\d\b", output), output  # 1 min, not 30


# --- the schedule, in fake time ---------------------------------------------------------------


async def test_a_failing_source_is_retried_after_1_2_4_8_min_then_every_interval(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The worker's own loop, on an injected clock: poll times as the source sees them."""
    clock = [1_000_000.0]
    polls: list[float] = []

    def handler(request: Request) -> Response:
        polls.append(clock[0])
        if len(polls) <= 7:
            return Response("down", status=500)
        return Response(PAGE, content_type="text/html")

    httpserver.expect_request("/blog/").respond_with_handler(handler)
    config = tmp_path / "config.toml"
    config.write_text(
        '[storage]\npath = "data"\n[server]\nenabled = false\n'
        + blog(httpserver.url_for("/blog/"), extra='interval = "10m"\njitter = 0')
    )
    stop = asyncio.Event()

    async def fake_sleep(stopping: asyncio.Event, seconds: float) -> bool:
        clock[0] += max(seconds, 0.0)
        if len(polls) >= 9:
            stopping.set()
        return stopping.is_set()

    async with runtime(load_config(config)) as rt:
        rt.worker.clock = lambda: clock[0]
        rt.worker.sleep = fake_sleep
        await asyncio.wait_for(rt.worker.run_forever(stop), 60)
        state = rt.store.source_state("blog").to_dict()
    minutes = [round((t - polls[0]) / 60) for t in polls]
    assert minutes == [0, 1, 3, 7, 15, 25, 35, 45, 55]  # 7 failures, then back on its interval
    assert state["failures"] == 0 and state["last_poll"] == polls[-1]
