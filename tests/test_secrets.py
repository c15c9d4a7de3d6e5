"""Secrets never appear in logs (at DEBUG), errors, `check` output or pages."""

from __future__ import annotations

import logging
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
from tests.conftest import run_cli
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
