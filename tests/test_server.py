"""Every endpoint: feeds with conditional GET and gzip, index, OPML, healthz, metrics, tokens."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any
from xml.etree import ElementTree

import feedparser
import httpx
import pytest
from starlette.applications import Starlette

from feedbridge.app.pages import SourceInfo
from feedbridge.app.server import create_app
from feedbridge.core.metrics import Metrics
from feedbridge.core.models import FeedInfo
from feedbridge.feeds.board import FeedBoard
from feedbridge.store import SourceState, StoreUnavailable
from tests.conftest import hf_items
from tests.test_hf_papers import page, source

BASE = "http://feeds.test"
SOURCES = [
    SourceInfo(
        "hf-daily", "Hugging Face Daily Papers", "hf_papers", "https://huggingface.co/papers"
    ),
    SourceInfo("blog", "A blog", "html", "https://blog.example.com/"),
]


def board_with(n: int = 37) -> FeedBoard:
    board = FeedBoard()
    entries = source().extract(page(hf_items()[:n]))
    entries.sort(key=lambda e: e.sort_time, reverse=True)
    info = FeedInfo(
        "hf-daily",
        "Hugging Face Daily Papers",
        "https://huggingface.co/papers",
        f"{BASE}/feeds/hf-daily.atom",
        BASE,
    )
    board.publish(info, entries, 1_778_000_000)
    blog = FeedInfo("blog", "A blog", "https://blog.example.com/", f"{BASE}/feeds/blog.atom", BASE)
    board.publish(blog, [], 1_778_000_000)
    return board


class Client:
    """A synchronous face on httpx's ASGI transport: real HTTP semantics, no sockets."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(go())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", path, **kwargs)


def _health(alive: bool | str) -> Callable[[], Awaitable[str | None]]:
    async def health() -> str | None:
        return None if alive is True else (alive or "worker stalled")

    return health


def client(
    board: FeedBoard | None = None,
    token: str | None = None,
    alive: bool | str = True,
    metrics: Metrics | None = None,
) -> Client:
    state = {
        "hf-daily": SourceState(status="ok", last_poll=time.time(), last_success=time.time()),
        "blog": SourceState(
            status="failing",
            failures=3,
            last_error="source 'blog' (https://blog.example.com/): HTTP 500",
        ),
    }
    app = create_app(
        board or board_with(),
        SOURCES,
        base_url=BASE,
        token=token,
        health=_health(alive),
        source_states=lambda names: {n: state.get(n) for n in names},
        metrics=metrics,
    )
    return Client(app)


