"""A new user on a fresh machine (issue 18, items 16-21), each through the real `feedbridge`
process: what it prints, what it serves and how it exits."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.core.errors import EXIT_BUSY, EXIT_CONFIG, EXIT_FAILED, EXIT_SERVER
from tests.conftest import Receiver, run_cli, start_run
from tests.test_run import free_port, wait_for


def rss(*titles: str) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>https://blog.example/{t.replace(' ', '-')}</link>"
        f"<pubDate>Thu, 0{len(titles) - i} May 2026 10:00:00 GMT</pubDate></item>"
        for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
        f"<link>https://blog.example/</link><description>d</description>{items}</channel></rss>"
    )


def write_config(tmp_path: Path, body: str, port: int | None = None) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "data"\n[server]\nport = {port or free_port()}\n{body}')
    return config


@pytest.fixture
def origin(httpserver: HTTPServer) -> Iterator[list[str]]:
    """A blog feed whose body is the last string in the list it yields."""
    bodies = [rss("First post")]

    def answer(request: Request) -> Response:
        return Response(bodies[-1], content_type="application/rss+xml")

    httpserver.expect_request("/feed.xml").respond_with_handler(answer)
    yield bodies


def feed_source(httpserver: HTTPServer, interval: str = "1h") -> str:
    return f"""[[sources]]
name = "blog"
kind = "feed"
url = "{httpserver.url_for("/feed.xml")}"
interval = "{interval}"
"""


# --- item 17: the port is in use --------------------------------------------------------------


def test_run_on_a_port_in_use_says_so_in_one_line_and_exits_4(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, "", port)
        checked = run_cli("--config", str(config), "check", cwd=tmp_path)
        result = run_cli("--config", str(config), "run", cwd=tmp_path)
    assert result.returncode == EXIT_SERVER == 4
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} ([server] host and port): the port is in use "
        "(another feedbridge run?); set [server] port to a free one"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert "serving" not in result.stdout + result.stderr
    assert checked.returncode == 0, checked.stderr  # `check` warns, the config is fine
    assert f"warning: cannot listen on 127.0.0.1:{port}" in checked.stdout


# --- item 16: `once` beside `run` on one data directory ---------------------------------------


def test_once_beside_run_is_served_by_run_and_delivered_once_and_a_second_run_is_refused(
    tmp_path: Path, httpserver: HTTPServer, origin: list[str], receiver: Receiver
) -> None:
    port = free_port()
    config = write_config(tmp_path, feed_source(httpserver) + f"""
[[targets]]
name = "hook"
url = "{receiver.url()}"
""", port)
    proc = start_run(config, tmp_path, output=False)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", timeout=60)
        deadline = time.monotonic() + 60
        while b"First post" not in httpx.get(f"{base}/feeds/blog.atom").content:
            assert time.monotonic() < deadline, "run's first poll did not land"
            time.sleep(0.2)
        served = httpx.get(f"{base}/feeds/blog.atom")

        origin.append(rss("Second post", "First post"))
        once = run_cli("--config", str(config), "once", cwd=tmp_path)
        assert once.returncode == 0, once.stderr
        assert "blog: 2 entries, 1 new, 1 queued" in once.stdout
        assert re.search(r"deliveries: left to `feedbridge run` \(pid \d+\)", once.stdout)

        deadline = time.monotonic() + 30  # run syncs every 2 s and delivers every 5 s
        while b"Second post" not in httpx.get(f"{base}/feeds/blog.atom").content:
            assert time.monotonic() < deadline, "run kept serving the old feed"
            time.sleep(0.2)
        again = httpx.get(
            f"{base}/feeds/blog.atom", headers={"If-None-Match": served.headers["etag"]}
        )
        assert again.status_code == 200  # not the 304 of the old feed
        while not receiver.received:
            assert time.monotonic() < deadline, "run did not deliver what once queued"
            time.sleep(0.2)
        assert receiver.titles == ["Second post"]  # once, by run; `once` sent nothing

        second = run_cli(
            "--config", str(write_config(tmp_path, "", free_port())), "run", cwd=tmp_path
        )
        assert second.returncode == EXIT_BUSY == 5
        assert re.fullmatch(
            r"error: `feedbridge run` \(pid \d+\) already uses the data directory data: one "
            r"`feedbridge run` per directory \(several processes share a PostgreSQL store: "
            r"\[storage\] url\)\n",
            second.stderr,
        ), second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert receiver.titles == ["Second post"]


# --- items 18 and 19: every error at once, and what is wrong ----------------------------------


def test_check_names_every_bad_selector_and_digest_part_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, """
[[sources]]
name = "blog"
kind = "html"
url = "https://example.com/"
item = "div["
title = "h2]]"
link = "a@href"
date = "time::bogus@datetime"
[[targets]]
name = "daily"
url = "json://127.0.0.1:9/hook"
digest = "daily 25:00"
[[targets]]
name = "weekly"
url = "json://127.0.0.1:9/hook"
digest = "weekly 09:00"
[[targets]]
name = "cron"
url = "json://127.0.0.1:9/hook"
digest = "61 * * * *"
""")
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG
    problems = sorted(line.strip() for line in result.stderr.splitlines()[1:])
    assert problems == [
        "sources[0].date: invalid CSS selector 'time::bogus'",
        "sources[0].item: invalid CSS selector 'div['",
        "sources[0].title: invalid CSS selector 'h2]]'",
        'targets[0].digest: invalid digest "daily 25:00": the time "25:00" is not HH:MM from '
        "00:00 to 23:59",
        'targets[1].digest: invalid digest "weekly 09:00": "weekly" needs a day before the '
        'time, as in "weekly mon 09:00"',
        'targets[2].digest: invalid digest "61 * * * *": the minute field "61" is not 0-59',
    ]


def test_check_prints_the_zone_each_digest_runs_in(tmp_path: Path) -> None:
    config = write_config(tmp_path, """
