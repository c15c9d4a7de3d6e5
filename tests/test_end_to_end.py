"""`feedbridge once` end to end: a local HF API, a local webhook, the real CLI in a subprocess."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from pytest_httpserver import HTTPServer

from tests.atomcheck import check_atom
from tests.conftest import HfApi, Receiver, hf_items, run_cli

MIN_SCORE = 30


def write_config(tmp_path: Path, hf_api: HfApi, receiver: Receiver, first_run: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "{tmp_path / "data"}"

[server]
base_url = "http://feeds.example.org"

[output]
dir = "{tmp_path / "public"}"

[[sources]]
name = "hf-daily"
kind = "hf_papers"
listing = "daily"
base_url = "{hf_api.base_url}"
first_run = "{first_run}"

[[targets]]
name = "hook"
url = "{receiver.url()}"
min_score = {MIN_SCORE}
""")
    return config


def once(tmp_path: Path, config: Path, rc: int = 0) -> str:
    """`feedbridge once`'s output; `rc` 1 where a source or a delivery is meant to fail."""
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == rc, result.stderr
    return result.stdout


def eligible_titles() -> list[str]:
    return sorted(i["paper"]["title"] for i in hf_items() if i["paper"]["upvotes"] >= MIN_SCORE)


def test_once_builds_a_valid_feed_of_all_papers_and_baseline_sends_nothing(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "baseline")
    out = once(tmp_path, config)
    assert "hf-daily: 37 entries, 37 new" in out

    atom = (tmp_path / "public" / "hf-daily.atom").read_bytes()
    assert check_atom(atom) == []
    feed = feedparser.parse(atom)
    assert not feed.bozo
    assert len(feed.entries) == 37
    items = {i["paper"]["id"]: i["paper"] for i in hf_items()}
    for entry in feed.entries:
        arxiv_id = entry.link.rsplit("/", 1)[1]
        paper = items[arxiv_id]
        assert entry.link == f"{hf_api.base_url}/papers/{arxiv_id}"
        assert entry.title == " ".join(paper["title"].split())
        assert entry.id.startswith("urn:uuid:")
        names = [a.name for a in entry.authors]
        assert names == [a["name"] for a in paper["authors"] if not a.get("hidden")]
        assert entry.published.startswith(paper["publishedAt"][:10])
        assert entry.updated.startswith(paper["submittedOnDailyAt"][:19])
        assert f"arxiv.org/pdf/{arxiv_id}" in entry.content[0].value
    # newest first by the time the paper entered Daily Papers
    times = [e.updated for e in feed.entries]
    assert times == sorted(times, reverse=True)
    assert receiver.received == []

    # the feed's ids are stable across runs
    once(tmp_path, config)
    again = feedparser.parse((tmp_path / "public" / "hf-daily.atom").read_bytes())
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    assert receiver.received == []


def test_notify_first_run_sends_exactly_the_papers_over_the_threshold_once(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "notify")
    once(tmp_path, config)
    assert sorted(receiver.titles) == eligible_titles()
    assert len(receiver.titles) == 9

    once(tmp_path, config)
    assert len(receiver.received) == 9, "a second run must send nothing"


def test_paper_below_threshold_is_sent_when_upvotes_rise(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "baseline")
    once(tmp_path, config)
    assert receiver.received == []

    hf_api.set_upvotes("2605.06651", MIN_SCORE + 5)  # was 11
    once(tmp_path, config)
    assert receiver.titles == ["AI Co-Mathematician: Accelerating Mathematicians with Agentic AI"]
    assert "▲ 35" in receiver.received[0]["message"]

    once(tmp_path, config)
    assert len(receiver.received) == 1


def test_failed_deliveries_stay_queued_and_arrive_when_the_receiver_recovers(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "notify")
    receiver.status = 500
    out = once(tmp_path, config, rc=1)
    assert receiver.received == []
    assert "target hook: 9 messages not delivered yet, will retry (last error: " in out

    receiver.status = 200
    once(tmp_path, config)
    assert sorted(receiver.titles) == eligible_titles()
    once(tmp_path, config)
    assert len(receiver.received) == 9


