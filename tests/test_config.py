from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from feedbridge.config import (
    HfCollectionConfig,
    HfPapersConfig,
    HfReposConfig,
    HtmlConfig,
    HttpConfig,
    JsonConfig,
    OutputConfig,
    ServerConfig,
    StorageConfig,
    TargetConfig,
    default_config,
    load_config,
    mask_url,
    redacted_summary,
)
from feedbridge.core.durations import format_duration, parse_digest, parse_duration, parse_size
from feedbridge.core.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
EXAMPLE_ENV = (
    "SLACK_URL",
    "DISCORD_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
    "SMTP_PASSWORD",
    "FEEDBRIDGE_TOKEN",
)
SOURCE = '[[sources]]\nname = "hf"\nkind = "hf_papers"\n'
TARGET = '[[targets]]\nname = "t"\nurl = "json://localhost"\n'
SLACK = "slack://T1SecretAAA/B2SecretBBB/C3SecretCCCCCCCCCCCC/"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.problems


def test_no_config_file_gives_the_embedded_defaults() -> None:
    config = load_config(None)
    assert config == default_config()
    assert [(s.name, s.kind) for s in config.sources] == [("hf-daily", "hf_papers")]
    source = config.source("hf-daily")
    assert isinstance(source, HfPapersConfig)
    assert source.listing == "daily"
    assert source.base_url == "https://huggingface.co"
    assert source.interval == timedelta(minutes=30)
    assert (source.first_run_mode, source.first_run_latest, source.keep) == ("baseline", None, 200)
    assert config.targets == []
    assert config.storage.path == Path("data")
    assert config.storage.seen_ttl == timedelta(days=90)
    assert config.storage.size_limit == 4 * 2**30
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.server.base_url == "http://127.0.0.1:8080"  # derived from host and port
    assert config.server.base_url_derived
    assert config.server.token is None
    assert (config.http.timeout, config.http.max_body) == (timedelta(seconds=30), 10_000_000)
    assert (config.http.per_host, config.http.concurrency, config.http.max_redirects) == (4, 50, 5)
    assert config.output.dir is None
    assert config.log_level == "info"


def test_a_file_with_one_source_gets_every_other_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SOURCE))
    defaults = default_config()
    assert (config.storage, config.server, config.http) == (
        defaults.storage,
        defaults.server,
        defaults.http,
    )
    assert config.source("hf") == HfPapersConfig(name="hf")


def test_models_are_frozen() -> None:
    config = default_config()
    with pytest.raises(ValueError, match="frozen"):
        config.server.port = 1  # type: ignore[misc]


def test_lookup_of_an_unknown_source_or_target_raises_key_error() -> None:
    with pytest.raises(KeyError):
        default_config().source("nope")
    with pytest.raises(KeyError):
        default_config().target("nope")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 93784),
        (" 5m ", 300),
        (90, 90),
        (2.5, 2.5),
        ("45", 45),
        (timedelta(minutes=1), 60),
    ],
)
def test_durations_parse(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5 min", 'invalid duration "5 min" (use 90s, 15m, 2h or 1d)'),
        ("", 'invalid duration ""'),
        ("-1s", 'invalid duration "-1s"'),
        ("1.5h", 'invalid duration "1.5h"'),
        ("m", 'invalid duration "m"'),
        ("0s", "must be positive"),
        (0, "must be positive"),
        (-5, "must be positive"),
        (True, "must be a duration"),
        ([5], "must be a duration"),
    ],
)
def test_bad_durations_are_rejected_with_a_clear_message(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [1, 59, 90, 3600, 5400, 86400, 93784])
def test_format_duration_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "size"),
    [(1024, 1024), ("500MB", 500_000_000), ("2GB", 2_000_000_000), ("4GiB", 4 * 2**30),
     ("10 kib", 10_240), ("1.5MB", 1_500_000), ("123", 123)],
)  # fmt: skip
def test_sizes_parse(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "0", 0, "-1MB", "5 PB", True])
def test_bad_sizes_are_rejected(text: str | int) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "cron", "tz"),
    [
        ("daily 08:00", "0 8 * * *", "UTC"),
        ("daily 8:05 Europe/Berlin", "5 8 * * *", "Europe/Berlin"),
        ("weekly mon 09:30 America/New_York", "30 9 * * 1", "America/New_York"),
        ("weekly sun 07:00", "0 7 * * 0", "UTC"),
        ("0 */6 * * *", "0 */6 * * *", "UTC"),
        ("30 7 * * 1-5 Asia/Tokyo", "30 7 * * 1-5", "Asia/Tokyo"),
    ],
)
def test_digest_schedules_become_cron_in_a_time_zone(text: str, cron: str, tz: str) -> None:
    spec = parse_digest(text)
    assert (spec.cron, spec.tz.key) == (cron, tz)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("daily 25:00", "invalid digest"),
        ("daily", "invalid digest"),
        ("weekly 08:00", "invalid digest"),
        ("weekly funday 08:00", "invalid digest"),
        ("hourly", "invalid digest"),
        ("61 * * * *", "invalid digest"),
        ("daily 08:00 Europe/Berlin extra", "invalid digest"),
        ("daily 08:00 Mars/Base", 'unknown time zone "Mars/Base"'),
        ("0 8 * * * Europe", 'unknown time zone "Europe"'),
    ],
)
def test_bad_digest_schedules_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_digest(text)