[[targets]]
name = "plain"
url = "json://127.0.0.1:9/hook"
digest = "weekly monday 09:00"
[[targets]]
name = "berlin"
url = "json://127.0.0.1:9/hook"
digest = "daily 08:00 Europe/Berlin"
""")
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "delivery: digest weekly monday 09:00 (cron 0 9 * * 1 in UTC)" in result.stdout
    assert "delivery: digest daily 08:00 Europe/Berlin (cron 0 8 * * * in Europe/Berlin)" in (
        result.stdout
    )


# --- item 20: Apprise URLs --------------------------------------------------------------------


def test_apprise_url_errors_suggest_a_service_and_name_an_empty_variable(tmp_path: Path) -> None:
    config = write_config(tmp_path, """
[[targets]]
name = "typo"
url = "slak://TokenA/TokenB/TokenC/"
[[targets]]
name = "unset"
url = "${FEEDBRIDGE_TEST_EMPTY}"
""")
    result = run_cli(
        "--config", str(config), "check", cwd=tmp_path, env={"FEEDBRIDGE_TEST_EMPTY": ""}
    )
    assert result.returncode == EXIT_CONFIG
    assert 'targets[0].url: unknown Apprise service "slak://" (slak://***); did you mean ' in (
        result.stderr
    )
    assert "slack://" in result.stderr and "TokenA" not in result.stderr
    assert "targets[1].url: environment variable FEEDBRIDGE_TEST_EMPTY is set but empty" in (
        result.stderr
    )


def test_notify_test_says_which_port_refused_and_why(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    config = write_config(tmp_path, f"""
[[targets]]
name = "hook"
url = "json://127.0.0.1:{port}/hook"
""")
    result = run_cli("--config", str(config), "notify-test", "hook", cwd=tmp_path)
    assert result.returncode == EXIT_FAILED
    assert f"(127.0.0.1:{port}: [Errno 111] Connection refused)" in result.stdout
    # Apprise's debug log, read for that, stays off the console (its lines print tokens)
    assert " DEBUG " not in result.stderr and "Payload" not in result.stderr, result.stderr
    assert "WARNING apprise A Connection error occurred" in result.stderr  # as before


# --- item 21: exit codes, names, --version, the log ------------------------------------------


def test_preview_exits_1_when_the_item_selector_matches_nothing_as_once_does(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/blog").respond_with_data(
        "<html><body><article><h2><a href='/a'>A</a></h2></article></body></html>",
        content_type="text/html",
    )
    url = httpserver.url_for("/blog")
    nothing = run_cli("preview", "--url", url, "--item", "div.post", cwd=tmp_path)
    found = run_cli("preview", "--url", url, "--item", "article", cwd=tmp_path)
    assert nothing.returncode == EXIT_FAILED, nothing.stdout
    assert "the item selector matched nothing on this page" in nothing.stdout
    assert found.returncode == 0, found.stderr


def test_unknown_names_list_the_names_that_exist(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = write_config(tmp_path, feed_source(httpserver) + """
[[targets]]
name = "team-slack"
url = "json://127.0.0.1:9/hook"
[[targets]]
name = "inbox"
url = "json://127.0.0.1:9/other"
""")
    target = run_cli("--config", str(config), "notify-test", "slack", cwd=tmp_path)
    source = run_cli("--config", str(config), "preview", "blgo", cwd=tmp_path)
    assert (target.returncode, source.returncode) == (EXIT_CONFIG, EXIT_CONFIG)
    assert target.stderr.strip() == (
        "error: no target named 'slack'; the config's targets: team-slack, inbox"
    )
    assert source.stderr.strip() == "error: no source named 'blgo'; the config's sources: blog"


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"feedbridge {version('feedbridge')}\n"


@pytest.mark.slow
def test_run_logs_where_the_index_is_and_each_unchanged_poll(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss("First post"), content_type="application/rss+xml", headers={"ETag": '"v1"'}
    )
    port = free_port()
    config = write_config(tmp_path, feed_source(httpserver, interval="10s"), port)
    proc = start_run(config, tmp_path)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while not any("poll unchanged" in line for line in lines):
            assert time.monotonic() < deadline, "\n".join(lines)
            lines.append(proc.stdout.readline())
        index = httpx.get(f"http://127.0.0.1:{port}/feeds/", follow_redirects=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
    serving = next(line for line in lines if " serving " in line)
    assert f"index=http://127.0.0.1:{port}/" in serving and "/feeds/" not in serving
    unchanged = next(line for line in lines if "poll unchanged" in line)
    assert " INFO " in unchanged and "source=blog" in unchanged
    assert index.status_code == 200 and "blog" in index.text  # /feeds/ leads to the index
