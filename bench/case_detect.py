"""Case detect: `feedbridge detect` scored on the labelled corpus of tests/data/detect/.

Each listing page of the corpus is detected as `feedbridge detect` does (the feeds a page
advertises are fetched from the corpus, in process), and the best candidate's entries are
compared with the page's labels:
- link precision and recall per page, averaged over the listing pages;
- titles exactly as labelled, over the labelled items found;
- dates: found and equal to the label (to the minute), over the found items the page dates;
- the pages with no list must get no candidate (a single article, a login wall: "no list";
  a page built by scripts: "scripted").
CPU: per corpus page; for a ~350 KB papers page (bench/common.py: papers_page) against the
html source's extraction of the same page (what one poll costs); for hostile 5 MB pages.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bench.common import ROOT, Row, Stat, interleave, papers_page

CORPUS = ROOT / "tests" / "data" / "detect"
SERVED = "Fri, 08 May 2026 12:00:00 GMT"
ORIGIN = "https://corpus.test"
_VERDICT = {"none": "no list", "scripted": "scripted", "list": "found"}


class CorpusFetcher:
    """The corpus as a site: each page at its path, the feeds it advertises beside it."""

    def __init__(self, files: Mapping[str, tuple[bytes, str]]) -> None:
        self.files = files

    async def get(self, url: str, **_: Any) -> Any:
        from feedbridge.core.errors import FetchError
        from feedbridge.core.models import Page

        path = url.removeprefix(ORIGIN)
        if path not in self.files:
            raise FetchError("detect", url, "HTTP 404 Not Found", status=404)
        body, content_type = self.files[path]
        headers = {"date": SERVED, "content-type": content_type}
        return Page(url, 200, body, headers=headers)


def corpus() -> list[tuple[str, dict[str, Any], CorpusFetcher]]:
    out = []
    for label_path in sorted(CORPUS.glob("*.json")):
        label = json.loads(label_path.read_text())
        name = label_path.stem
        files = {
            label["path"]: ((CORPUS / f"{name}.html").read_bytes(), "text/html; charset=utf-8")
        }
        for path, info in label["files"].items():
            files[path] = ((CORPUS / info["file"]).read_bytes(), info["content_type"])
        out.append((name, label, CorpusFetcher(files)))
    return out


def score_page(label: dict[str, Any], detection: Any) -> dict[str, Any]:
    """One page's precision, recall, exact titles and dates, against its labels."""
    from feedbridge.sources.markup import resolve_url

    url = ORIGIN + label["path"]
    expected = {resolve_url(i["link"], url): i for i in label["items"]}
    best = detection.best
    got = {e.link: e for e in best.entries} if best is not None else {}
    found = [link for link in expected if link in got]
    dated = [link for link in found if expected[link]["date"]]
    dates_right = 0
    for link in dated:
        moment = got[link].published or got[link].updated
        want = datetime.fromisoformat(expected[link]["date"])
        dates_right += moment is not None and abs((moment - want).total_seconds()) < 60
    return {
        "verdict": detection.verdict,
        "method": best.method if best else None,
        "precision": len(found) / len(got) if got else 0.0,
        "recall": len(found) / len(expected) if expected else 0.0,
        "found": len(found),
        "titles": sum(1 for link in found if got[link].title == expected[link]["title"]),
        "dated": len(dated),
        "dates": dates_right,
    }


def _hostile_pages() -> dict[str, bytes]:
    deep = '<div class="n"><a href="/x">a link with text</a>'
    n = 5_000_000 // (len(deep) + 6)
    flat = (
        '<li class="it"><a href="/p/{0}">Item number {0} with a title</a> <span>May 1</span></li>'
    )
    items = "".join(flat.format(i) for i in range(5_000_000 // (len(flat) + 2)))
    return {
        f"a 5 MB page of divs nested {n:,} deep": f"<html><body>{deep * n}{'</div>' * n}".encode(),
        "a 5 MB page of one list of 60,000 links": f"<html><body><ul>{items}</ul>".encode(),
    }


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    from feedbridge.config import HtmlConfig
    from feedbridge.core.models import Page
    from feedbridge.detect import detect, detect_page
    from feedbridge.sources import build_source

    pages = corpus()
    for _, label, fetcher in pages:  # warm up: imports (mf2py, bs4, feedparser), caches
        asyncio.run(detect(ORIGIN + label["path"], fetcher))
    scores: dict[str, dict[str, Any]] = {}
    cpu: list[float] = []
    for name, label, fetcher in pages:
        started = time.process_time()
        detection = asyncio.run(detect(ORIGIN + label["path"], fetcher))
        cpu.append((time.process_time() - started) * 1000)
        scores[name] = {**score_page(label, detection), "expect": label["expect"],
                        "cpu_ms": round(cpu[-1], 2)}  # fmt: skip
    listing = [s for s in scores.values() if s["expect"] == "list"]
    found = sum(s["found"] for s in listing)
    told = sum(
        1
        for s in scores.values()
        if s["expect"] != "list" and s["verdict"] == _VERDICT[s["expect"]]
    )
    negatives = sum(1 for s in scores.values() if s["expect"] != "list")
    n = len(listing)
    rows = [
        Row("detect", f"item-link precision, mean of {n} listing pages", "ratio",
            Stat([statistics.mean(s["precision"] for s in listing)]), better="higher"),
        Row("detect", f"item-link recall, mean of {n} listing pages", "ratio",
            Stat([statistics.mean(s["recall"] for s in listing)]), better="higher"),
        Row("detect", f"titles exactly as labelled, of {found} items found", "%",
            Stat([100 * sum(s["titles"] for s in listing) / max(found, 1)]), better="higher"),
        Row("detect", f"dates found, of {sum(s['dated'] for s in listing)} dated items found",
            "%", Stat([100 * sum(s["dates"] for s in listing) / max(sum(s["dated"] for s in
                                                                      listing), 1)]),
            better="higher"),
        Row("detect", f"pages with no list told apart, of {negatives}", "pages", Stat([told]),
            better="higher"),
        Row("detect", f"CPU per corpus page (median of {len(pages)}; max {max(cpu):.0f} ms)",
            "ms", Stat(cpu)),
    ]  # fmt: skip
    body = papers_page()
    page = Page("https://huggingface.co/papers", 200, body, headers={"date": SERVED},
                encoding="utf-8")  # fmt: skip
    fields = {"item": "article.paper-card", "link": "h3 a@href", "date": "time@datetime"}
    source = build_source(HtmlConfig(name="hf-page", url=page.url, title="h3 a", **fields))

    def timed(fn: Any) -> Any:
        def once() -> float:
            started = time.process_time()
            fn()
            return (time.process_time() - started) * 1000

        return once

    a, b = interleave(5 if quick else 11, timed(lambda: detect_page(page)),
                      timed(lambda: source.analyze(page)))  # fmt: skip
    rows.append(Row("detect", f"CPU for a {len(body) // 1024} KB papers page", "ms", Stat(a),
                    "html source: extract the same page", Stat(b)))  # fmt: skip
    for name, hostile in _hostile_pages().items():
        bad = Page("https://x.test/", 200, hostile)
        runs = interleave(2 if quick else 3, timed(lambda bad=bad: detect_page(bad)))[0]
        rows.append(Row("detect", f"CPU for {name}", "ms", Stat(runs)))
    return rows, {"pages": scores}