@pytest.mark.parametrize(
    ("first_run", "mode", "latest"),
    [("baseline", "baseline", None), ("notify", "notify", None), ("latest:5", "latest", 5)],
)
def test_first_run_modes(first_run: str, mode: str, latest: int | None) -> None:
    source = HfPapersConfig(name="hf", first_run=first_run)
    assert (source.first_run_mode, source.first_run_latest) == (mode, latest)


def test_include_patterns_follow_the_filters_syntax(tmp_path: Path) -> None:
    words = ["diffusion", "/usr/bin", "/agent/ii", "/\\bLLMs?\\b/aix", "a/b/"]
    config = load_config(write(tmp_path, f"{SOURCE}{TARGET}include = {json.dumps(words)}\n"))
    assert config.target("t").include == words


def test_env_vars_and_defaults_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FB_SLACK", SLACK)
    monkeypatch.setenv("FB_EMPTY", "")
    monkeypatch.delenv("FB_UNSET", raising=False)
    config = load_config(
        write(
            tmp_path,
            '[server]\nbase_url = "${FB_UNSET:-https://feeds.example.org/}"\n'
            'host = "${FB_EMPTY:-0.0.0.0}"\nport = "${FB_UNSET:-9000}"\n'
            f'{SOURCE}[[targets]]\nname = "t"\nurl = "${{FB_SLACK}}"\n'
            'title = "[${FB_EMPTY:-}${FB_UNSET:-hf}] {{ title }}"\n',
        )
    )
    assert config.server.base_url == "https://feeds.example.org"
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9000)
    assert config.target("t").urls() == [SLACK]
    assert config.target("t").title == "[hf] {{ title }}"
    problems = problems_of(tmp_path, f'{SOURCE}[[targets]]\nname = "t"\nurl = "${{FB_EMPTY}}"\n')
    assert problems == ["targets[0].url: environment variable FB_EMPTY is set but empty"]


def test_secrets_are_read_from_files(tmp_path: Path) -> None:
    (tmp_path / "urls").write_text(f"{SLACK}\n\n  json://localhost/hook  \n")
    (tmp_path / "token").write_text("s3cret-token\n")
    config = load_config(
        write(
            tmp_path,
            f'[server]\ntoken_file = "{tmp_path / "token"}"\n{SOURCE}'
            f'[[targets]]\nname = "t"\nurl_file = "{tmp_path / "urls"}"\n',
        )
    )
    assert config.server.token is not None
    assert config.server.token.get_secret_value() == "s3cret-token"
    assert config.target("t").urls() == [SLACK, "json://localhost/hook"]


def test_example_config_loads_with_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in EXAMPLE_ENV:
        monkeypatch.delenv(name, raising=False)
    config = load_config(EXAMPLE)
    kinds = {"hf_papers", "hf_repos", "hf_collection", "html", "feed", "json"}
    assert {s.kind for s in config.sources} == kinds
    assert config.server.token is None
    digest = config.target("email-digest").digest_spec
    assert digest is not None and (digest.cron, digest.tz.key) == ("0 8 * * *", "Europe/Berlin")


def test_example_config_takes_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_URL", SLACK)
    monkeypatch.setenv("SMTP_PASSWORD", "pw-from-env")
    monkeypatch.setenv("FEEDBRIDGE_TOKEN", "tok-from-env")
    config = load_config(EXAMPLE)
    assert config.target("team-slack").urls() == [SLACK]
    assert ":pw-from-env@" in config.target("email-digest").urls()[0]
    assert config.server.token is not None


def test_example_config_mentions_every_option() -> None:
    text = EXAMPLE.read_text()
    models: list[type[BaseModel]] = [
        *(StorageConfig, ServerConfig, HttpConfig, OutputConfig),
        *(HfPapersConfig, HfReposConfig, HfCollectionConfig, HtmlConfig, JsonConfig),
        TargetConfig,
    ]
    options = {"log_level"} | {key for model in models for key in model.model_fields}
    assert [key for key in sorted(options) if not re.search(rf"^#? *{key} = ", text, re.M)] == []