@pytest.mark.parametrize("status", [500, 404])
def test_failing_api_keeps_the_last_good_feed(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver, status: int
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "baseline")
    once(tmp_path, config)
    before = (tmp_path / "public" / "hf-daily.atom").read_bytes()

    hf_api.status = status
    out = once(tmp_path, config, rc=1)
    assert f"error: source 'hf-daily' ({hf_api.base_url}/api/daily_papers" in out
    assert f"HTTP {status}" in out
    assert (tmp_path / "public" / "hf-daily.atom").read_bytes() == before


def test_source_health_alert_fires_once_while_failing_and_once_on_recovery(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "baseline")
    config.write_text(
        config.read_text()
        + f"""
[[targets]]
name = "ops"
url = "{receiver.url("/hook")}"
min_score = 1000000
health = true
"""
    )
    once(tmp_path, config)
    hf_api.status = 503
    for _ in range(5):
        once(tmp_path, config, rc=1)
    alerts = [m for m in receiver.received if m["title"].startswith("feedbridge:")]
    assert [m["title"] for m in alerts] == ["feedbridge: source hf-daily failing"]
    assert "HTTP 503" in alerts[0]["message"]
    assert "failing (3 in a row)" in alerts[0]["message"]

    hf_api.status = 200
    once(tmp_path, config)
    once(tmp_path, config)
    titles = [m["title"] for m in receiver.received if m["title"].startswith("feedbridge:")]
    assert titles == [
        "feedbridge: source hf-daily failing",
        "feedbridge: source hf-daily recovered",
    ]
    assert all(
        not m["title"].startswith("feedbridge:") or "hf-daily" in m["message"]
        for m in receiver.received
    )


