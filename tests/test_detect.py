"""`feedbridge detect`: every page of the labelled corpus end to end (detect → check → once →
the labelled entries), the answers for pages with no list, and the library's promises."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from feedbridge.app.cli import main
from feedbridge.core.models import Page
from feedbridge.detect import as_toml, detect_page, source_name
from feedbridge.detect.page import MAX_NESTING
from feedbridge.detect.selectors import stable_class
from feedbridge.sources.markup import resolve_url
from feedbridge.store.embedded import open_embedded
from tests.conftest import run_cli
from tests.tools import require_tool

CORPUS = Path(__file__).parent / "data" / "detect"
SERVED = "Fri, 08 May 2026 12:00:00 GMT"
LABELS = {p.stem: json.loads(p.read_text()) for p in sorted(CORPUS.glob("*.json"))}
LISTS = [name for name, label in LABELS.items() if label["expect"] == "list"]
# what a person would not keep in a selector: positions, and class names or ids that are
# hashes (digits in them, a leading underscore, CSS-in-JS prefixes)
POSITIONAL = re.compile(r":nth-|:first|:last|:eq\(")
NAMES = re.compile(r"[.#]([\w-]+)")


def unstable(selector: str) -> list[str]:
    bad = [n for n in NAMES.findall(selector) if re.search(r"\d|^_|^css-|^sc-", n)]
    return bad + POSITIONAL.findall(selector)


@pytest.fixture(autouse=True)
def served_on_the_corpus_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local server's Date header is the corpus's day: the anchor of "3 hours ago"."""
    monkeypatch.setattr(BaseHTTPRequestHandler, "date_time_string", lambda *_: SERVED)