def test_html_title_is_a_selector_and_feed_title_names_the_feed() -> None:
    source = HtmlConfig(name="blog", url="https://example.com/", item="article", title="h2")
    assert source.display_title == "blog"
    assert source.model_copy(update={"feed_title": "Blog"}).display_title == "Blog"
    assert HfPapersConfig(name="hf", title="HF papers").display_title == "HF papers"


def test_redacted_summary_never_shows_secrets(tmp_path: Path) -> None:
    secrets = ["T1SecretAAA", "B2SecretBBB", "C3SecretCCCCCCCCCCCC", "mail-pass-123",
               "server-token-xyz", "JHMHI8qBe7bk2ZwO5U711o3dV_js", "api-key-456"]  # fmt: skip
    config = load_config(
        write(
            tmp_path,
            '[server]\ntoken = "server-token-xyz"\n'
            '[[sources]]\nname = "api"\nkind = "json"\nitems = "items"\n'
            'url = "https://bob:api-key-456@api.example.com/v1?key=api-key-456"\n'
            f'[[targets]]\nname = "all"\nurl = ["{SLACK}",'
            ' "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",'
            ' "mailtos://me:mail-pass-123@smtp.example.com?to=a@example.com"]\n'
            'include = ["/agent/i"]\ndigest = "weekly fri 17:00 Europe/Paris"\n',
        )
    )
    summary = redacted_summary(config)
    for secret in secrets:
        assert secret not in summary
    assert "token ***" in summary
    assert "api.example.com/v1" in summary
    assert "mailtos://me:****@smtp.example.com" in summary
    assert "weekly fri 17:00 Europe/Paris" in summary
    assert "/agent/i" in summary


def test_mask_url_hides_secrets_and_falls_back_when_apprise_cannot_parse() -> None:
    assert "C3SecretCCCCCCCCCCCC" not in mask_url(SLACK)
    assert mask_url(SLACK).startswith("slack://")
    assert mask_url("foo://user:hunter2@host") == "foo://***"
    assert mask_url("not a url") == "***"


def test_missing_config_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert caught.value.path == str(tmp_path / "nope.toml")
    assert caught.value.problems == [
        f"cannot read {tmp_path / 'nope.toml'}: No such file or directory"
    ]