def test_notify_test_sends_a_sample_and_reports_each_url(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    config = write_config(tmp_path, hf_api, receiver, "baseline")
    config.write_text(
        config.read_text().replace(
            f'url = "{receiver.url()}"',
            f'url = ["{receiver.url()}", "json://user:Sup3rSecretPass@127.0.0.1:9/down"]',
        )
    )
    result = run_cli("--config", str(config), "notify-test", "hook", cwd=tmp_path)
    assert result.returncode == 1, "one URL is down, so not all succeeded"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(": ok") and "127.0.0.1" in lines[0]
    assert "FAILED" in lines[1]
    assert "Sup3rSecretPass" not in result.stdout + result.stderr
    assert receiver.titles == ["feedbridge test notification"]

    receiver.received.clear()
    config.write_text(
        config.read_text().replace(', "json://user:Sup3rSecretPass@127.0.0.1:9/down"', "")
    )
    ok = run_cli("--config", str(config), "notify-test", "hook", cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": ok")
    assert len(receiver.received) == 1


def test_export_opml_lists_every_enabled_feed(tmp_path: Path) -> None:
    from xml.etree import ElementTree

    config = tmp_path / "config.toml"
    config.write_text("""
[server]
base_url = "https://feeds.example.org"
[[sources]]
name = "hf-daily"
kind = "hf_papers"
[[sources]]
name = "blog"
kind = "feed"
url = "https://blog.example.com/feed.xml"
[[sources]]
name = "off"
kind = "feed"
url = "https://off.example.com/feed.xml"
enabled = false
""")
    result = run_cli("--config", str(config), "export-opml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outlines = ElementTree.fromstring(result.stdout).findall(".//outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        "https://feeds.example.org/feeds/hf-daily.atom",
        "https://feeds.example.org/feeds/blog.atom",
    ]
    assert outlines[0].get("htmlUrl") == "https://huggingface.co/papers"


def test_export_config_prints_the_files_sources_as_written_and_the_page_made_ones(
    tmp_path: Path,
) -> None:
    from feedbridge.store import open_embedded

    config = tmp_path / "config.toml"
    config.write_text("""
[storage]
path = "data"
[[sources]]
name = "blog"
kind = "feed"
url = "https://blog.example.com/feed.xml"
headers = { Authorization = "Bearer ${BLOG_TOKEN}" }
[[sources]]
name = "tiny"
kind = "feed"
url = "https://t.example/f"
""")
    with open_embedded(tmp_path / "data") as store:
        store.save_page_source(
            {"name": "news", "kind": "html", "url": "https://n.example/", "item": "li",
             "title": "a"}, 1.0,
        )  # fmt: skip
        store.save_page_source({"name": "short", "kind": "feed", "url": "https://s.example/"}, 2.0)
    result = run_cli("--config", str(config), "export-config", cwd=tmp_path,
                     env={"BLOG_TOKEN": "s3cret-value"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "s3cret-value" not in result.stdout, "the file's ${ENV} references stay as written"
    import tomli

    exported = tomli.loads(result.stdout)["sources"]
    # short tables too: each a [[sources]] block, never one nested in the one before it
    assert [s["name"] for s in exported] == ["blog", "tiny", "news", "short"]
    assert exported[0]["headers"] == {"Authorization": "Bearer ${BLOG_TOKEN}"}
    assert "[sources.headers]" in result.stdout
    assert exported[1] == {"name": "tiny", "kind": "feed", "url": "https://t.example/f"}
    assert exported[2] == {"name": "news", "kind": "html", "url": "https://n.example/",
                           "item": "li", "title": "a"}  # fmt: skip
    assert exported[3] == {"name": "short", "kind": "feed", "url": "https://s.example/"}
    assert "# made on the web page (kept in the store)" in result.stdout


def test_check_lists_the_page_made_sources_and_fails_when_they_do_not_fit_the_file(
    tmp_path: Path,
) -> None:
    from feedbridge.store import open_embedded

    config = tmp_path / "config.toml"
    config.write_text('[storage]\npath = "data"\n[[sources]]\nname = "blog"\nkind = "feed"\n'
                      'url = "https://blog.example.com/feed.xml"\n')  # fmt: skip
    with open_embedded(tmp_path / "data") as store:
        store.save_page_source({"name": "news", "kind": "feed", "url": "https://n.example/f?k=1"},
                               1.0)  # fmt: skip
    ok = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "sources made on the web page (1):\n  news [feed] https://n.example/f, every 30m" \
        in ok.stdout  # fmt: skip
    with open_embedded(tmp_path / "data") as store:
        store.save_page_source({"name": "blog", "kind": "feed", "url": "https://b.example/"}, 2.0)
    clash = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert clash.returncode == 2
    assert 'page source "blog".name: duplicate source name "blog"' in clash.stderr


def test_once_polls_the_page_made_sources_too(tmp_path: Path, httpserver: HTTPServer) -> None:
    from feedbridge.store import open_embedded

    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>N</title><link>http://n/'
           "</link><description>d</description><item><title>One</title><link>http://n/1</link>"
           "</item><item><title>Two</title><link>http://n/2</link></item></channel></rss>")
    kind = "application/rss+xml"
    httpserver.expect_request("/feed.xml").respond_with_data(rss, content_type=kind)
    config = tmp_path / "config.toml"
    # private_urls: the page-made source reads this machine's own test server
    config.write_text('[storage]\npath = "data"\n[server]\nprivate_urls = true\n'
                      '[[sources]]\nname = "blog"\nkind = "feed"\n'
                      f'url = "{httpserver.url_for("/feed.xml")}"\n')  # fmt: skip
    with open_embedded(tmp_path / "data") as store:
        store.save_page_source({"name": "news", "kind": "feed",
                                "url": httpserver.url_for("/feed.xml")}, 1.0)  # fmt: skip
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "blog: 2 entries" in result.stdout and "news: 2 entries" in result.stdout
