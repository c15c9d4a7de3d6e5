"""Case 1, extract: HF API JSON and a ~350 KB papers page → entries, against BeautifulSoup.

Rows:
- HF API JSON through `HfPapersSource.extract` (baseline: `json.loads` of the same bytes:
  the floor).
- The papers page through an `html` source with CSS selectors (`HtmlSource`), against the same
  extraction written with BeautifulSoup (lxml parser, and html.parser), same fields, same
  sanitizing of the summary HTML, same output entries.
- The page's embedded JSON (`div[data-target="DailyPapers"]` → `data-props`): through
  `HfPapersSource.extract` if it reads pages, else the same steps done here with selectolax and
  the source's own `entry()` mapping (marked "emulated"); baseline the same with BeautifulSoup.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from bench.common import Row, Stat, hf_api_bytes, interleave, papers_page

PAGE_URL = "https://huggingface.co/papers/date/2026-05-08"
HTML_CONFIG = {
    "name": "hf-page",
    "kind": "html",
    "url": PAGE_URL,
    "item": "article",
    "title": "h3 a",
    "link": "h3 a@href",
    "summary": "p.abstract",
    "date": "time@datetime",
    "score": ".upvotes",
    "author": "li.author",
    "image": "img",
}


def _timer(fn: Callable[[], Any], repeat: int) -> Callable[[], float]:
    """One run: ms per call, averaged over `repeat` calls."""

    def run() -> float:
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        return (time.perf_counter() - t) * 1000 / repeat

    return run


def bs4_available() -> bool:
    try:
        import bs4  # noqa: F401
    except ImportError:
        return False
    return True


def bs4_html_source(body: bytes, parser: str) -> list[Any]:
    """The html-source extraction written with BeautifulSoup: same selectors, same fields."""
    from bs4 import BeautifulSoup

    from feedbridge.core.models import Entry
    from feedbridge.sources.markup import sanitize_html
    from feedbridge.sources.text import clean_text, shorten

    soup = BeautifulSoup(body, parser)
    out = []
    for item in soup.select("article"):
        a = item.select_one("h3 a")
        title = clean_text(a.get_text(" ", strip=True)) if a else ""
        href = a.get("href") if a else None
        link = urljoin(PAGE_URL, href) if href else None
        p = item.select_one("p.abstract")
        summary = shorten(clean_text(p.get_text(" ", strip=True))) if p else ""
        content = sanitize_html(str(p), PAGE_URL) if p else ""
        t = item.select_one("time")
        published = None
        if t is not None and t.get("datetime"):
            published = datetime.fromisoformat(t["datetime"]).astimezone(UTC)
        up = item.select_one(".upvotes")
        score = float(up.get_text(strip=True)) if up else None
        authors = tuple(clean_text(li.get_text(" ", strip=True)) for li in item.select("li.author"))
        img = item.select_one("img")
        image = urljoin(PAGE_URL, img["src"]) if img is not None and img.get("src") else None
        if not title or not link:
            continue
        out.append(
            Entry(
                source="hf-page",
                key=link,
                title=title,
                link=link,
                summary=summary,
                content_html=content,
                published=published,
                authors=authors,
                score=score,
                image=image,
            )
        )
    return out


def run(quick: bool = False) -> list[Row]:
    from selectolax.lexbor import LexborHTMLParser

    from feedbridge.config import HfPapersConfig, HtmlConfig
    from feedbridge.core.errors import ParseError
    from feedbridge.core.models import Page
    from feedbridge.sources import build_source

    rows: list[Row] = []
    runs = 5 if quick else 11
    api = hf_api_bytes()
    body = papers_page()
    hf = build_source(HfPapersConfig(name="hf"))
    api_page = Page(
        url="https://huggingface.co/api/daily_papers?date=2026-05-08",
        status=200,
        body=api,
        headers={"content-type": "application/json"},
    )
    html_page = Page(
        url=PAGE_URL,
        status=200,
        body=body,
        headers={"content-type": "text/html; charset=utf-8"},
        encoding="utf-8",
    )
    assert len(hf.extract(api_page)) == 37

    a, b = interleave(
        runs, _timer(lambda: hf.extract(api_page), 10), _timer(lambda: json.loads(api), 10)
    )
    rows.append(
        Row(
            "extract",
            f"HF API JSON {len(api) // 1024} KB → 37 entries",
            "ms",
            Stat(a),
            "json.loads only",
            Stat(b),
        )
    )

    src = build_source(HtmlConfig.model_validate(HTML_CONFIG))
    ours = src.extract(html_page)
    have_bs4 = bs4_available()
    page_kb = len(body) // 1024
    if have_bs4:
        theirs = bs4_html_source(body, "lxml")
        same = [(e.title, e.link, e.score, e.published, e.authors) for e in ours] == [
            (e.title, e.link, e.score, e.published, e.authors) for e in theirs
        ]
        assert len(ours) == len(theirs) == 37, (len(ours), len(theirs))
        for parser in ("lxml", "html.parser"):
            a, b = interleave(
                runs,
                _timer(lambda: src.extract(html_page), 5),
                _timer(lambda p=parser: bs4_html_source(body, p), 1),
            )
            rows.append(
                Row(
                    "extract",
                    f"page {page_kb} KB, html source (CSS) → 37",
                    "ms",
                    Stat(a),
                    f"bs4 {parser}",
                    Stat(b),
                    better="lower",
                    note="" if same else "outputs differ",
                    extra={"same_output": same},
                )
            )
    else:
        a = interleave(runs, _timer(lambda: src.extract(html_page), 5))[0]
        rows.append(
            Row(
                "extract",
                f"page {page_kb} KB, html source (CSS) → 37",
                "ms",
                Stat(a),
                note="beautifulsoup4 not installed: no baseline",
            )
        )

    # --- page fallback: the JSON embedded in the page ---------------------------------
    hf_page_src = build_source(HfPapersConfig(name="hf", mode="page"))
    native = True
    try:
        got = hf_page_src.extract(html_page)
        native = len(got) == 37
    except ParseError:
        native = False

    def emulated() -> list[Any]:
        tree = LexborHTMLParser(body)
        node = tree.css_first('div[data-target="DailyPapers"]')
        props = json.loads(node.attributes["data-props"])
        return [e for e in map(hf.papers.entry, props["dailyPapers"]) if e is not None]

    def via_bs4() -> list[Any]:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(body, "lxml")
        node = soup.select_one('div[data-target="DailyPapers"]')
        props = json.loads(node["data-props"])
        return [e for e in map(hf.papers.entry, props["dailyPapers"]) if e is not None]

    rows += _feed_rows(runs)
    fallback: Callable[[], Any] = (lambda: hf_page_src.extract(html_page)) if native else emulated
    assert len(fallback()) == 37
    label = "HfPapersSource" if native else "emulated: selectolax+entry()"
    if have_bs4:
        a, b = interleave(runs, _timer(fallback, 5), _timer(via_bs4, 1))
        rows.append(
            Row(
                "extract",
                f"page {page_kb} KB, embedded JSON ({label}) → 37",
                "ms",
                Stat(a),
                "bs4 lxml",
                Stat(b),
                note="" if native else "HfPapersSource has no page fallback yet",
            )
        )
    return rows


# The RSS date forms of issue 11: what real feeds write.
RSS_DATES = (
    "Thu, 07 May 2026 12:30:45 GMT",
    "07 May 2026 12:30:45 GMT",
    "Thu, 7 May 2026 12:30:45 +0000",
    "Thu, 07 May 2026 12:30 GMT",
    "Thu, 07 May 26 12:30:45 GMT",
    "Thu, 07 May 2026 12:30:45 UT",
    "Thu, 07 May 2026 12:30:45 z",
    "Thu, 07 May 2026 07:30:45 est",
    "Thu, 07 May 2026 09:56:45 -0234",
    "thu, 07 may 2026 12:30:45 gmt",
    "Thu, 07 May 2026 13:30:45 CET",
    "Mon, 01 Jan 1968 00:00:00 GMT",
)


def _feed_rows(runs: int) -> list[Row]:
    """An RSS feed through the `feed` source against feedparser alone; its dates against
    feedparser's own date handlers."""
    import feedparser
    from feedparser.datetimes import _parse_date

    from feedbridge.config import FeedConfig
    from feedbridge.core.models import Page
    from feedbridge.sources import build_source
    from feedbridge.sources.values import parse_date

    items = "".join(
        f"<item><title>Post {i}</title><link>https://blog.example/{i}</link>"
        f"<description>&lt;p&gt;Text of post {i}.&lt;/p&gt;</description>"
        f"<pubDate>{RSS_DATES[i % len(RSS_DATES)]}</pubDate></item>"
        for i in range(120)
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Blog</title>'
        f"<link>https://blog.example/</link>{items}</channel></rss>"
    ).encode()
    page = Page(
        url="https://blog.example/feed.xml",
        status=200,
        body=body,
        headers={"content-type": "application/rss+xml"},
    )
    src = build_source(FeedConfig(name="blog", kind="feed", url="https://blog.example/feed.xml"))
    assert len(src.extract(page)) == 120
    a, b = interleave(
        runs, _timer(lambda: src.extract(page), 3), _timer(lambda: feedparser.parse(body), 3)
    )
    rows = [
        Row(
            "extract",
            "RSS feed 120 items → 120 entries",
            "ms",
            Stat(a),
            "feedparser.parse only",
            Stat(b),
        )
    ]
    a, b = interleave(
        runs,
        _timer(lambda: [parse_date(d) for d in RSS_DATES], 200),
        _timer(lambda: [_parse_date(d) for d in RSS_DATES], 200),
    )
    rows.append(
        Row(
            "extract",
            f"RSS dates, {len(RSS_DATES)} forms → parse_date",
            "ms",
            Stat(a),
            "feedparser _parse_date",
            Stat(b),
        )
    )
    return rows
