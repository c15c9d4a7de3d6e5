"""Secrets never appear in logs (at DEBUG), errors, `check` output or pages."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from feedbridge.app.runtime import channels
from feedbridge.config import load_config, secret_fragments
from feedbridge.core.logs import setup_logging
from feedbridge.notify.outbox import Notifier
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import entry_notice
from tests.conftest import run_cli, start_run
from tests.test_notify import papers

SECRETS = {
    "TELEGRAM_TOKEN": "7351982465:AAHk3xQz9vB2mN8pL5rT1wY6uE4iO0sDfGh",
    "DISCORD_TOKEN": "Xq2bN8mL5pR1tY6wE4uI0oDfGhJkLzXcVbNmQwErTyUiOpAsDfGhJkLzXcVbNm",
    "SLACK_TOKEN_C": "Zq8Yx7Wv6Ut5Sr4Qp3On2Ml1",
    "SMTP_PASSWORD": "hunter2-Pa55w0rd!",
    "SERVER_TOKEN": "srv-8c1d9e2f7a6b5c4d",
}


def write_config(tmp_path: Path) -> Path:
    secret_file = tmp_path / "slack_url"
    secret_file.write_text(f"slack://T1JJ3T3L2/A1BRTD4JD/{SECRETS['SLACK_TOKEN_C']}/#papers\n")
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "{tmp_path / "data"}"
[server]
token = "${{SERVER_TOKEN}}"
[[targets]]
name = "telegram"
url = "tgram://${{TELEGRAM_TOKEN}}/-1001234567890"
health = true
[[targets]]
name = "discord"
url = "discord://1174216298/${{DISCORD_TOKEN}}"
[[targets]]
name = "slack"
url_file = "{secret_file}"
[[targets]]
name = "mail"
url = "mailtos://papers:${{SMTP_PASSWORD}}@smtp.example.com?to=me@example.com"
""")
    return config