@pytest.mark.parametrize(
    ("ext", "ctype"),
    [
        ("atom", "application/atom+xml"),
        ("rss", "application/rss+xml"),
        ("json", "application/feed+json"),
    ],
)
def test_each_format_is_served_with_its_type_and_validators(ext: str, ctype: str) -> None:
    response = client().get(f"/feeds/hf-daily.{ext}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(ctype)
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert "max-age" in response.headers["cache-control"]
    if ext != "json":
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo and len(parsed.entries) == 37


def test_conditional_requests_get_304() -> None:
    c = client()
    first = c.get("/feeds/hf-daily.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert c.get("/feeds/hf-daily.atom", headers={"If-None-Match": etag}).status_code == 304
    assert (
        c.get("/feeds/hf-daily.atom", headers={"If-None-Match": f'W/{etag}, "other"'}).status_code
        == 304
    )
    assert c.get("/feeds/hf-daily.atom", headers={"If-Modified-Since": modified}).status_code == 304
    assert c.get("/feeds/hf-daily.atom", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_etag_changes_only_when_the_feed_changes() -> None:
    etag = client(board_with(37)).get("/feeds/hf-daily.atom").headers["etag"]
    assert client(board_with(37)).get("/feeds/hf-daily.atom").headers["etag"] == etag
    assert client(board_with(36)).get("/feeds/hf-daily.atom").headers["etag"] != etag


def test_gzip_when_asked_and_head_without_body() -> None:
    c = client()
    zipped = c.get("/feeds/hf-daily.atom", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    plain = c.get("/feeds/hf-daily.atom", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.compress(plain.content) and len(zipped.headers) > 0
    head = c.head("/feeds/hf-daily.atom")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/feeds/nope.atom", "no feed named 'nope'\n"),
        ("/feeds/nope.xml", "no feed named 'nope'\n"),
        ("/feeds/hf-daily.xml", "no format 'xml' for feed 'hf-daily'; try "
         "/feeds/hf-daily.atom, /feeds/hf-daily.rss, /feeds/hf-daily.json\n"),
        ("/feeds/hf-daily", "no format given for feed 'hf-daily'; try "
         "/feeds/hf-daily.atom, /feeds/hf-daily.rss, /feeds/hf-daily.json\n"),
        ("/nothing", "Not Found"),
    ],
)
def test_unknown_feeds_are_404_naming_what_exists(path: str, says: str) -> None:
    response = client().get(path)
    assert response.status_code == 404
    assert response.text == says


def test_a_wrong_extension_behind_a_token_names_the_formats_without_the_token() -> None:
    response = client(token="s3cret-token").get("/feeds/hf-daily.xml?token=s3cret-token")
    assert response.status_code == 404
    assert "/feeds/hf-daily.rss" in response.text and "s3cret" not in response.text
    assert client(token="s3cret-token").get("/feeds/hf-daily.xml").status_code == 401


def test_opml_lists_every_feed() -> None:
    response = client().get("/opml")
    outlines = ElementTree.fromstring(response.content).findall(".//outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        f"{BASE}/feeds/hf-daily.atom",
        f"{BASE}/feeds/blog.atom",
    ]
    assert outlines[0].get("title") == "Hugging Face Daily Papers"


def test_index_shows_sources_health_and_autodiscovery() -> None:
    html = client().get("/").text
    assert html.count('<link rel="alternate" type="application/atom+xml"') == 2
    assert f'href="{BASE}/feeds/hf-daily.rss"' in html
    assert "HTTP 500" in html and ">failing (3 in a row)<br>" in html
    assert ">EMO: Pretraining Mixture of Experts" in html  # the newest entry, linked
    assert "<script" not in html


def test_healthz_reflects_the_worker() -> None:
    assert client(alive=True).get("/healthz").status_code == 200
    assert client(alive=False).get("/healthz").status_code == 503


def test_healthz_says_why_the_node_is_unhealthy() -> None:
    answer = client(alive="store down for 12s: connection refused").get("/healthz")
    assert (answer.status_code, answer.text) == (
        503,
        "unhealthy: store down for 12s: connection refused\n",
    )


def test_a_feed_the_store_cannot_give_now_is_a_503_with_retry_after_and_a_cached_one_is_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the store is down, a feed on the board is served as it is; a configured feed not
    on the board (after a restart) is a 503 with Retry-After, not a 404; an unknown name is
    still a 404."""
    board = board_with()

    def loader(name: str) -> None:
        if name == "nope":
            return None
        raise StoreUnavailable("store down for 3s: connection refused")

    board.loader = loader
    app = client(board)
    assert app.get("/feeds/hf-daily.atom").status_code == 200
    missing = app.get("/feeds/later.atom")
    assert missing.status_code == 503
    assert missing.headers["retry-after"] == "5"
    assert missing.text == "feed 'later' cannot be read from the store now; try again in 5s\n"
    assert app.get("/feeds/nope.atom").status_code == 404


def test_metrics_are_prometheus_text() -> None:
    metrics = Metrics()
    metrics.polls.labels("hf-daily").inc()
    metrics.watch_queues(lambda: ["team"], lambda t: 4)
    body = client(metrics=metrics).get("/metrics").text
    assert 'feedbridge_source_polls_total{source="hf-daily"} 1.0' in body
    assert 'feedbridge_target_queued{target="team"} 4.0' in body


def test_a_queue_the_store_cannot_count_now_is_left_out_of_the_scrape() -> None:
    """/metrics answers while the store is down: the queues it cannot count have no sample
    (unknown, not 0), the rest are as usual."""
    metrics = Metrics()

    def count(target: str) -> int:
        if target == "ops":
            raise StoreUnavailable("store down for 3s: connection refused")
        return 4

    metrics.know(["hf-daily"], ["team", "ops"], lambda names: dict.fromkeys(names, 1_778_000_000.0))
    metrics.watch_queues(lambda: ["team", "ops"], count)
    answer = client(metrics=metrics).get("/metrics")
    assert answer.status_code == 200
    queued = [line for line in answer.text.splitlines() if line.startswith("feedbridge_target_q")]
    assert queued == ['feedbridge_target_queued{target="team"} 4.0']
    assert 'feedbridge_source_last_success_timestamp_seconds{source="hf-daily"} 1.778e+09' in (
        answer.text
    )


async def test_the_index_page_and_metrics_wait_on_a_locked_table_without_holding_up_feeds(
    pg_url: str,
) -> None:
    """The index page reads each source's state and /metrics each target's queue from the
    store: with those tables locked they wait (in worker threads), while a feed on the board
    and /healthz answer as usual; once the lock goes, both pages are served."""
    import psycopg

    from feedbridge.app.pages import shown_states
    from feedbridge.store.postgres import PostgresStore
    from tests.test_store_conformance import wait_for_lock_wait

    # no read gives up on the lock while the test looks
    patient = f"{pg_url}?options=-c%20lock_timeout%3D30s%20-c%20statement_timeout%3D30s"
    with PostgresStore(patient) as store, psycopg.connect(pg_url) as locker:
        store.register_sources([s.name for s in SOURCES], time.time())
        metrics = Metrics()
        metrics.watch_queues(lambda: ["team"], store.pending_count)
        app = create_app(
            board_with(),
            SOURCES,
            base_url=BASE,
            source_states=lambda names: shown_states(store, names),
            metrics=metrics,
        )
        locker.execute("LOCK TABLE sources, outbox")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=60) as c:
            index = asyncio.create_task(c.get("/"))
            scrape = asyncio.create_task(c.get("/metrics"))
            waiting = await asyncio.to_thread(wait_for_lock_wait, locker, 10.0, 2)
            assert waiting, "both pages wait on the lock"
            feed, health = await c.get("/feeds/hf-daily.atom"), await c.get("/healthz")
            assert (feed.status_code, health.status_code) == (200, 200)
            assert not index.done() and not scrape.done(), "the pages still wait"
            locker.commit()
            page, queued = await index, await scrape
    assert page.status_code == 200 and "Hugging Face Daily Papers" in page.text
    assert queued.status_code == 200


def test_the_plain_index_under_a_locked_sources_table_waits_one_lock_timeout_not_one_each(
    pg_url: str,
) -> None:
    """200 sources, `sources` locked by another session (the default 1 s lock timeout): the
    plain index reads their states in one query, so it answers in about a second with every
    feed listed and "state unavailable" (a read per source took 200 s); unlocked, it shows
    the states again."""
    import psycopg

    from feedbridge.app.pages import shown_states
    from feedbridge.store import PollOutcome
    from feedbridge.store.postgres import PostgresStore

    infos = [SourceInfo(f"s{i:03}", f"Source {i}", "feed", "") for i in range(200)]
    with PostgresStore(pg_url) as store:
        store.register_sources([s.name for s in infos], time.time())
        store.apply_poll("s007", PollOutcome(SourceState(last_poll=1e9, status="ok")))
        app = create_app(board_with(), infos, base_url=BASE,
                         source_states=lambda names: shown_states(store, names))  # fmt: skip
        c = Client(app)
        assert c.get("/").text.count(">pending<") == 199
        with psycopg.connect(pg_url) as locker:
            locker.execute("LOCK TABLE sources")
            started = time.monotonic()
            locked = c.get("/")
            took = time.monotonic() - started
            locker.rollback()
        unlocked = c.get("/").text
    assert locked.status_code == 200 and took < 10, f"{took:.1f}s under the lock"
    assert locked.text.count("state unavailable") == 200 and "pending" not in locked.text
    assert "never" not in locked.text and locked.text.count("<td>unknown</td>") == 200
    assert all(f"/feeds/{s.name}.atom" in locked.text for s in infos)
    assert "could not be read from the store now" in locked.text
    assert '<td class="status ok">ok</td>' in unlocked and "state unavailable" not in unlocked


def test_token_guards_feeds_index_opml_and_metrics_but_not_healthz() -> None:
    c = client(token="s3cret-token", metrics=Metrics())
    for path in ("/feeds/hf-daily.atom", "/", "/opml", "/metrics"):
        assert c.get(path).status_code == 401, path
        assert c.get(path, params={"token": "wrong"}).status_code == 401, path
        assert c.get(path, params={"token": "s3cret-token"}).status_code == 200, path
        assert c.get(path, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert c.get("/healthz").status_code == 200
    opml = c.get("/opml", params={"token": "s3cret-token"}).text
    assert "hf-daily.atom?token=s3cret-token" in opml  # readers keep it in the URL
    assert "s3cret-token" not in c.get("/feeds/hf-daily.atom").text


def test_gzip_and_plain_variants_hold_the_same_feed_with_distinct_etags() -> None:
    c = client()
    zipped = c.get("/feeds/hf-daily.atom", headers={"Accept-Encoding": "gzip"})
    plain = c.get("/feeds/hf-daily.atom", headers={"Accept-Encoding": "identity"})
    assert zipped.content == plain.content  # httpx inflates the gzip body
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    for etag in (zipped.headers["etag"], plain.headers["etag"]):
        again = c.get("/feeds/hf-daily.atom", headers={"If-None-Match": etag})
        assert again.status_code == 304


def _style_hash(html: str) -> str:
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def test_the_index_page_allows_only_its_own_hashed_style_and_is_never_framed() -> None:
    """Nothing inline runs unless hashed (no script at all), nothing loads from elsewhere, no
    site may frame it; no response is sniffed into a page or sends a referrer (with ?token=)."""
    response = client().get("/")
    csp = response.headers["content-security-policy"]
    rules = dict(rule.strip().split(" ", 1) for rule in csp.split(";"))
    assert rules["default-src"] == "'none'" and rules["frame-ancestors"] == "'none'"
    assert rules["style-src"] == _style_hash(response.text)  # the page's one <style>
    assert "unsafe-inline" not in csp and "script-src" not in rules  # default-src: none
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    for path in ("/feeds/hf-daily.atom", "/feeds/nope.atom", "/opml", "/healthz", "/nowhere"):
        headers = client().get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