JSON_SOURCE = '[[sources]]\nname = "j"\nkind = "json"\nurl = "https://x.example/api"\n'


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        pytest.param('colour = "blue"\n', "colour", "unknown key", id="unknown-top-level-key"),
        pytest.param(SOURCE + 'intervall = "5m"\n', "sources[0].intervall", "unknown key",
                     id="unknown-source-key"),
        pytest.param(SOURCE + 'interval = "5 min"\n', "sources[0].interval",
                     'invalid duration "5 min" (use 90s, 15m, 2h or 1d)', id="bad-duration"),
        pytest.param(SOURCE + 'interval = "5s"\n', "sources[0].interval", "at least 10s",
                     id="interval-too-short"),
        pytest.param(SOURCE + 'first_run = "latest:0"\n', "sources[0].first_run",
                     'invalid first_run "latest:0"', id="bad-first-run"),
        pytest.param('[[sources]]\nname = "x"\nkind = "rss"\n', "sources[0].kind",
                     'unknown kind "rss" (one of hf_papers, hf_repos, hf_collection, html, feed, '
                     'json)', id="bad-kind"),
        pytest.param('[[sources]]\nname = "x"\n', "sources[0].kind", "required",
                     id="missing-kind"),
        pytest.param('[[sources]]\nname = "x"\nkind = "html"\nitem = "li"\n', "sources[0].url",
                     "required", id="html-without-url"),
        pytest.param(SOURCE + 'listing = "search"\n', "sources[0].query",
                     'required when listing = "search"', id="search-without-query"),
        pytest.param(SOURCE + SOURCE, "sources[1].name", 'duplicate source name "hf"',
                     id="duplicate-source-names"),
        pytest.param(SOURCE.replace('"hf"', '"Bad Name"'), "sources[0].name",
                     'invalid name "Bad Name"', id="name-not-a-slug"),
        pytest.param(SOURCE + TARGET + 'sources = ["hf-dayly"]\n', "targets[0].sources",
                     'unknown source "hf-dayly"', id="target-with-unknown-source"),
        pytest.param(SOURCE + '[[targets]]\nname = "t"\nurl = "json://"\n', "targets[0].url",
                     'Apprise URL for "json://" (json://***)', id="invalid-apprise-url"),
        pytest.param(SOURCE + TARGET + 'include = ["ok", "/(/"]\n', "targets[0].include[1]",
                     'invalid regex "/(/"', id="bad-include-regex"),
        pytest.param(SOURCE + TARGET + 'body = "{{ entry.title }"\n', "targets[0].body",
                     "invalid template (line 1)", id="bad-jinja-template"),
        pytest.param(SOURCE + TARGET + 'digest = "daily 25:00"\n', "targets[0].digest",
                     'invalid digest "daily 25:00"', id="bad-digest"),
        pytest.param(SOURCE + TARGET + 'digest = "daily 08:00 Mars/Base"\n', "targets[0].digest",
                     'unknown time zone "Mars/Base"', id="bad-time-zone"),
        pytest.param(SOURCE + TARGET + 'min_score = "lots"\n', "targets[0].min_score",
                     'must be a number (got "lots")', id="min-score-not-a-number"),
        pytest.param(JSON_SOURCE + 'items = "data"\ntitle = "a ~"\n', "sources[0].title",
                     'invalid JMESPath expression "a ~"', id="bad-jmespath"),
        pytest.param(JSON_SOURCE + 'items = "data["\n', "sources[0].items",
                     "invalid JMESPath expression", id="bad-items-jmespath"),
        pytest.param('[[sources]]\nname = "h"\nkind = "html"\nurl = "https://x.example/"\n'
                     'item = "li"\nencoding = "klingon"\n', "sources[0].encoding",
                     'unknown encoding "klingon"', id="unknown-encoding"),
        pytest.param("[server]\nport = 70000\n", "server.port", "(got 70000)", id="bad-port"),
        pytest.param('[server]\nbase_url = "localhost:8080"\n', "server.base_url",
                     "absolute http(s) URL", id="relative-base-url"),
        pytest.param('[storage]\nsize_limit = "lots"\n', "storage.size_limit",
                     'invalid size "lots"', id="bad-size"),
        pytest.param(SOURCE + '[[targets]]\nname = "t"\nurl = "${FB_TEST_UNSET}"\n',
                     "targets[0].url", "environment variable FB_TEST_UNSET is not set",
                     id="unset-env-var"),
        pytest.param(SOURCE + '[[targets]]\nname = "t"\nurl_file = "/nonexistent/fb-secret"\n',
                     "targets[0].url_file",
                     "cannot read /nonexistent/fb-secret: No such file or directory",
                     id="unreadable-secret-file"),
        pytest.param(SOURCE + TARGET + 'url_file = "/nonexistent/fb-secret"\n',
                     "targets[0].url_file", "cannot be used together with url",
                     id="value-and-file-both-given"),
        pytest.param('log_level = "loud"\n', "log_level", '(got "loud")', id="bad-log-level"),
        pytest.param('[server]\nport = 8080\nport = 9090\n', "TOML syntax error",
                     "line 3", id="toml-syntax-error"),
    ],
)  # fmt: skip
def test_broken_config_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, key: str, fragment: str
) -> None:
    monkeypatch.delenv("FB_TEST_UNSET", raising=False)
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{key}:"), problems
    assert fragment in problems[0]


@pytest.mark.parametrize(
    "url",
    ["foo://user:SuperSecret99@host/", "slack://SuperSecret99", "json://user:SuperSecret99@"],
)
def test_invalid_apprise_url_error_does_not_show_the_secret(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f'{SOURCE}[[targets]]\nname = "t"\nurl = ["{url}"]\n'))
    problem = caught.value.problems[0]
    assert problem.startswith("targets[0].url: "), problem
    assert "Apprise" in problem and "***" in problem, problem
    assert "SuperSecret99" not in str(caught.value)