def assert_no_secret(text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked"
        assert value[:12] not in text, f"a prefix of {name} leaked"


def test_check_output_masks_every_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    env = {k: v for k, v in SECRETS.items()}
    result = run_cli("--config", str(config), "check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "telegram" in result.stdout and "***" in result.stdout
    assert_no_secret(result.stdout + result.stderr)


def test_config_errors_do_not_echo_secrets(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        f'[[targets]]\nname = "x"\nurl = "nosuchscheme://{SECRETS["DISCORD_TOKEN"]}"\n'
        f'min_score = "lots"\n[server]\ntoken = 5\n'
    )
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "targets[0].url" in result.stderr
    assert_no_secret(result.stdout + result.stderr)


async def test_failed_deliveries_at_debug_log_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = load_config(write_config(tmp_path))
    setup_logging("debug", secret_fragments(config))
    logging.getLogger("apprise").setLevel(logging.DEBUG)  # the worst case: its debug lines too

    def refuse(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError(f"cannot connect to {url}")

    with (
        mock.patch("requests.sessions.Session.request", side_effect=refuse),
        mock.patch("smtplib.SMTP_SSL", side_effect=OSError("smtp refused")),
        mock.patch("smtplib.SMTP", side_effect=OSError("smtp refused")),
        Store(tmp_path / "data") as store,
    ):
        now = [1_000_000.0]
        notifier = Notifier(channels(config), store, clock=lambda: now[0])
        for target in notifier.channels:
            store.enqueue([entry_notice(target, papers(1)[0], 0)], 0)
        for _ in range(4):
            await notifier.deliver(respect_backoff=False)
            now[0] += 86400  # past every retry window: each row is tried, then given up
        reasons = [row.reason for t in notifier.channels for row in store.failed(t)]
    logging.getLogger().handlers.clear()
    logs = capsys.readouterr().err
    assert reasons, "the deliveries should have failed"
    assert "delivery given up" in logs
    assert_no_secret(logs + "\n".join(reasons))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://fb:s3cret@db:5432/feeds", "postgresql://fb:***@db:5432/feeds"),
        ("postgresql://feedbridge@db/feeds", "postgresql://feedbridge@db/feeds"),
        ("postgresql://db/feeds?sslmode=require", "postgresql://db/feeds?sslmode=require"),
        ("postgresql://u:p%40ss@db/p%40ss", "postgresql://u:***@db/p%40ss"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    """`check`'s summary and the store's errors show the one masked form of `[storage] url`."""
    from feedbridge.core.logs import mask_dsn

    assert mask_dsn(url) == shown


# --- issue 19, item 4: a secret in a source URL is masked wherever a URL goes -----------------

FEED_KEY = "k3y-5ecret-value-42"
FILED = "filed-t0ken-99"


def _upstream(httpserver: Any) -> str:
    """A feed that echoes the key in its own site link, a page, and a source that fails."""
    base = httpserver.url_for("")
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>API news</title>'
        f"<link>{base}feed.xml?api_key={FEED_KEY}&amp;lang=en</link>"
        "<item><title>First</title><link>https://blog.example/1</link></item>"
        "</channel></rss>"
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss, content_type="application/rss+xml"
    )
    httpserver.expect_request("/page").respond_with_data(
        '<ul><li><a href="https://blog.example/2">Second</a></li></ul>', content_type="text/html"
    )
    httpserver.expect_request("/anchors").respond_with_data(
        '<ul><li><a href="#one">One</a></li></ul>', content_type="text/html"
    )  # a link resolved against the page's URL keeps its query: the key
    httpserver.expect_request("/gone").respond_with_data("no", status=500)
    return base.rstrip("/")


def test_a_secret_in_a_source_url_is_never_published_logged_or_shown(
    tmp_path: Path, httpserver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xml.etree import ElementTree

    import httpx

    from tests.test_run import free_port, wait_for

    base = _upstream(httpserver)
    (tmp_path / "token").write_text(f"{base}/page?t={FILED}\n")  # a whole URL, from a file
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {port}
[output]
dir = "public"
[[sources]]
name = "api"
kind = "feed"
url = "{base}/feed.xml?api_key=${{FEED_KEY}}&lang=en"
[[sources]]
name = "page"
kind = "html"
url = "{base}/page?token=${{FEED_KEY}}"
item = "li"
title = "a"
link = "a@href"
[[sources]]
name = "anchors"
kind = "html"
url = "{base}/anchors?token=${{FEED_KEY}}"
item = "li"
title = "a"
link = "a@href"
[[sources]]
name = "gone"
kind = "feed"
url = "{base}/gone?key=${{FEED_KEY}}"
[[sources]]
name = "filed"
kind = "html"
url_file = "{tmp_path / "token"}"
item = "li"
title = "a"
""")
    monkeypatch.setenv("FEED_KEY", FEED_KEY)
    seen: dict[str, str] = {}
    once = run_cli("--log-level", "debug", "--config", str(config), "once", cwd=tmp_path)
    assert once.returncode == 1, once.stderr  # `gone` failed
    seen["once"] = once.stdout + once.stderr
    seen["check"] = run_cli("--config", str(config), "check", cwd=tmp_path).stdout
    seen["opml"] = run_cli("--config", str(config), "export-opml", cwd=tmp_path).stdout
    preview = run_cli("--config", str(config), "preview", "gone", cwd=tmp_path)
    seen["preview"] = preview.stdout + preview.stderr
    for path in sorted((tmp_path / "public").iterdir()):
        seen[path.name] = path.read_text()
    proc = start_run(config, tmp_path, output=False)
    try:
        seen["index"] = wait_for(f"http://127.0.0.1:{port}/").text
        seen["served opml"] = httpx.get(f"http://127.0.0.1:{port}/opml").text
        seen["served atom"] = httpx.get(f"http://127.0.0.1:{port}/feeds/api.atom").text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    leaks = [name for name, text in seen.items() if FEED_KEY[:10] in text or FILED in text]
    assert leaks == []
    assert "filed" in seen["index"] and "source=filed" in seen["once"]
    # the links lead where they did, without the key
    api = json.loads(seen["api.json"])
    assert api["home_page_url"] == f"{base}/feed.xml?lang=en"
    assert json.loads(seen["page.json"])["home_page_url"] == f"{base}/page"
    assert json.loads(seen["anchors.json"])["items"][0]["url"] == f"{base}/anchors#one"
    atom = ElementTree.fromstring(seen["served atom"])
    alternate = atom.find("{http://www.w3.org/2005/Atom}link[@rel='alternate']")
    assert alternate is not None and alternate.get("href") == f"{base}/feed.xml?lang=en"
    assert f'href="{base}/page"' in seen["index"]  # the source link, whatever its markup
    assert f'htmlUrl="{base}/page"' in seen["opml"]
    # the error says which URL failed, the key masked
    assert f"({base}/gone?key=***): HTTP 500" in seen["once"]
    assert f"{base}/gone?key=***" in seen["index"] and f"{base}/gone?key=***" in seen["preview"]
    assert f"poll failed source=gone url={base}/gone?key=***" in seen["once"]  # the log line


def test_values_from_the_environment_and_files_are_secrets_but_public_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_KEY", FEED_KEY)
    monkeypatch.setenv("BASE", "https://feeds.example.org")
    config = tmp_path / "c.toml"
    config.write_text("""
[server]
base_url = "${BASE}"
[browser]
cdp_url = "ws://browser:3000/?token=${FEED_KEY}"
[[sources]]
name = "api"
kind = "json"
items = "items"
url = "https://api.example/v1/${FEED_KEY}/items"
headers = { X-Api-Key = "${FEED_KEY}" }
""")
    loaded = load_config(config)
    assert loaded.secrets.values == (FEED_KEY,)  # the base_url is published by design
    source = loaded.sources[0]
    assert source.secrets.public_url(source.url) == "https://api.example/v1/"  # type: ignore[union-attr]
    assert FEED_KEY in secret_fragments(loaded)
    filed = tmp_path / "f.toml"
    filed.write_text(
        f'[[sources]]\nname = "f"\nkind = "feed"\nurl_file = "{tmp_path / "token"}"\n'
    )
    (tmp_path / "token").write_text(f"https://api.example/feed?t={FILED}\n")
    from_file = load_config(filed)
    assert from_file.secrets.values == (f"https://api.example/feed?t={FILED}",)
    source = from_file.sources[0]
    assert source.secrets.public_url(source.url) == "https://api.example/"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://api.example/feed?api_key=S3CRET&lang=en", "https://api.example/feed?lang=en"),
        ("https://api.example/feed?lang=en&k=S3CRET#top", "https://api.example/feed?lang=en#top"),
        ("https://bob:S3CRET@api.example/feed", "https://api.example/feed"),
        ("https://api.example/v1/S3CRET/items?x=1", "https://api.example/v1/?x=1"),
        ("https://api.example/feed?k=S3%2BCRET%2F", "https://api.example/feed"),  # encoded
        ("https://S3CRET.example/feed", ""),
        ("https://api.example/feed", "https://api.example/feed"),
    ],
)
def test_a_public_url_keeps_everything_but_the_secret(url: str, public: str) -> None:
    from feedbridge.core.secrets import Secrets

    secrets = Secrets(["S3CRET", "S3+CRET/", "abc"])  # "abc": too short to be masked
    assert secrets.public_url(url) == public
    assert "S3CRET" not in secrets.mask(url) and "S3%2BCRET" not in secrets.mask(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://fb@db/feeds?password=Pg-Qu3ry-Secret&sslmode=verify-full",
            "postgresql://fb@db/feeds?password=***&sslmode=verify-full",
        ),
        (
            "postgresql://fb@db/feeds?sslmode=verify-full&sslkey=/k.pem&sslpassword=K3y-Secret",
            "postgresql://fb@db/feeds?sslmode=verify-full&sslkey=/k.pem&sslpassword=***",
        ),
        ("postgresql://fb:Pw-S3cret@[::1/feeds", "postgresql://***"),
    ],
)
def test_a_database_password_in_the_query_or_a_malformed_url_is_masked(
    url: str, shown: str
) -> None:
    from feedbridge.core.logs import mask_dsn

    assert mask_dsn(url) == shown


DB_SECRET = "Pg-Qu3ry-S3cret-9f2c"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://fb@127.0.0.1:{{port}}/feeds?password={DB_SECRET}&sslmode=disable",
        f"postgresql://fb:{DB_SECRET}@[::1:{{port}}/feeds?password={DB_SECRET}",
        f"postgresql://fb@127.0.0.1:{{port}}/feeds?password={DB_SECRET}&no_such_option=1",
    ],
    ids=["query-password", "malformed-host", "unknown-option"],
)
def test_check_never_prints_a_database_password(tmp_path: Path, url: str) -> None:
    """`check` prints the store's URL and the driver's error (libpq quotes a URL it cannot
    read): neither shows the password, wherever the URL holds it."""
    from tests.test_run import free_port

    config = tmp_path / "config.toml"
    config.write_text('[storage]\nurl = "${DB_URL}"\n')
    env = {"DB_URL": url.format(port=free_port())}
    result = run_cli("--config", str(config), "check", cwd=tmp_path, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output  # the store cannot be opened
    assert "cannot open the store at postgresql://" in output
    assert DB_SECRET not in output


def test_tracebacks_and_structured_log_fields_are_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A secret inside an exception's traceback or inside a dict or list logged as a field is
    masked like one in the message."""
    secret = SECRETS["DISCORD_TOKEN"]
    setup_logging("info", [secret])
    log = logging.getLogger("feedbridge.test")
    try:
        raise ValueError(f"cannot post to https://discord.com/api/webhooks/1/{secret}")
    except ValueError:
        log.exception("delivery crashed", extra={"target": "discord"})
    log.warning("sent", extra={"headers": {"authorization": f"Bot {secret}"}, "urls": [secret]})
    logging.getLogger().handlers.clear()
    logs = capsys.readouterr().err
    assert "ValueError: cannot post to https://discord.com/api/webhooks/1/***" in logs
    assert "headers=\"{'authorization': 'Bot ***'}\"" in logs and "urls=['***']" in logs
    assert_no_secret(logs)