@pytest.fixture(autouse=True)
def logging_left_as_found() -> Iterator[None]:
    """The commands run in process set up logging on the runner's stderr: undo it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def serve(httpserver: HTTPServer, name: str) -> str:
    """One corpus page (and the feeds it advertises) on the local server; its URL."""
    label = LABELS[name]
    headers: dict[str, str] = {}
    body = (CORPUS / f"{name}.html").read_bytes()
    httpserver.expect_request(label["path"]).respond_with_data(
        body, content_type="text/html; charset=utf-8", headers=headers
    )
    for path, info in label["files"].items():
        httpserver.expect_request(path).respond_with_data(
            (CORPUS / info["file"]).read_bytes(), content_type=info["content_type"], headers=headers
        )
    return httpserver.url_for(label["path"])


def corpus_page(name: str) -> Page:
    body = (CORPUS / f"{name}.html").read_bytes()
    return Page(f"https://corpus.test/{name}/", 200, body, headers={"date": SERVED})


def test_the_corpus_holds_thirty_listing_pages_and_pages_with_no_list() -> None:
    assert len(LISTS) >= 30
    assert {label["expect"] for label in LABELS.values()} == {"list", "none", "scripted"}
    assert all(LABELS[name]["items"] for name in LISTS)


def test_every_corpus_page_prints_a_source_that_check_accepts_and_once_turns_into_its_entries(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    runner = CliRunner()
    blocks, urls = [], {}
    for name in LISTS:
        urls[name] = serve(httpserver, name)
        result = runner.invoke(main, ["detect", urls[name], "--name", name])
        assert result.exit_code == 0, (name, result.stderr)
        table = tomllib.loads(result.stdout)["sources"][0]
        assert table["kind"] == LABELS[name]["kind"], (name, table)
        blocks.append(result.stdout)
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{data}"\n\n' + "\n".join(blocks))
    checked = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0 and "config ok" in checked.stdout, checked.stderr
    once = run_cli("--config", str(config), "once", cwd=tmp_path, timeout=120)
    assert once.returncode == 0, once.stdout + once.stderr
    with open_embedded(data) as store:
        for name in LISTS:
            got = {e.link: e for e in store.feed_entries(name)}
            wanted = {resolve_url(i["link"], urls[name]): i for i in LABELS[name]["items"]}
            assert {link: e.title for link, e in got.items()} == {
                link: i["title"] for link, i in wanted.items()
            }, name
            for link, item in wanted.items():
                if item["date"]:
                    moment = got[link].published or got[link].updated
                    expected = datetime.fromisoformat(item["date"])
                    assert moment is not None and abs((moment - expected).total_seconds()) < 60, (
                        name,
                        item,
                        moment,
                    )


@pytest.mark.parametrize("name", LISTS)
def test_selectors_are_ones_a_person_would_keep(name: str) -> None:
    best = detect_page(corpus_page(name)).best
    if best is None or best.source["kind"] != "html":
        return  # feeds are fetched by `detect`, and json sources name no CSS but `embedded`
    for key in ("item", "title", "link", "date", "summary", "image", "score"):
        value = str(best.source.get(key, ""))
        assert not unstable(value), (name, key, value)


def test_a_single_article_says_there_is_no_list_and_exits_1(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    result = run_cli("detect", serve(httpserver, "none-article"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no list of entries on this page" in result.stderr


def test_a_login_wall_says_there_is_no_list(httpserver: HTTPServer) -> None:
    result = CliRunner().invoke(main, ["detect", serve(httpserver, "none-login")])
    assert result.exit_code == 1
    assert "no list of entries on this page" in result.stderr


def test_a_page_built_by_scripts_says_to_try_the_browser(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    result = run_cli("detect", serve(httpserver, "scripted-spa"), cwd=tmp_path)
    assert result.returncode == 1
    assert "built by scripts; try --fetch browser" in result.stderr


def test_json_gives_tools_the_verdict_and_every_candidate_with_its_entries(
    httpserver: HTTPServer,
) -> None:
    result = CliRunner().invoke(
        main, ["detect", "--json", serve(httpserver, "news-front-sections")]
    )
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert found["verdict"] == "found"
    best = found["candidates"][0]
    assert best["checked"] and best["method"] == "structure"
    assert best["source"]["item"] == "div.story"
    assert len(best["entries"]) == 20 and best["entries"][0]["date"] == "2026-05-08T11:00:00+00:00"
    assert tomllib.loads(best["toml"])["sources"][0] == best["source"]
    assert [c["rank"] for c in found["candidates"]] == list(range(1, len(found["candidates"]) + 1))


def test_all_prints_the_ranked_alternatives_with_counts_and_first_titles(
    httpserver: HTTPServer,
) -> None:
    url = serve(httpserver, "news-front-sections")
    result = CliRunner().invoke(main, ["detect", "--all", url])
    assert result.exit_code == 0
    assert "# 1. 20 items matching 'div.story'" in result.stdout
    assert "# 2. 5 items matching 'section.front-section'" in result.stdout
    assert "first: Rail strike called off after last-minute deal · " in result.stdout
    names = [t["name"] for t in tomllib.loads(result.stdout)["sources"]]
    assert names[:2] == [source_name(url), f"{source_name(url)}-2"]


def test_an_advertised_feed_wins_and_a_comments_feed_does_not(httpserver: HTTPServer) -> None:
    url = serve(httpserver, "feed-wordpress")
    result = CliRunner().invoke(main, ["detect", "--json", url])
    found = json.loads(result.stdout)
    feeds = [c for c in found["candidates"] if c["method"] == "feed"]
    assert found["candidates"][0]["source"]["url"].endswith("/feed-wordpress/feed/")
    comments = next(c for c in feeds if "/comments/" in c["source"]["url"])
    assert not comments["checked"] and comments["problem"] == "the feed has no entries"


def test_a_page_nested_beyond_the_limit_is_refused_before_parsing() -> None:
    depth = MAX_NESTING + 500
    body = ("<div><a href='/x'>a link</a>" * depth + "</div>" * depth).encode()
    found = detect_page(Page("https://x.test/", 200, body))
    assert found.verdict == "no list"
    assert f"more than {MAX_NESTING:,} levels deep" in found.message


def test_deep_but_not_hostile_nesting_is_read() -> None:
    inner = "".join(
        f'<li><a href="/p/{n}">Post number {n} about testing</a></li>' for n in range(6)
    )
    body = ("<div>" * 300 + f"<main><ul>{inner}</ul></main>" + "</div>" * 300).encode()
    best = detect_page(Page("https://x.test/", 200, body)).best
    assert best is not None and len(best.entries) == 6


@pytest.mark.parametrize(
    ("name", "stable"),
    [
        ("post-card", True), ("gs-c-promo", True), ("h-entry", True), ("u-url", True),
        ("css-1k3p9x", False), ("_a1b2c3", False), ("kXyZ", False), ("sc-d4e5f6", False),
        ("BlogCard_title__3fGh8", False), ("story--lead", False), ("flex-col", False),
        ("text-gray-500", False), ("odd", False), ("is-layout-flow", False), ("post-123", False),
    ],
)  # fmt: skip
def test_generated_utility_and_state_classes_are_not_stable(name: str, stable: bool) -> None:
    assert stable_class(name) is stable


def test_a_source_name_comes_from_the_url() -> None:
    assert source_name("https://www.example.com/blog/index.html") == "example-com-blog"
    assert source_name("http://127.0.0.1:8080/news-front/") == "127-0-0-1-news-front"


def test_the_printed_block_is_toml_with_the_name_first() -> None:
    best = detect_page(corpus_page("blog-jekyll")).best
    assert best is not None
    text = as_toml(best, 'quote"d')
    table = tomllib.loads(text)["sources"][0]
    assert list(table)[:3] == ["name", "kind", "url"] and table["name"] == 'quote"d'
    assert table["item"] == "ul.post-list > li" and table["date"] == "span.post-meta"


def test_json_ld_types_written_as_lists_are_read() -> None:
    posts = [
        {"@type": ["BlogPosting"], "headline": f"Post {n} on caching", "url": f"/p/{n}"}
        for n in range(4)
    ]
    body = f'<html><head><script type="application/ld+json">{json.dumps(posts)}</script>'
    best = detect_page(Page("https://x.test/", 200, f"{body}</head><body></body>".encode())).best
    assert best is not None and best.method == "json-ld" and best.checked
    assert [e.link for e in best.entries] == [f"https://x.test/p/{n}" for n in range(4)]


def test_preview_of_a_source_whose_selector_matches_nothing_suggests_what_detection_finds(
    httpserver: HTTPServer,
) -> None:
    url = serve(httpserver, "blog-ghost")
    result = CliRunner().invoke(main, ["preview", "--url", url, "--item", "div.entry"])
    assert result.exit_code == 1  # as `once` exits (issue 18)
    assert "the item selector matched nothing on this page" in result.stdout
    assert (
        'the page changed? these selectors match 12 items: item = "article.post-card", '
        'title = "h2", link = "a.post-card-content-link@href", date = "time@datetime"'
    ) in result.stdout


def test_the_poll_warning_of_such_a_source_suggests_what_detection_finds(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = serve(httpserver, "blog-jekyll")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "data"}"\n\n[[sources]]\nname = "notes"\nkind = "html"\n'
        f'url = "{url}"\nitem = "article.post"\n'
    )
    once = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert once.returncode == 1
    assert "item selector 'article.post' matched nothing on a page with content; " in once.stdout
    assert 'these selectors match 14 items: item = "ul.post-list > li"' in once.stdout


JS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Lab notes</title></head>
<body><h1>Lab notes</h1><ul id="posts"></ul>
<script>
const posts = [["/posts/3", "Third light of the season"], ["/posts/2", "Second wind on the hill"],
               ["/posts/1", "First steps in the valley"]];
setTimeout(() => {
  const list = document.getElementById("posts");
  for (const [path, title] of posts) {
    const li = document.createElement("li");
    li.className = "post";
    li.innerHTML = `<h2><a href="${path}">${title}</a></h2><p>Notes on ${title.toLowerCase()}.</p>`;
    list.appendChild(li);
  }
}, 300);
</script></body></html>"""


def test_a_script_built_page_is_read_with_the_browser(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    require_tool("chromium", "chromium-browser", package="chromium")
    httpserver.expect_request("/notes").respond_with_data(JS_PAGE, content_type="text/html")
    url = httpserver.url_for("/notes")
    plain = run_cli("detect", url, cwd=tmp_path)
    assert plain.returncode == 1 and "try --fetch browser" in plain.stderr
    result = run_cli("detect", "--fetch", "browser", url, cwd=tmp_path, timeout=90)
    assert result.returncode == 0, result.stderr
    table: dict[str, Any] = tomllib.loads(result.stdout)["sources"][0]
    assert table["fetch"] == "browser" and table["item"] == "li.post"
    assert "first: Third light of the season · Second wind on the hill" in result.stdout