def test_secret_values_are_left_out_of_type_errors(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "[server]\ntoken = 123456789\n")
    assert problems == ["server.token: must be a string"]


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FB_TEST_UNSET", raising=False)
    problems = problems_of(
        tmp_path,
        "typo = 1\n[server]\nport = 0\n"
        '[[sources]]\nname = "a"\nkind = "hf_papers"\ninterval = "soon"\n'
        '[[sources]]\nname = "a"\nkind = "feed"\n'
        '[[targets]]\nname = "t"\nurl = "${FB_TEST_UNSET}"\nsources = ["b"]\n'
        'include = ["/[/"]\ndigest = "hourly"\n',
    )
    keys = [problem.split(":", 1)[0] for problem in problems]
    assert sorted(keys) == sorted([
        "typo", "server.port", "sources[0].interval", "sources[1].url", "sources[1].name",
        "targets[0].url", "targets[0].sources", "targets[0].include[0]", "targets[0].digest",
    ])  # fmt: skip
    message = str(ConfigError(problems, "config.toml"))
    assert message.startswith("invalid configuration in config.toml:")


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("port = 39726", "http://127.0.0.1:39726"),
        ('host = "0.0.0.0"\nport = 9000', "http://localhost:9000"),
        ('host = "::"\nport = 9000', "http://localhost:9000"),
        ('host = "::1"', "http://[::1]:8080"),
        ('host = "feeds.lan"\nbase_url = ""', "http://feeds.lan:8080"),
    ],
)
def test_unset_base_url_follows_host_and_port(tmp_path: Path, server: str, expected: str) -> None:
    config = load_config(write(tmp_path, f"[server]\n{server}\n"))
    assert config.server.base_url == expected
    assert config.server.base_url_derived


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (SOURCE + 'intervall = "5m"\n',
         'sources[0].intervall: unknown key (did you mean "interval"?)'),
        ("[servr]\nport = 1\n", 'servr: unknown key (did you mean "server"?)'),
        ("[server]\nprot = 1\n", 'server.prot: unknown key (did you mean "port"?)'),
        (SOURCE + TARGET + "min_scor = 3\n",
         'targets[0].min_scor: unknown key (did you mean "min_score"?)'),
        ('[[sources]]\nname = "b"\nkind = "html"\nurl = "https://x.example/"\nitem = "li"\n'
         'titel = "h2"\n', 'sources[0].titel: unknown key (did you mean "title"?)'),
        (SOURCE + "colour = 1\n", "sources[0].colour: unknown key"),
    ],
)  # fmt: skip
def test_unknown_key_suggests_the_nearest_known_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert problems_of(tmp_path, text) == [problem]


def test_unknown_kind_does_not_hide_the_tables_other_errors(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, '[[sources]]\nname = "Bad Name"\nkind = "htlm"\ninterval = "5 min"\n'
    )
    assert problems == [
        'sources[0].kind: unknown kind "htlm" (did you mean "html"?) '
        "(one of hf_papers, hf_repos, hf_collection, html, feed, json)",
        'sources[0].name: invalid name "Bad Name" (lowercase letters, digits, ".", "_", "-"; '
        "at most 64)",
        'sources[0].interval: invalid duration "5 min" (use 90s, 15m, 2h or 1d)',
    ]


# --- sources made on the web page ------------------------------------------------------------


def test_page_made_sources_join_the_files_and_their_values_are_taken_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_URL", SLACK)
    (tmp_path / "secret").write_text("hunter2")
    path = tmp_path / "config.toml"
    path.write_text(SOURCE + '[[targets]]\nname = "t"\nurl = "${SLACK_URL}"\nsources = ["web"]\n')
    page = [{"name": "web", "kind": "html", "url": "https://ex.com/?k=${SLACK_URL}", "item": "li"}]
    config = load_config(path, page)
    assert [s.name for s in config.sources] == ["hf", "web"]
    assert config.source("web").url == "https://ex.com/?k=${SLACK_URL}", "never expanded"  # type: ignore[union-attr]
    assert config.made_on_page("web") and not config.made_on_page("hf")
    assert config.target("t").urls() == [SLACK], "the file's own values are expanded"
    with pytest.raises(ConfigError) as caught:
        load_config(path, [{**page[0], "url_file": str(tmp_path / "secret")}])
    assert caught.value.problems == ['page source "web".url_file: unknown key'], "no file is read"


def test_a_page_made_sources_problems_are_named_by_its_name_beside_the_files(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(SOURCE + '[[sources]]\nname = "broken"\nkind = "feed"\n')
    page = [
        {"name": "hf", "kind": "feed", "url": "https://ex.com/feed"},
        {"name": "ünï", "kind": "html", "url": "notaurl"},
    ]
    with pytest.raises(ConfigError) as caught:
        load_config(path, page)
    assert sorted(caught.value.problems) == sorted([
        "sources[1].url: required",
        'page source "ünï".name: invalid name "ünï" (lowercase letters, digits, ".", "_", "-";'
        " at most 64)",
        'page source "ünï".url: must be an absolute http(s) URL, got "notaurl"',
        'page source "ünï".item: required',
        'page source "hf".name: duplicate source name "hf"',
    ])


def test_with_no_config_file_page_made_sources_join_the_built_in_default() -> None:
    page = [{"name": "web", "kind": "feed", "url": "https://ex.com/feed"}]
    config = load_config(None, page)
    assert [s.name for s in config.sources] == ["hf-daily", "web"]
    assert config.sources[0] == default_config().sources[0]
