"""Templates: line breaks as written, strict names, `check` renders them all, service formats."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from feedbridge.config import load_config, secret_fragments
from feedbridge.core.durations import parse_digest
from feedbridge.core.errors import ConfigError
from feedbridge.core.logs import setup_logging
from feedbridge.core.wording import plural
from feedbridge.messages.check import SAMPLE_ENTRY
from feedbridge.messages.digest import digest_message
from feedbridge.messages.templates import (
    MESSAGE_FORMATS,
    Templates,
    entry_message,
    render_template,
)
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier
from feedbridge.notify.services import service_format
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import entry_notice
from tests.conftest import Receiver, run_cli
from tests.test_notify import Clock, papers

README = Path(__file__).parent.parent / "README.md"


def test_a_body_keeps_every_line_break_its_template_has() -> None:
    template = "{% if x %}A{% endif %}\n{% for i in n %}{{ i }}\n{% endfor %}end"
    body = render_template(template, "text", {"x": True, "n": [1, 2]})
    assert body == "A\n1\n2\nend"


def test_digest_lines_do_not_glue_score_to_the_next_item() -> None:
    message = digest_message(papers(3), "text", None, datetime(2026, 5, 8, tzinfo=UTC))
    lines = message.body.split("\n")
    meta = "   ▲ 86 · Zhuofeng Li, Haoxiang Zhang, Cong Wei, Pan Lu, Ping Nie et al. · 2026-05-03"
    assert meta in lines
    assert [line[:3] for line in lines if re.match(r"\d+\. ", line)] == ["1. ", "2. ", "3. "]
    assert "▲ 862." not in message.body


@pytest.mark.parametrize("fmt", MESSAGE_FORMATS)
def test_the_link_stands_apart_and_the_title_is_not_repeated(fmt: str) -> None:
    paper = papers(1)[0]
    message = entry_message(paper, fmt)
    assert message.title == paper.title
    assert paper.title not in message.body
    if fmt == "text":
        assert paper.link in message.body.split("\n")
    elif fmt == "markdown":
        assert f"]({paper.link})" in message.body
    else:
        assert f'href="{paper.link}"' in message.body
        assert message.text is not None and paper.link in message.text.split("\n")


def test_an_unknown_name_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(UndefinedError, match="'entry' is undefined"):
        render_template("{{ entry.title }}", "text", {"title": "x"})


async def test_a_template_failing_at_run_time_falls_back_and_alerts_once(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """`"[%d]"|format(score)` passes `check` for a source with scores; then a feed entry
    without one arrives: it is sent with the built-in title, logged once, and the health
    targets are told once (not every message, not every round)."""
    scored = Templates(title='{{ "[%d] %s"|format(score, title) }}')
    channel = TargetChannel("hook", [receiver.url()], templates=scored)
    ops = TargetChannel("ops", [receiver.url("/ops")], health=True)
    receiver.server.expect_request("/ops").respond_with_handler(receiver.handle)
    entries = [replace(p, score=None) for p in papers(3)]
    with Store(tmp_path) as store:
        notifier = Notifier([channel, ops], store)
        store.enqueue([entry_notice("hook", e, 0) for e in entries[:2]], 0)
        await notifier.deliver()
        store.enqueue([entry_notice("hook", entries[2], 0)], 0)
        await notifier.deliver()
        assert store.pending_count("hook") == 0 and store.pending_count("ops") == 0
    titles = receiver.titles
    assert titles[:2] == [e.title for e in entries[:2]] and entries[2].title in titles
    alerts = [m for m in receiver.received if m["title"].startswith("feedbridge:")]
    assert [a["title"] for a in alerts] == ["feedbridge: target hook template failed"]
    assert alerts[0]["message"].startswith(
        "target hook: its title template failed on entry hf:2605.05242 (TypeError: %d format:"
    )
    assert caplog.text.count("template failed, using the built-in one") == 1


def test_a_template_failing_at_send_time_falls_back_to_the_default() -> None:
    paper = replace(papers(1)[0], extras={})
    message = entry_message(paper, "text", Templates(body="{{ extras.missing.deeper }}"))
    assert message.body == entry_message(paper, "text").body
    assert message.problem == "body: 'dict object' has no attribute 'missing'"


def config_with(tmp_path: Path, target: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "data"}"\n'
        '[[sources]]\nname = "hf"\nkind = "hf_papers"\n'
        '[[targets]]\nname = "hook"\nurl = "json://127.0.0.1:9/x"\n' + target
    )
    return path


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ('title = "{{ entry.title }}"\n', "targets[0] (\"hook\").title: 'entry' is undefined"),
        ('body = "{{ titel }}"\n', "targets[0] (\"hook\").body: 'titel' is undefined"),
        (
            'digest = "daily 08:00"\n'
            'digest_body = "{% for e in entries %}{{ e.nope }}{% endfor %}"\n',
            "targets[0] (\"hook\").digest_body: 'dict object' has no attribute 'nope'",
        ),
        ('digest = "daily 08:00"\ntitle = "{{ title }}"\n',
         "targets[0] (\"hook\").title: not used, this target sends digests"),
        ("title = '{{ \"[%d] %s\"|format(score, title) }}'\n",
         "targets[0] (\"hook\").title: TypeError: %d format: a real number is required, not "
         "NoneType (for an entry with only a title: no score, link, summary, authors, dates or "
         "extras)"),
        ('body = "{{ summary[0] }}"\n',
         "targets[0] (\"hook\").body: str object has no element 0 (for an entry with only"),
        ('body = "{% for i in range(10**7) %}x{% endfor %}"\n',
         "targets[0] (\"hook\").body: range() of more than 10,000 numbers"),
        ('body = "{% for a in summary %}{% for b in summary %}{% for c in summary %}'
         '{% endfor %}{% endfor %}{% endfor %}"\n',
         "targets[0] (\"hook\").body: more than 100,000 loop iterations"),
        ('body = "{{ title * 10**7 }}"\n',
         "targets[0] (\"hook\").body: a repeat of more than 2,000,000 characters"),
    ],
)  # fmt: skip
def test_check_renders_every_template_and_names_target_and_variable(
    tmp_path: Path, target: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, target))
    assert problem in str(caught.value)
    result = run_cli("--config", str(config_with(tmp_path, target)), "check", cwd=tmp_path)
    assert result.returncode == 2 and problem in result.stderr


def test_the_documented_variables_render_in_every_format(tmp_path: Path) -> None:
    """Every name in the README's table renders against the sample entry and digest."""
    table = README.read_text().split("### Template variables", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"^\| `([a-z_]+)`", table, re.M)
    assert {"title", "link", "summary", "byline", "score", "entries", "count"} <= set(names)
    entry_names = names[: names.index("entries")]
    body = "\n".join(f"{n}={{{{ {n} }}}}" for n in entry_names)
    fields = "".join(f"{{{{ e.{n} }}}}" for n in entry_names)
    digest_body = "{% for e in entries %}" + fields + "{% endfor %}"
    digest_body += "{{ count }}{{ more }}{{ noun }}{{ date }}"
    target = f"body = '''{body}'''\n"
    load_config(config_with(tmp_path, target))
    load_config(
        config_with(tmp_path, f"digest = 'daily 08:00'\ndigest_body = '''{digest_body}'''\n")
    )
    assert "title=feedbridge test notification" in render_template(body, "text", _ctx())


