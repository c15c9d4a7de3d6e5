"""Case 3, render: 100, 1,000 and 10,000 entries → Atom, RSS, JSON Feed (feedbridge.feeds.render).

Also the served path, feedbridge.feeds.fragments: a first Atom render, and one after a single entry
changed, each against feedgen's full render in the same run.

Entries are the HF fixture's 37 papers mapped by the real HF source, repeated with distinct
keys and times. Baselines in the same run: a minimal Atom / RSS writer on lxml.etree (the
library feedgen itself builds on) and `json.dumps` of the same items: what the formats cost
without feedgen's per-element bookkeeping and feedbridge's validity fixes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import Row, Stat, hf_entries, interleave

SIZES = (100, 1000, 10000)
ATOM = "http://www.w3.org/2005/Atom"


def _timer(fn: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1000

    return run


def lxml_atom(entries: Sequence[Any]) -> bytes:
    from lxml import etree

    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    etree.SubElement(feed, "id").text = "urn:feedbridge:bench"
    etree.SubElement(feed, "title").text = "bench"
    etree.SubElement(feed, "updated").text = entries[0].updated.isoformat()
    for e in entries:
        node = etree.SubElement(feed, "entry")
        etree.SubElement(node, "id").text = f"urn:feedbridge:bench:{e.key}"
        etree.SubElement(node, "title").text = e.title
        etree.SubElement(node, "updated").text = e.updated.isoformat()
        etree.SubElement(node, "link", href=e.link, rel="alternate")
        for name in e.authors:
            etree.SubElement(etree.SubElement(node, "author"), "name").text = name
        content = etree.SubElement(node, "content", type="html")
        content.text = e.content_html
        etree.SubElement(node, "summary", type="text").text = e.summary
    out: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8")
    return out


def lxml_rss(entries: Sequence[Any]) -> bytes:
    from lxml import etree

    rss = etree.Element("rss", version="2.0")
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = "bench"
    etree.SubElement(channel, "link").text = "http://127.0.0.1/"
    for e in entries:
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "guid", isPermaLink="false").text = f"bench:{e.key}"
        etree.SubElement(item, "title").text = e.title
        etree.SubElement(item, "link").text = e.link
        etree.SubElement(item, "description").text = e.content_html
        etree.SubElement(item, "pubDate").text = e.updated.strftime("%a, %d %b %Y %H:%M:%S +0000")
    out: bytes = etree.tostring(rss, xml_declaration=True, encoding="UTF-8")
    return out


def plain_json(entries: Sequence[Any]) -> bytes:
    items = [
        {
            "id": e.key,
            "url": e.link,
            "title": e.title,
            "content_html": e.content_html,
            "summary": e.summary,
            "date_modified": e.updated.isoformat(),
            "authors": [{"name": n} for n in e.authors],
        }
        for e in entries
    ]
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "items": items}, ensure_ascii=False
    ).encode()


def run(quick: bool = False) -> list[Row]:
    from feedbridge.core.models import FeedInfo
    from feedbridge.feeds import render

    info = FeedInfo(
        name="bench",
        title="Hugging Face Daily Papers",
        link="https://huggingface.co/papers",
        self_url="http://127.0.0.1:8080/feeds/bench.atom",
        base_url="http://127.0.0.1:8080",
        description="bench feed, via feedbridge",
    )
    rows: list[Row] = []
    sizes = SIZES if not quick else (100, 1000)
    for n in sizes:
        entries = hf_entries(n)
        runs = {100: 7, 1000: 5, 10000: 3}[n] if not quick else 3
        formats = (
            ("Atom", render.render_atom, lxml_atom, "lxml Atom"),
            ("RSS", render.render_rss, lxml_rss, "lxml RSS"),
            ("JSON", render.render_json, plain_json, "json.dumps"),
        )
        for label, ours, floor, floor_name in formats:
            size = len(ours(info, entries))
            a, b = interleave(
                runs,
                _timer(lambda f=ours, e=entries: f(info, e)),
                _timer(lambda f=floor, e=entries: f(e)),
                warmup=n < 10000,
            )
            rows.append(
                Row(
                    "render",
                    f"{n} entries → {label} ({size / 1e6:.2f} MB)",
                    "ms",
                    Stat(a),
                    floor_name,
                    Stat(b),
                )
            )
        a = interleave(
            max(1, runs - 2), _timer(lambda e=entries: render.render_all(info, e)), warmup=False
        )[0]
        rows.append(Row("render", f"{n} entries → render_all (3 formats)", "ms", Stat(a)))
        rows += _incremental(info, entries, runs)
    return rows


def _incremental(info: Any, entries: list[Any], runs: int) -> list[Row]:
    """The served path (feedbridge.feeds.fragments): a first render, and a render after one entry
    changed (the other fragments come from the cache); baseline feedgen's full Atom render."""
    from dataclasses import replace

    from feedbridge.feeds import render
    from feedbridge.feeds.fragments import FragmentCache

    n = len(entries)
    warm = FragmentCache()
    versions = [entries, [replace(entries[0], title=entries[0].title + " (v2)"), *entries[1:]]]
    assert warm.render(info, versions[1], "atom") == render.render_atom(info, versions[1])
    turn = [0]

    def one_changed() -> None:
        turn[0] ^= 1
        warm.render(info, versions[turn[0]], "atom")

    fresh, changed, full = interleave(
        runs,
        _timer(lambda: FragmentCache().render(info, entries, "atom")),
        _timer(one_changed),
        _timer(lambda: render.render_atom(info, entries)),
        warmup=n < 10000,
    )
    return [
        Row(
            "render",
            f"{n} entries → Atom, fragments, first render",
            "ms",
            Stat(fresh),
            "feedgen Atom",
            Stat(full),
        ),
        Row(
            "render",
            f"{n} entries → Atom, fragments, 1 entry changed",
            "ms",
            Stat(changed),
            "feedgen Atom",
            Stat(full),
        ),
    ]