def _ctx() -> dict[str, object]:
    from feedbridge.messages.templates import entry_context

    return entry_context(SAMPLE_ENTRY)


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("mailto://u:p@example.com?to=a@example.com", "html"),
        ("mqtt://127.0.0.1:1883/topic", "text"),
        ("ntfy://ntfy.sh/feedbridge", "text"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "markdown"),
        ("tgram://123456789:abcdefg_hijklmnop/987654321", "html"),
        ("json://localhost/hook", "text"),
        ("json://localhost/hook?format=markdown", "markdown"),
    ],
)
def test_the_default_format_is_what_the_service_renders(url: str, fmt: str) -> None:
    assert service_format(url) == fmt


def test_a_target_with_mixed_services_renders_per_url() -> None:
    channel = TargetChannel("mixed", ["mqtt://127.0.0.1:1883/t", "mailto://u:p@example.com"])
    assert channel.formats == ["text", "html"]
    assert TargetChannel("forced", ["mqtt://127.0.0.1:1883/t"], format="markdown").formats == [
        "markdown"
    ]


def test_plural_words() -> None:
    assert [plural(n, "entry") for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert [plural(n, "try") for n in (1, 3)] == ["1 try", "3 tries"]
    assert plural(1, "feed") == "1 feed" and plural(2, "feed") == "2 feeds"


async def test_names_are_never_masked_and_a_digest_logs_its_period_and_count(
    tmp_path: Path,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret_path = "team-digest-mail"  # the target's name, inside a secret URL path
    url = f"json://127.0.0.1:9/hooks/{secret_path}?token=s3cr3tTokenValue"
    path = config_with(tmp_path, 'digest = "daily 08:00 Europe/Berlin"\n')
    path.write_text(path.read_text().replace('"hook"', f'"{secret_path}"').replace(
        "json://127.0.0.1:9/x", url))  # fmt: skip
    config = load_config(path)
    setup_logging("info", secret_fragments(config))
    clock = Clock(datetime(2026, 5, 7, 7, 0, tzinfo=UTC).timestamp())
    channel = TargetChannel(
        secret_path, [receiver.url()], digest=parse_digest("daily 08:00 Europe/Berlin")
    )
    try:
        with Store(tmp_path / "store") as store:
            notifier = Notifier([channel], store, clock=clock)
            await notifier.deliver()
            for e in papers(16):
                store.enqueue([entry_notice(secret_path, e, clock.now)], clock.now)
            clock.now += 86400
            await notifier.deliver()
        logging.getLogger("feedbridge").warning(
            "probe", extra={"url": "json://127.0.0.1:9/hooks/x?token=s3cr3tTokenValue"}
        )
    finally:
        logging.getLogger().handlers.clear()
    logs = capsys.readouterr().err
    assert "s3cr3tTokenValue" not in logs and "token=***" in logs
    (line,) = [x for x in logs.splitlines() if " delivered " in x]
    assert f"target={secret_path}" in line
    assert 'digest="2026-05-07 09:00 to 2026-05-08 09:00 Europe/Berlin" entries=16' in line
    assert "entry=" not in line


@pytest.mark.parametrize("fmt", MESSAGE_FORMATS)
def test_an_entry_without_a_link_renders_no_empty_link(fmt: str) -> None:
    note = replace(SAMPLE_ENTRY, link="", extras={})
    body = entry_message(note, fmt).body
    digest = digest_message([note], fmt, None, datetime(2026, 5, 8, tzinfo=UTC)).body
    for text in (body, digest):
        assert "()" not in text and 'href=""' not in text and "[]" not in text
        assert not re.search(r"\n\s*\n\s*$|\n\s*\n\s*\n", text), text
    assert "feedbridge test notification" in digest
    assert "If you can read this" in body


def test_check_and_notify_test_print_each_urls_effective_format_and_overflow(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = config_with(tmp_path, "")
    urls = [
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "mailto://u:secretpw@example.com?to=a@example.com",
    ]
    path.write_text(path.read_text().replace('"json://127.0.0.1:9/x"', str(urls).replace("'", '"'))
                    + 'overflow = "truncate"\n')  # fmt: skip
    result = run_cli("--config", str(path), "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    (url_line,) = [line for line in lines if line.startswith("  hook: ")]
    assert url_line.count("overflow=truncate") == 2 and "overflow=upstream" not in url_line
    assert "secretpw" not in result.stdout
    assert (
        "    url 1: markdown (Slack mrkdwn), mentions defused, overflow truncate "
        "(35,000 characters a message: digests keep the entries that fit, a longer entry is cut)"
    ) in lines
    assert any(line.startswith("    url 2: markdown, mentions defused, overflow truncate (2,000")
               for line in lines)  # fmt: skip
    assert "    url 3: html, sent whole" in lines

    path.write_text(config_with(tmp_path, "").read_text().replace(
        "json://127.0.0.1:9/x", receiver.url()))  # fmt: skip
    result = run_cli("--config", str(path), "notify-test", "hook", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert "overflow=split" in line and line.endswith(
        " (text, overflow split (32,768 characters a message: digests split between entries, "
        "a longer entry at a line break)): ok"
    )
