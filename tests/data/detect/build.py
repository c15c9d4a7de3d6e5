"""Writes the detector's labelled corpus: one listing page per site style, and its labels.

`python tests/data/detect/build.py` rewrites every `NAME.html` (and the feeds some pages
advertise) and `NAME.json` beside this file. Each page is modelled on the markup of a kind of
real site (named in its label's "about"), with the boilerplate such sites carry: navigation,
sidebars, tag clouds, "related" widgets, footers, pagination. The labels are the entries a
person reading the page would expect in its feed (link, title, date where the page shows one),
written from the same data as the page, never from what the detector finds.

Every page is served at `/NAME/` with the Date header `SERVED`, the anchor of relative dates.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVED = "Fri, 08 May 2026 12:00:00 GMT"
NOW = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)

Item = dict[str, Any]  # link, title, date (ISO or None), and the page-only extras below


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def day(n: int, hour: int = 0, minute: int = 0) -> datetime:
    """`n` days before the served day, at hour:minute UTC."""
    return (NOW - timedelta(days=n)).replace(hour=hour, minute=minute)


# --- content pools: titles and text as such sites write them --------------------------------

TECH = [
    "Why we moved our build cache to object storage",
    "A gentle introduction to property-based testing",
    "Postgres 18: what the new asynchronous I/O means for you",
    "Debugging a memory leak in a long-running Python worker",
    "The case for boring technology, ten years later",
    "How we cut our CI time from 40 to 9 minutes",
    "Notes on writing a tiny regex engine",
    "Rust's borrow checker, explained with diagrams",
    "Shipping a feature flag system without a vendor",
    "What I learned maintaining an open-source library for 5 years",
    "Understanding TCP's TIME_WAIT, finally",
    "Zero-downtime migrations with expand and contract",
    "Caching HTTP responses correctly: ETag vs Last-Modified",
    "Benchmarks lie: measuring latency under load",
    "A field guide to Unicode normalization (NFC, NFD & friends)",
    "Our on-call handbook, published",
    "Building a search index in 300 lines of Go",
    "SQLite as an application file format",
    "Profiling async Python with py-spy",
    "Designing APIs that age well",
    "Event sourcing: six mistakes we made",
    "The hidden cost of retries",
    "From cron to a proper job queue",
    "Reading a flame graph, step by step",
]
NEWS = [
    "Parliament passes budget after all-night session",
    "Storm Ciarán leaves thousands without power along the coast",
    "Central bank holds rates steady, signals cuts later this year",
    "Scientists map the deepest cave system in Europe",
    "Rail strike called off after last-minute deal",
    "City council approves new cycle lanes for the centre",
    "Heatwave warning issued for southern regions",
    "Tech giant fined €1.2bn over data transfers",
    "Museum returns looted bronzes to Nigeria",
    "Record number of students accepted to medical schools",
    "Football: late goal sends United into the final",
    "Wildfires force evacuations in three provinces",
    "Election 2026: what the polls are telling us",
    "New malaria vaccine shows 77% efficacy in trial",
    "Housing starts fall for a fourth month",
    "Astronomers spot water vapour on distant exoplanet",
    "Opinion: the four-day week is here to stay",
    "Drought forces water restrictions in the capital",
    "Court rules on landmark privacy case",
    "Airline cancels 400 flights as pilots walk out",
]
PAPERS = [
    "Continuous Latent Diffusion Language Models",
    "LAWCAT: Efficient Distillation from Quadratic to Linear Attention",
    "Causal Diffusion Autoencoders: Toward Counterfactual Generation",
    "Scaling Laws for Sparse Mixture-of-Experts Retrieval",
    "Agents That Plan: Hierarchical Search over Tool Calls",
    "Self-Rewarding Vision-Language Models",
    "On the Limits of Chain-of-Thought Faithfulness",
    "Token-Level Uncertainty for Long-Form Generation",
    "MoE-Lite: Routing Without Load Balancing Losses",
    "Video World Models Learn Physics from Pixels",
    "DCI-Agent: Direct Code Interaction for Repository Tasks",
    "Rethinking Positional Encodings for 1M-Token Contexts",
]
PRODUCTS = [
    "Stainless steel kettle, 1.7 l",
    "Cast-iron teapot with infuser",
    "Bamboo cutting board (set of 3)",
    "Ceramic pour-over coffee dripper",
    "Chef's knife, 20 cm, Damascus steel",
    "Glass storage jars with oak lids",
    "Linen tea towels, natural",
    "Enamel Dutch oven 5.2 l – cherry",
    "Electric milk frother",
    "Olive-wood salad servers",
]
SUMMARY = [
    "We measured it, then measured it again, and the numbers surprised us.",
    "A walk through the design, the trade-offs we accepted and the ones we did not.",
    "The short version: it depends, and here is exactly on what.",
    "This post collects the notes we wish we had when we started.",
    "Lessons from two years in production, with code you can copy.",
    "What changed, why it matters, and how to upgrade without surprises.",
]
NAMES = ["Ada Okafor", "Jonas Weber", "Mei Lin", "Sofia Rossi", "Tom Becker", "Priya Nair"]


def slug(title: str) -> str:
    keep = "".join(c.lower() if c.isalnum() else "-" for c in title)
    return "-".join(part for part in keep.split("-") if part)[:60]


def picks(pool: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    chosen = list(pool)
    rng.shuffle(chosen)
    return (chosen * (count // len(chosen) + 1))[:count]


# --- boilerplate every kind of site carries ----------------------------------------------------


def page(title: str, body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/assets/site.css">{head}</head>\n<body>\n{body}\n</body></html>\n'
    )


def nav(links: list[str], cls: str = "site-nav", tag: str = "nav") -> str:
    inner = "".join(f'<li><a href="/{slug(t)}/">{esc(t)}</a></li>' for t in links)
    return f'<{tag} class="{cls}"><ul>{inner}</ul></{tag}>'


def footer(columns: int = 3, links: int = 5) -> str:
    words = [
        "About",
        "Careers",
        "Press",
        "Contact",
        "Privacy policy",
        "Terms of use",
        "Cookie settings",
        "Accessibility",
        "Advertise",
        "Help centre",
        "Status",
        "Blog",
    ]
    cols = []
    for c in range(columns):
        chosen = words[c * 3 : c * 3 + links] or words[:links]
        cols.append(
            '<div class="footer-col"><h4>Company</h4><ul>'
            + "".join(f'<li><a href="/{slug(w)}">{esc(w)}</a></li>' for w in chosen)
            + "</ul></div>"
        )
    return f'<footer class="site-footer">{"".join(cols)}<p>© 2026 Example Media</p></footer>'


def tag_cloud(count: int = 30) -> str:
    tags = [
        "python",
        "go",
        "rust",
        "databases",
        "testing",
        "ops",
        "http",
        "caching",
        "design",
        "career",
        "security",
        "linux",
        "performance",
        "postgres",
        "sqlite",
        "async",
    ]
    inner = " ".join(
        f'<a href="/tag/{t}/" class="tag-cloud-link" style="font-size:{8 + i % 9}pt">{t}</a>'
        for i, t in enumerate((tags * 3)[:count])
    )
    return f'<div class="tagcloud">{inner}</div>'


def pagination(pages: int = 5) -> str:
    inner = "".join(f'<a class="page-numbers" href="?page={n}">{n}</a>' for n in range(2, pages))
    return f'<nav class="pagination"><span class="current">1</span>{inner}<a class="next" href="?page=2">Next »</a></nav>'


# --- the pages ---------------------------------------------------------------------------------
# Each returns (html, items, label extras). Items: {"link", "title", "date"}.

Built = tuple[str, list[Item], dict[str, Any]]
PAGES: dict[str, Callable[[], Built]] = {}


def corpus(name: str) -> Callable[[Callable[[], Built]], Callable[[], Built]]:
    def register(fn: Callable[[], Built]) -> Callable[[], Built]:
        PAGES[name] = fn
        return fn

    return register


def item(link: str, title: str, date: datetime | None = None) -> Item:
    return {"link": link, "title": title, "date": iso(date)}


@corpus("blog-wp-block")
def blog_wp_block() -> Built:
    """WordPress block theme: li.wp-block-post cards, a sidebar of recent posts and a tag cloud."""
    items, cards = [], []
    for n, title in enumerate(picks(TECH, 10, 1)):
        when = day(n * 3, 9, 30)
        link = f"https://blog.example.org/{when:%Y/%m}/{slug(title)}/"
        items.append(item(link, title, when))
        cards.append(
            f'<li class="wp-block-post post-{100 + n} post type-post status-publish format-standard '
            f'hentry category-engineering">'
            f'<figure class="wp-block-post-featured-image"><a href="{link}" target="_self">'
            f'<img width="800" height="400" src="/wp-content/uploads/{n}.jpg" alt="" '
            f'class="attachment-post-thumbnail" decoding="async"></a></figure>'
            f'<h2 class="wp-block-post-title has-x-large-font-size"><a href="{link}" target="_self">'
            f"{esc(title)}</a></h2>"
            f'<div class="wp-block-post-date"><time datetime="{when.isoformat()}">'
            f"{when:%B} {when.day}, {when:%Y}</time></div>"
            f'<div class="wp-block-post-excerpt"><p class="wp-block-post-excerpt__excerpt">'
            f"{esc(SUMMARY[n % 6])} </p></div></li>"
        )
    recent = "".join(
        f'<li><a class="wp-block-latest-posts__post-title" href="{i["link"]}">{esc(i["title"])}</a></li>'
        for i in items[:5]
    )
    body = (
        '<header class="wp-block-template-part"><div class="wp-block-site-title">'
        '<a href="https://blog.example.org">Example Engineering</a></div>'
        + nav(["Home", "Archive", "About", "Talks", "Newsletter"], "wp-block-navigation")
        + '</header><main class="wp-block-group"><h1 class="wp-block-query-title">Latest posts</h1>'
        '<div class="wp-block-query"><ul class="wp-block-post-template is-layout-flow">'
        + "".join(cards)
        + "</ul>"
        + pagination()
        + '</div></main><aside class="wp-block-group sidebar"><h2>Recent posts</h2>'
        '<ul class="wp-block-latest-posts__list wp-block-latest-posts">'
        + recent
        + "</ul><h2>Tags</h2>"
        + tag_cloud(40)
        + "</aside>"
        + footer()
    )
    return page("Example Engineering – Latest posts", body), items, {}


@corpus("blog-jekyll")
def blog_jekyll() -> Built:
    """Jekyll's minima theme: ul.post-list, a date span before each h3 link."""
    items, rows = [], []
    for n, title in enumerate(picks(TECH, 14, 2)):
        when = day(n * 5 + 1)
        link = f"/{when:%Y/%m/%d}/{slug(title)}.html"
        items.append(item(link, title, when))
        rows.append(
            f'<li><span class="post-meta">{when:%b} {when.day}, {when:%Y}</span>\n'
            f'<h3><a class="post-link" href="{link}">\n      {esc(title)}\n    </a></h3></li>'
        )
    body = (
        '<header class="site-header" role="banner"><div class="wrapper">'
        '<a class="site-title" rel="author" href="/">Mei Lin\'s notes</a>'
        '<nav class="site-nav"><div class="trigger"><a class="page-link" href="/about/">About</a>'
        '<a class="page-link" href="/projects/">Projects</a></div></nav></div></header>'
        '<main class="page-content" aria-label="Content"><div class="wrapper"><div class="home">'
        '<h2 class="post-list-heading">Posts</h2><ul class="post-list">'
        + "\n".join(rows)
        + '</ul><p class="rss-subscribe">subscribe <a href="/feed.xml">via RSS</a></p>'
        "</div></div></main>"
        '<footer class="site-footer h-card"><div class="wrapper"><ul class="social-media-list">'
        '<li><a href="https://github.com/meilin">github</a></li>'
        '<li><a href="https://fosstodon.org/@meilin">mastodon</a></li></ul></div></footer>'
    )
    return page("Mei Lin's notes", body), items, {}


@corpus("blog-hugo-papermod")
def blog_hugo_papermod() -> Built:
    """Hugo PaperMod: article.post-entry whose link is an empty a.entry-link over the card."""
    items, cards = [], []
    for n, title in enumerate(picks(TECH, 9, 3)):
        when = day(n * 4 + 2, 14, 5)
        link = f"https://sofia.dev/posts/{slug(title)}/"
        items.append(item(link, title, when))
        cards.append(
            '<article class="post-entry"><header class="entry-header">'
            f'<h2 class="entry-hint-parent">{esc(title)}</h2></header>'
            f'<div class="entry-content"><p>{esc(SUMMARY[n % 6])}</p></div>'
            f'<footer class="entry-footer"><span title="{when:%Y-%m-%d %H:%M:%S} +0000 UTC">'
            f"{when:%B} {when.day}, {when:%Y}</span>&nbsp;·&nbsp;{3 + n % 7} min</footer>"
            f'<a class="entry-link" aria-label="post link to {esc(title)}" href="{link}"></a>'
            "</article>"
        )
    body = (
        '<header class="header"><nav class="nav"><div class="logo">'
        '<a href="https://sofia.dev/" accesskey="h">Sofia Rossi</a></div><ul id="menu">'
        '<li><a href="https://sofia.dev/archives/"><span>Archive</span></a></li>'
        '<li><a href="https://sofia.dev/search/"><span>Search</span></a></li>'
        '<li><a href="https://sofia.dev/tags/"><span>Tags</span></a></li></ul></nav></header>'
        '<main class="main"><article class="first-entry home-info"><header class="entry-header">'
        '<h1>Hi, I\'m Sofia 👋</h1></header><div class="entry-content">I write about systems.'
        '</div><footer class="entry-footer"><div class="social-icons">'
        '<a href="https://github.com/sofia" title="GitHub">GitHub</a></div></footer></article>'
        + "".join(cards)
        + '<footer class="page-footer"><nav class="pagination"><a class="next" '
        'href="https://sofia.dev/page/2/">Next&nbsp;&nbsp;»</a></nav></footer></main>'
        '<footer class="footer"><span>© 2026 Sofia Rossi</span> · <span>Powered by '
        '<a href="https://gohugo.io/">Hugo</a> &amp; <a href="https://github.com/adityatelange/'
        'hugo-PaperMod/">PaperMod</a></span></footer>'
    )
    return page("Sofia Rossi", body), items, {}


@corpus("blog-ghost")
def blog_ghost() -> Built:
    """Ghost's Casper: article.post-card, the title inside a link that wraps the excerpt."""
    items, cards = [], []
    for n, title in enumerate(picks(TECH, 12, 4)):
        when = day(n * 2 + 1)  # the card shows the day only
        link = f"/{slug(title)}/"
        items.append(item(link, title, when))
        image = (
            f'<a class="post-card-image-link" href="{link}"><img class="post-card-image" '
            f'srcset="/content/images/size/w300/{n}.png 300w" src="/content/images/{n}.png" '
            f'alt="{esc(title)}" loading="lazy"></a>'
            if n % 3
            else ""
        )
        cards.append(
            f'<article class="post-card post tag-engineering{" no-image" if not n % 3 else ""}">'
            f"{image}"
            f'<div class="post-card-content"><a class="post-card-content-link" href="{link}">'
            f'<header class="post-card-header"><div class="post-card-tags"><span '
            f'class="post-card-primary-tag">Engineering</span></div>'
            f'<h2 class="post-card-title">{esc(title)}</h2></header>'
            f'<div class="post-card-excerpt">{esc(SUMMARY[n % 6])}</div></a>'
            f'<footer class="post-card-meta"><time class="post-card-meta-date" '
            f'datetime="{when:%Y-%m-%d}">{when.day} {when:%b} {when:%Y}</time>'
            f'<span class="post-card-meta-length">{4 + n % 5} min read</span></footer>'
            "</div></article>"
        )
    body = (
        '<div class="viewport"><header id="gh-head" class="gh-head outer"><div class="gh-head-inner">'
        '<a class="gh-head-logo" href="/">The Build Log</a><nav class="gh-head-menu"><ul class="nav">'
        '<li class="nav-home"><a href="/">Home</a></li><li class="nav-about"><a href="/about/">About</a>'
        '</li><li class="nav-tags"><a href="/tags/">Tags</a></li></ul></nav>'
        '<div class="gh-head-actions"><a class="gh-head-button" href="#/portal/signup">Subscribe</a>'
        '</div></div></header><div class="site-content"><main id="site-main" class="site-main outer">'
        '<div class="inner posts"><div class="post-feed">'
        + "".join(cards)
        + '</div></div></main></div><footer class="site-footer outer"><div class="inner">'
        '<section class="copyright"><a href="/">The Build Log</a> © 2026</section>'
        '<nav class="site-footer-nav"><a href="/privacy/">Privacy</a><a href="/contact/">Contact</a>'
        "</nav></div></footer></div>"
    )
    return page("The Build Log", body), items, {}


@corpus("blog-hashed-classes")
def blog_hashed_classes() -> Built:
    """A CSS-in-JS blog platform: every class is a hash; article > a > h2, a date like "Mar 3"."""
    items, cards = [], []
    for n, title in enumerate(picks(TECH, 10, 5)):
        when = day(n * 6 + 3)
        link = f"https://medium.example/@tom/{slug(title)}-{0x1A2B3C + n:x}"
        items.append(item(link, title, when))
        cards.append(
            f'<article class="css-1k3p9x {"e1q8v2ta0 " if n % 2 else ""}css-u8e1rz">'
            f'<div class="css-0"><div class="css-19ztb4h"><a class="_a1b2c3 css-mqg7b9" href="{link}" '
            f'rel="noopener follow"><h2 class="css-8f6b4w eq6a3ah0">{esc(title)}</h2>'
            f'<div class="css-1v1sy7"><h3 class="css-1ie7bsw">{esc(SUMMARY[n % 6])}</h3></div></a>'
            f'</div><div class="css-ngfp6b"><span class="css-7mf2x0">{when:%b} {when.day}</span>'
            f'<span class="css-1x4ks9">·</span><span class="css-7mf2x0">{5 + n} min read</span>'
            f'<div class="css-k8a9x1"><button class="css-a81b2c" aria-label="Bookmark">Save</button>'
            "</div></div></div></article>"
        )
    body = (
        '<div id="root"><div class="css-1dbjc4n"><header class="css-h3kx91"><a class="css-9pa8cd" '
        'href="https://medium.example/">Medium</a><a class="css-9pa8cd" href="/search">Search</a>'
        '<a class="css-9pa8cd" href="/m/signin">Sign in</a></header><main class="css-2fkq0a">'
        '<div class="css-zk2k1b"><h1 class="css-1bv7s2q">Tom Becker</h1></div>'
        '<div class="css-b8a1sa">'
        + "".join(cards)
        + '</div></main><div class="css-r4uj7y"><p class="css-1o2x8y">Tom writes about software'
        ' teams.</p><a class="css-w8b2cc" href="/@tom/followers">1.2K Followers</a></div>'
        "</div></div>"
    )
    return page("Tom Becker – Medium", body), items, {}


@corpus("news-front-sections")
def news_front_sections() -> Built:
    """A newspaper front: sections of div.story (a lead story among them), "most read" aside."""
    items, sections = [], []
    titles = picks(NEWS, 20, 6)
    names = ["Top stories", "World", "Business", "Science", "Sport"]
    for s, name in enumerate(names):
        stories = []
        for k in range(4):
            n = s * 4 + k
            title = titles[n]
            hours = n * 2 + 1
            when = NOW - timedelta(hours=hours)
            link = f"/news/{slug(name)}/{slug(title)}-{70000 + n}"
            items.append(item(link, title, when))
            lead = " story--lead" if n == 0 else ""
            label = f"{hours} hours ago" if hours > 1 else "1 hour ago"
            stories.append(
                f'<div class="story{lead}" data-story-id="{70000 + n}">'
                + (f'<img class="story__img" src="/img/{n}.jpg" alt="">' if k == 0 else "")
                + f'<h3 class="story__headline"><a class="story__link" href="{link}">{esc(title)}</a></h3>'
                + (f'<p class="story__summary">{esc(SUMMARY[n % 6])}</p>' if k < 2 else "")
                + f'<div class="story__meta"><span class="story__time">{label}</span>'
                f'<a class="story__section" href="/news/{slug(name)}">{name}</a></div></div>'
            )
        sections.append(
            f'<section class="front-section front-section--{slug(name)}"><h2 class="section-title">'
            f'<a href="/news/{slug(name)}">{name}</a></h2><div class="section-grid">'
            + "".join(stories)
            + "</div></section>"
        )
    most_read = "".join(
        f'<li><span class="rank">{r + 1}</span><a href="{i["link"]}">{esc(i["title"])}</a></li>'
        for r, i in enumerate(items[3:11])
    )
    body = (
        '<div class="masthead"><a class="logo" href="/">The Daily Ledger</a>'
        + nav(
            [
                "News",
                "World",
                "Business",
                "Science",
                "Sport",
                "Culture",
                "Opinion",
                "Travel",
                "Weather",
                "Podcasts",
                "Newsletters",
                "Crosswords",
            ],
            "primary-nav",
        )
        + '</div><div class="page"><main class="front">'
        + "".join(sections)
        + '</main><aside class="most-read"><h2>Most read</h2><ol>'
        + most_read
        + "</ol></aside></div>"
        + footer(4, 6)
    )
    return page("The Daily Ledger – News, sport and opinion", body), items, {}


@corpus("news-promo-grid")
def news_promo_grid() -> Built:
    """A broadcaster's news index: li > div.gs-c-promo with its heading link and a time element."""
    items, promos = [], []
    for n, title in enumerate(picks(NEWS, 15, 7)):
        when = NOW - timedelta(minutes=37 * n + 12)
        link = f"https://www.example-news.co.uk/news/world-{68000000 + n * 17}"
        items.append(item(link, title, when))
        promos.append(
            f'<li class="nw-c-top-stories__item"><div class="gs-c-promo gs-t-News nw-c-promo '
            f'gs-o-faux-block-link" data-entityid="world#{n + 1}"><div class="gs-c-promo-body">'
            f'<div><a class="gs-c-promo-heading gs-o-faux-block-link__overlay-link" href="{link}">'
            f'<h3 class="gs-c-promo-heading__title gel-pica-bold">{esc(title)}</h3></a>'
            + (
                f'<p class="gs-c-promo-summary gel-long-primer">{esc(SUMMARY[n % 6])}</p>'
                if n % 2
                else ""
            )
            + '</div><ul class="gs-o-list-inline gs-o-bullet gs-c-promo-meta">'
            f'<li class="nw-c-promo-meta"><span class="gs-c-timestamp"><time class="gs-o-date" '
            f'data-seconds="{int(when.timestamp())}" datetime="{when:%Y-%m-%dT%H:%M:%S.000Z}">'
            f'<span class="gs-u-vh">Published</span>{(NOW - when).seconds // 60} minutes ago</time>'
            '</span></li><li class="nw-c-promo-meta"><a class="gs-c-section-link" '
            'href="/news/world"><span>World</span></a></li></ul></div></div></li>'
        )
    body = (
        '<div id="orb-banner"><a href="https://www.example-news.co.uk">Example News</a>'
        + nav(
            [
                "Home",
                "News",
                "Sport",
                "Weather",
                "iPlayer",
                "Sounds",
                "Bitesize",
                "CBBC",
                "CBeebies",
                "Food",
                "Home",
                "Arts",
                "Travel",
                "Earth",
            ],
            "orb-nav",
            "div",
        )
        + '</div><div id="site-container"><div class="nw-c-nav__wide"><ul class="gs-o-list-ui">'
        + "".join(
            f'<li><a class="nw-o-link" href="/news/{s}"><span>{s.title()}</span></a></li>'
            for s in ["uk", "world", "business", "politics", "tech", "science", "health"]
        )
        + '</ul></div><div id="latest-stories-tab-container"><ol class="gs-u-m0 gs-u-p0 lx-stream__feed">'
        + "".join(promos)
        + "</ol></div></div>"
        + footer(3, 6)
    )
    return page("World - Example News", body), items, {}


@corpus("releases-github")
def releases_github() -> Built:
    """A code host's releases page: one section per release, relative-time, markdown notes."""
    items, sections = [], []
    for n in range(8):
        version = f"v4.{51 - n}.0"
        when = day(n * 11 + 2, 16, 42)
        link = f"/huggingface/transformers/releases/tag/{version}"
        title = f"{version}: Qwen3-Omni, faster generate()" if n % 3 == 0 else version
        items.append(item(link, title, when))
        sections.append(
            '<section aria-labelledby="hd-{0}"><h2 class="sr-only" id="hd-{0}">{1}</h2>'
            '<div class="Box"><div class="Box-body"><div class="d-flex flex-md-row flex-column">'
            '<div class="d-flex flex-row flex-1 mb-3 wb-break-word"><div class="flex-1">'
            '<span class="f1 text-bold d-inline mr-3"><a href="{2}" class="Link--primary Link">'
            "{1}</a></span></div></div></div>"
            '<div class="mb-3"><relative-time class="no-wrap" datetime="{3}" prefix="">{4}'
            "</relative-time></div>"
            '<div class="markdown-body my-3"><h2>New model additions</h2><ul>'
            '<li>Add model <a href="/huggingface/transformers/pull/{5}">#{5}</a></li>'
            '<li>Fix cache for <code>generate</code> <a href="/huggingface/transformers/pull/{6}">'
            "#{6}</a></li></ul></div>"
            '<div class="Box-footer"><div class="mb-3"><details><summary>Assets '
            '<span class="Counter">2</span></summary><ul><li><a href="/huggingface/transformers/'
            'archive/refs/tags/{0}.zip" rel="nofollow">Source code (zip)</a></li></ul></details>'
            "</div></div></div></div></section>".format(
                version,
                esc(title),
                link,
                when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                f"{when:%d %b %H:%M}",
                40000 + n * 7,
                40001 + n * 7,
            )
        )
    body = (
        '<div class="application-main"><header class="AppHeader"><a href="/" aria-label="Homepage">'
        "Home</a>"
        + nav(["Pull requests", "Issues", "Codespaces", "Marketplace", "Explore"], "AppHeader-nav")
        + '</header><div id="repo-content-pjax-container"><nav class="UnderlineNav">'
        + "".join(
            f'<a class="UnderlineNav-item" href="/huggingface/transformers/{t}">{t.title()}</a>'
            for t in ["issues", "pulls", "actions", "projects", "wiki", "security"]
        )
        + '</nav><div data-pjax="" data-hpc="">'
        + "".join(sections)
        + '</div><div class="paginate-container"><div class="pagination"><span class="current">1'
        '</span><a href="?page=2">2</a><a class="next_page" href="?page=2">Next</a></div></div>'
        "</div></div>" + footer()
    )
    return page("Releases · huggingface/transformers", body), items, {}


@corpus("releases-table")
def releases_table() -> Built:
    """A download page: a table of versions, one tr per release, ISO dates in a cell."""
    items, rows = [], []
    for n in range(12):
        version = f"3.{13 - n // 4}.{3 - n % 4}"
        when = day(n * 17 + 5)
        link = f"/downloads/release/python-{version.replace('.', '')}/"
        title = f"Python {version}"
        items.append(item(link, title, when))
        rows.append(
            f'<tr><td class="release-number"><a href="{link}">{title}</a></td>'
            f'<td class="release-date">{when:%Y-%m-%d}</td>'
            f'<td class="release-download"><a href="/ftp/python/{version}/">Download</a></td>'
            f'<td class="release-enhancements"><a href="/dev/peps/">Release notes</a></td></tr>'
        )
    body = (
        '<div id="touchnav-wrapper"><header class="main-header"><a href="/">Python</a>'
        + nav(
            [
                "About",
                "Downloads",
                "Documentation",
                "Community",
                "Success Stories",
                "News",
                "Events",
            ],
            "meta-navigation menu",
        )
        + '</header><section class="main-content"><h1 class="page-title">Python releases</h1>'
        '<div class="row download-list-widget"><table class="release-table"><thead><tr>'
        "<th>Release version</th><th>Release date</th><th></th><th>Click for more</th></tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table></div></section></div>" + footer(4, 5)
    )
    return page("Python Releases", body), items, {}


@corpus("hn-table")
def hn_table() -> Built:
    """A link aggregator's table: tr.athing per story; points and age sit in the next row."""
    items, rows = [], []
    sites = ["github.com", "lwn.net", "arxiv.org", "nytimes.com", "blog.example.org"]
    for n, title in enumerate(picks(TECH + PAPERS, 30, 8)):
        story = 44000000 + n * 13
        site = sites[n % 5]
        link = f"https://{site}/{slug(title)}" if n % 7 else f"item?id={story}"
        shown = f"Ask HN: {title}?" if not n % 7 else title
        items.append(item(link, shown, None))
        rows.append(
            f'<tr class="athing submission" id="{story}"><td align="right" valign="top" '
            f'class="title"><span class="rank">{n + 1}.</span></td><td valign="top" '
            f'class="votelinks"><center><a id="up_{story}" href="vote?id={story}&amp;how=up">'
            f'<div class="votearrow" title="upvote"></div></a></center></td><td class="title">'
            f'<span class="titleline"><a href="{esc(link)}">{esc(shown)}</a>'
            + (
                f'<span class="sitebit comhead"> (<a href="from?site={site}"><span class="sitestr">'
                f"{site}</span></a>)</span>"
                if n % 7
                else ""
            )
            + f'</span></td></tr><tr><td colspan="2"></td><td class="subtext"><span class="subline">'
            f'<span class="score" id="score_{story}">{300 - n * 9} points</span> by '
            f'<a href="user?id=u{n}" class="hnuser">u{n}</a> <span class="age" '
            f'title="{(NOW - timedelta(hours=n + 1)):%Y-%m-%dT%H:%M:%S}"><a href="item?id={story}">'
            f'{n + 1} hours ago</a></span> | <a href="hide?id={story}">hide</a> | '
            f'<a href="item?id={story}">{n * 3} comments</a></span></td></tr>'
            '<tr class="spacer" style="height:5px"></tr>'
        )
    body = (
        '<center><table id="hnmain" border="0" cellpadding="0" cellspacing="0" width="85%">'
        '<tr><td bgcolor="#ff6600"><table border="0" cellpadding="0" cellspacing="0" width="100%">'
        '<tr><td><a href="https://news.example.com"><img src="y18.svg" width="18"></a></td>'
        '<td><span class="pagetop"><b class="hnname"><a href="news">Hacker News</a></b>'
        '<a href="newest">new</a> | <a href="front">past</a> | <a href="newcomments">comments</a>'
        ' | <a href="ask">ask</a> | <a href="show">show</a> | <a href="jobs">jobs</a> | '
        '<a href="submit">submit</a></span></td></tr></table></td></tr>'
        '<tr id="bigbox"><td><table border="0" cellpadding="0" cellspacing="0">'
        + "".join(rows)
        + '<tr class="morespace" style="height:10px"></tr><tr><td colspan="2"></td>'
        '<td class="title"><a href="?p=2" class="morelink" rel="next">More</a></td></tr>'
        "</table></td></tr><tr><td><center>"
        + " | ".join(
            f'<a href="{w.lower()}">{w}</a>'
            for w in ["Guidelines", "FAQ", "Lists", "API", "Security", "Legal", "Contact"]
        )
        + "</center></td></tr></table></center>"
    )
    return page("Hacker News", body), items, {}


@corpus("forum-phpbb")
def forum_phpbb() -> Built:
    """A phpBB forum: ul.topiclist > li.row, sticky topics first, "by user » date" lines."""
    items, rows = [], []
    topics = ["Announcement: forum rules (read first)", "Sticky: FAQ for new members"] + [
        f"Help: {t.lower()}" if i % 3 == 0 else t for i, t in enumerate(picks(TECH, 13, 9))
    ]
    for n, title in enumerate(topics):
        when = day(n + 1, 9 + n % 10, 14)
        link = f"./viewtopic.php?t={9000 + n}"
        items.append(item(link, title, when))
        kind = "sticky" if n < 2 else ("bg1" if n % 2 else "bg2")
        rows.append(
            f'<li class="row {kind}"><dl class="row-item topic_read"><dt title="No unread posts">'
            f'<div class="list-inner"><a href="{link}" class="topictitle">{esc(title)}</a>'
            f'<br><div class="responsive-hide left-box">by <a href="./memberlist.php?u={n}" '
            f'class="username">{NAMES[n % 6]}</a> » <time datetime="{when:%Y-%m-%dT%H:%M:%S+00:00}">'
            f"{when:%a %b %d, %Y %I:%M %p}</time></div></div></dt>"
            f'<dd class="posts">{n * 2 + 1} <dfn>Replies</dfn></dd>'
            f'<dd class="views">{n * 40 + 12} <dfn>Views</dfn></dd>'
            f'<dd class="lastpost"><span><dfn>Last post </dfn>by <a href="./memberlist.php?u=1" '
            f'class="username">{NAMES[(n + 2) % 6]}</a><a href="{link}&amp;p=1#p1" title="Go to '
            f'last post">↳</a><br><time datetime="2026-05-08T08:00:00+00:00">Today, 08:00</time>'
            "</span></dd></dl></li>"
        )
    body = (
        '<div id="wrap" class="wrap"><div id="page-header"><div class="headerbar"><a href="./index.php"'
        ' id="logo">Example Community</a></div><div class="navbar"><ul class="nav-main linklist">'
        '<li><a href="/forum/faq.php">FAQ</a></li><li><a href="./ucp.php?mode=login">Login</a></li>'
        '<li><a href="./ucp.php?mode=register">Register</a></li></ul><ul class="nav-breadcrumbs">'
        '<li><a href="./index.php">Board index</a> ‹ <a href="./viewforum.php?f=2">General</a></li>'
        '</ul></div></div><div id="page-body"><h2 class="forum-title"><a href="./viewforum.php?f=2">'
        'General discussion</a></h2><div class="forumbg"><div class="inner"><ul class="topiclist">'
        '<li class="header"><dl class="row-item"><dt><div class="list-inner">Topics</div></dt>'
        '<dd class="posts">Replies</dd><dd class="views">Views</dd><dd class="lastpost">'
        '<span>Last post</span></dd></dl></li></ul><ul class="topiclist topics">'
        + "".join(rows)
        + '</ul></div></div></div><div id="page-footer"><div class="copyright">Powered by '
        '<a href="https://www.phpbb.com/">phpBB</a>® Forum Software © phpBB Limited</div></div></div>'
    )
    return page("General discussion - Example Community", body), items, {}


@corpus("forum-discourse")
def forum_discourse() -> Built:
    """Discourse's latest topics: tr.topic-list-item; the age is an epoch in data-time."""
    items, rows = [], []
    for n, title in enumerate(picks(TECH, 16, 10)):
        when = NOW - timedelta(hours=n * 3 + 2)
        link = f"/t/{slug(title)}/{2200 + n}"
        items.append(item(link, title, when))
        rows.append(
            f'<tr data-topic-id="{2200 + n}" class="topic-list-item category-support '
            f'{"visited " if n % 2 else ""}ember-view"><td class="main-link clearfix topic-list-data" '
            f'colspan="1"><span class="link-top-line"><a href="{link}" class="title raw-link '
            f'raw-topic-link" data-topic-id="{2200 + n}">{esc(title)}</a></span>'
            f'<div class="link-bottom-line"><a class="badge-category__wrapper" href="/c/support/5">'
            f'<span class="badge-category__name">Support</span></a><div class="discourse-tags">'
            f'<a href="/tag/postgres" class="discourse-tag simple">postgres</a></div></div></td>'
            f'<td class="posters topic-list-data"><a href="/u/u{n}" data-user-card="u{n}">'
            f'<img alt="" width="25" height="25" src="/user_avatar/u{n}.png" class="avatar" '
            f'title="u{n} - Original Poster"></a></td><td class="num posts-map posts topic-list-data">'
            f'<span class="number">{n + 2}</span></td><td class="num views topic-list-data">'
            f'<span class="number" title="this topic has been viewed {n * 31} times">{n * 31}</span>'
            f'</td><td class="num topic-list-data age activity" title="First post: {when:%b %d, %Y %I:%M %p}">'
            f'<a class="post-activity" href="{link}/{n + 2}"><span class="relative-date" '
            f'data-time="{int(when.timestamp() * 1000)}" data-format="tiny">{n * 3 + 2}h</span></a></td></tr>'
        )
    body = (
        '<section id="main"><header class="d-header"><div class="title"><a href="/">Example Forum'
        '</a></div><div class="panel"><a class="btn sign-up-button" href="/signup">Sign Up</a>'
        '<a class="btn login-button" href="/login">Log In</a></div></header>'
        '<div class="list-controls"><ul class="nav nav-pills">'
        + "".join(
            f'<li><a href="/{t}">{t.title()}</a></li>'
            for t in ["latest", "new", "top", "categories"]
        )
        + '</ul></div><table class="topic-list"><thead><tr><th class="default">Topic</th>'
        '<th class="posters">Users</th><th class="posts">Replies</th><th class="views">Views</th>'
        '<th class="activity">Activity</th></tr></thead><tbody class="topic-list-body">'
        + "".join(rows)
        + '</tbody></table><footer class="topic-list-bottom"><h3>There are no more latest topics. '
        '<a href="/categories">Browse all categories</a></h3></footer></section>'
    )
    return page("Example Forum - Latest", body), items, {}


@corpus("cards-no-heading")
def cards_no_heading() -> Built:
    """A course catalogue: each card is one a.card with div.card-title, no heading element."""
    items, cards = [], []
    courses = [
        "Introduction to Data Engineering",
        "Kubernetes for Developers",
        "Practical SQL",
        "Machine Learning Foundations",
        "Web Accessibility Essentials",
        "Designing Data APIs",
        "Secure Coding in Python",
        "Observability with OpenTelemetry",
        "Terraform from Scratch",
    ]
    for n, title in enumerate(courses):
        link = f"/courses/{slug(title)}"
        items.append(item(link, title, None))
        cards.append(
            f'<a class="card card--course" href="{link}"><div class="card-media">'
            f'<img src="/img/course-{n}.webp" alt="" width="320" height="180"></div>'
            f'<div class="card-body"><div class="card-kicker">Course · {3 + n % 4} weeks</div>'
            f'<div class="card-title">{esc(title)}</div><div class="card-text">'
            f'{esc(SUMMARY[n % 6])}</div><div class="card-footer"><span class="level">'
            f'{["Beginner", "Intermediate", "Advanced"][n % 3]}</span><span class="rating">'
            f"{4.1 + n % 9 / 10:.1f} ★</span></div></div></a>"
        )
    body = (
        '<header class="topbar"><a class="brand" href="/">Learnly</a>'
        + nav(["Courses", "Paths", "For teams", "Pricing", "Blog"], "topbar-nav")
        + '<a class="btn" href="/login">Log in</a></header><main><section class="hero"><h1>All '
        "courses</h1><p>Learn at your own pace.</p></section>"
        '<div class="filters"><a href="?level=beginner">Beginner</a><a href="?level=intermediate">'
        'Intermediate</a><a href="?level=advanced">Advanced</a></div><div class="card-grid">'
        + "".join(cards)
        + "</div></main>"
        + footer(3, 4)
    )
    return page("All courses – Learnly", body), items, {}


@corpus("classifieds-cl")
def classifieds_cl() -> Built:
    """A classifieds search: ol > li.cl-static-search-result, link wrapping title, price, place."""
    items, rows = [], []
    things = [
        "Trek road bike 56cm",
        "IKEA Billy bookcase, white",
        "Canon AE-1 film camera",
        "Sofa bed – free, must pick up",
        "Vintage oak desk",
        "Weber kettle grill 57 cm",
        "Kids' bunk bed with mattress",
        "PS5 with two controllers",
        "Fender Stratocaster (MIM)",
        "Garden tools lot",
        "Dyson V11 vacuum",
        "Road bike helmet, size M",
    ]
    for n, title in enumerate(things):
        link = f"https://sfbay.example.org/sfc/bik/d/{slug(title)}/{7700000000 + n}.html"
        items.append(item(link, title, None))
        rows.append(
            f'<li class="cl-static-search-result" title="{esc(title)}"><a href="{link}">'
            f'<div class="title">{esc(title)}</div><div class="details">'
            f'<div class="price">${(n + 1) * 35}</div><div class="location">\n'
            f"                    {['mission district', 'sunset', 'oakland', 'berkeley'][n % 4]}\n"
            "                </div></div></a></li>"
        )
    body = (
        '<div class="cl-content"><div class="cl-breadcrumbs"><a href="/">SF bay area</a> &gt; '
        '<a href="/search/sss">for sale</a></div><div class="cl-search-toolbar"><a href="?sort=date">'
        'newest</a><a href="?sort=priceasc">price ↑</a><a href="?sort=pricedsc">price ↓</a></div>'
        '<ol class="cl-static-search-results"><li class="cl-static-header">'
        "<h2>for sale - search results</h2></li>"
        + "".join(rows)
        + '</ol><footer class="cl-footer"><a href="/about/help">help</a><a href="/about/safety">'
        'safety</a><a href="/about/privacy">privacy</a><a href="/about/terms">terms</a></footer></div>'
    )
    return page("SF bay area for sale - craigslist-like", body), items, {}


@corpus("classifieds-kleinanzeigen")
def classifieds_kleinanzeigen() -> Built:
    """A German classifieds list: article.aditem, h2 > a.ellipsis, dotted dates, € prices."""
    items, rows = [], []
    things = [
        "Kinderfahrrad 20 Zoll",
        "Esstisch Eiche massiv",
        "iPhone 13, 128 GB",
        "Waschmaschine Bosch Serie 6",
        "Winterreifen 205/55 R16",
        "Gartenlounge Rattan",
        "Kinderwagen Bugaboo Fox",
        "Schreibtisch höhenverstellbar",
        "Nähmaschine Pfaff",
    ]
    for n, title in enumerate(things):
        when = day(n + 1)
        link = f"/s-anzeige/{slug(title)}/{2870000000 + n}-23-{3300 + n}"
        items.append(item(link, title, when))
        rows.append(
            f'<li class="ad-listitem"><article class="aditem" data-adid="{2870000000 + n}" '
            f'data-href="{link}"><div class="aditem-image"><a href="{link}"><div class="imagebox">'
            f'<img src="/img/{n}.jpg" alt="{esc(title)}"></div></a></div><div class="aditem-main">'
            f'<div class="aditem-main--top"><div class="aditem-main--top--left">'
            f'{10115 + n * 7} Berlin Mitte</div><div class="aditem-main--top--right">'
            f'<i class="icon icon-small icon-calendar-open"></i>\n                {when:%d.%m.%Y}</div></div>'
            f'<div class="aditem-main--middle"><h2 class="text-module-begin">'
            f'<a class="ellipsis" href="{link}">{esc(title)}</a></h2>'
            f'<p class="aditem-main--middle--description">{esc(SUMMARY[n % 6])}</p>'
            f'<div class="aditem-main--middle--price-shipping"><p class="aditem-main--middle--price-'
            f'shipping--price">{(n + 2) * 15} € VB</p></div></div></div></article></li>'
        )
    body = (
        '<header id="site-header"><a id="site-logo" href="/">Kleinanzeigen</a>'
        + nav(
            ["Meins", "Nachrichten", "Anzeige aufgeben", "Einloggen", "Registrieren"], "header-nav"
        )
        + '</header><div id="site-content"><aside id="srchrslt-sidebar" class="browsebox">'
        '<h2>Kategorien</h2><ul class="browsebox-attribute">'
        + "".join(
            f'<li><a href="/s-{c.lower()}/c{i}">{c}</a> <span class="text-light">({i * 97})</span></li>'
            for i, c in enumerate(
                [
                    "Auto",
                    "Elektronik",
                    "Familie",
                    "Freizeit",
                    "Haus",
                    "Mode",
                    "Musik",
                    "Jobs",
                    "Immobilien",
                    "Tiere",
                ],
                1,
            )
        )
        + '</ul></aside><div id="srchrslt-content"><h1>Anzeigen in Berlin</h1>'
        '<ul id="srchrslt-adtable" class="itemlist">'
        + "".join(rows)
        + "</ul></div></div>"
        + footer(3, 5)
    )
    return page("Kleinanzeigen in Berlin", body, lang="de"), items, {}


def _hf_seed() -> list[dict[str, Any]]:
    """Papers as the papers page shows them (shared/seed): title, abstract, authors, date, votes."""
    out = []
    for n, title in enumerate(PAPERS):
        out.append(
            {
                "id": f"2605.{6548 - n * 37:05d}",
                "title": title,
                "summary": f"{SUMMARY[n % 6]} " * 6,
                "authors": 3 + n * 2,
                "org": ["TIGER-Lab", "Qwen", None, "NVIDIA", None, "Meta AI"][n % 6],
                "date": day(n // 4, 0),
                "votes": 120 - n * 9,
            }
        )
    return out


@corpus("papers-hf")
def papers_hf() -> Built:
    """A papers page like huggingface.co/papers: the Svelte island's data-props (paper ids, no
    links) and one article card per paper, authors as "N authors", upvotes in a button."""
    items, cards, props = [], [], []
    for n, p in enumerate(_hf_seed()):
        link = f"/papers/{p['id']}"
        items.append(item(link, p["title"], p["date"]))
        props.append(
            {
                "paper": {
                    "id": p["id"],
                    "title": p["title"],
                    "upvotes": p["votes"],
                    "publishedAt": p["date"].isoformat(),
                },
                "numComments": n,
            }
        )
        byline = (
            f'<a href="/{p["org"]}" class="org">{p["org"]}</a>'
            if p["org"]
            else f'<ul class="flex items-center"><li class="text-gray-500">· {p["authors"]} authors</li></ul>'
        )
        cards.append(
            '<article class="relative flex flex-col overflow-hidden rounded-xl border">'
            f'<a href="{link}" class="shadow-alternate-sm peer relative block h-56 w-full">'
            f'<img src="https://cdn.example.co/papers/{p["id"]}.png" loading="lazy" alt=""></a>'
            '<div class="from-gray-50-to-white bg-gradient-to-b px-6 pb-6 pt-4">'
            '<div class="flex items-start justify-between">'
            f'<h3 class="mb-1 text-lg font-semibold leading-[1.2] hover:underline peer-hover:underline">'
            f'<a href="{link}" class="line-clamp-3 cursor-pointer text-balance">{esc(p["title"])}</a></h3>'
            '</div><p class="line-clamp-2 text-sm text-gray-500">'
            f"{esc(p['summary'])}</p>"
            f'<div class="flex items-center justify-between"><div class="flex items-center">{byline}'
            f'<span class="px-1 text-gray-400">·</span><span class="text-gray-400">'
            f"{p['date']:%b} {p['date'].day}</span></div>"
            '<div class="flex flex-wrap items-center gap-2.5 pt-1"><div class="shadow-alternate '
            'flex h-14 w-12 flex-col items-center justify-center rounded-lg border">'
            f'<div class="leading-none">{p["votes"]}</div></div>'
            f'<a href="{link}#community" class="flex items-center gap-1">{n * 2}</a></div></div>'
            "</div></article>"
        )
    island = (
        '<div class="SVELTE_HYDRATER contents" data-target="DailyPapers" data-props="'
        + esc(json.dumps({"dailyPapers": props, "dateString": "2026-05-08"}))
        + '">'
    )
    body = (
        '<div class="flex min-h-dvh flex-col"><header class="border-b"><nav aria-label="Main">'
        '<a href="/">Hugging Face</a><ul>'
        + "".join(
            f'<li><a href="/{t.lower()}">{t}</a></li>'
            for t in ["Models", "Datasets", "Spaces", "Docs", "Enterprise", "Pricing"]
        )
        + '</ul><a href="/login">Log In</a><a href="/join">Sign Up</a></nav></header>'
        '<main class="flex flex-1 flex-col"><section class="pt-8">'
        '<div class="mb-4"><p>Get trending papers in your email inbox!</p>'
        '<a href="/settings/notifications">Subscribe</a></div><h1>Daily Papers</h1>'
        '<p>by<a href="/akhaliq">AK</a> and the research community</p>'
        '<div class="flex gap-2"><a href="/papers/date/2026-05-07">Previous</a>'
        '<a href="/papers/week/2026-W19">Week</a><a href="/papers/month/2026-05">Month</a></div>'
        + island
        + '<section class="grid grid-cols-1 gap-14 lg:grid-cols-2 xl:grid-cols-3">'
        + "".join(cards)
        + "</section></div></section></main>"
        '<footer class="border-t"><nav><a href="/terms">TOS</a><a href="/privacy">Privacy</a>'
        '<a href="/about">About</a><a href="/jobs">Jobs</a></nav></footer></div>'
    )
    return page("Daily Papers - Hugging Face", body), items, {}


@corpus("papers-openreview")
def papers_openreview() -> Built:
    """A review site's submissions: ul.submissions-list > li.note, h4 a titles, "Published:" dates."""
    items, rows = [], []
    for n, title in enumerate(picks(PAPERS, 12, 11)):
        when = day(n * 2 + 3)
        link = f"/forum?id={'abcdefghijkl'[n]}Xk2{n}pQ9"
        items.append(item(link, title, when))
        rows.append(
            f'<li class="note " data-id="{link[10:]}"><h4><a href="{link}">{esc(title)}</a>'
            f'<a href="/pdf?id={link[10:]}" class="pdf-link" title="Download PDF" target="_blank">'
            '<img src="/images/pdf_icon_blue.svg"></a></h4><div class="note-authors">'
            + ", ".join(
                f'<a href="/profile?id=~{a.replace(" ", "_")}1" title="{a}">{a}</a>'
                for a in NAMES[n % 3 : n % 3 + 3]
            )
            + f'</div><ul class="note-meta-info list-inline"><li>Published: {when.day:02d} {when:%b %Y},'
            f" Last Modified: {when.day:02d} {when:%b %Y}</li><li>ICML 2026 Poster</li>"
            '<li>Readers: <span class="readers-icon glyphicon glyphicon-globe"></span> Everyone</li>'
            "</ul></li>"
        )
    body = (
        '<nav class="navbar navbar-inverse"><div class="container"><a class="navbar-brand" href="/">'
        'OpenReview.net</a><ul class="nav navbar-nav navbar-right"><li><a href="/login">Login</a>'
        '</li></ul></div></nav><div id="content"><div class="venue-header"><h1>ICML 2026</h1>'
        '<h3>Accepted papers</h3></div><div class="tabs-container"><ul class="nav nav-tabs">'
        '<li class="active"><a href="#tab-accept-oral">Accept (Oral)</a></li>'
        '<li><a href="#tab-accept-poster">Accept (Poster)</a></li></ul>'
        '<div class="tab-content"><div class="tab-pane active" id="tab-accept-oral">'
        '<ul class="list-unstyled submissions-list">'
        + "".join(rows)
        + "</ul></div></div></div></div>"
        + '<footer class="sitemap"><div class="container"><ul>'
        + "".join(
            f'<li><a href="/{t.lower()}">{t}</a></li>'
            for t in [
                "About",
                "Hosting a Venue",
                "All Venues",
                "Sponsors",
                "Frequently Asked Questions",
                "Contact",
                "Feedback",
                "Terms of Use",
                "Privacy Policy",
            ]
        )
        + "</ul></div></footer>"
    )
    return page("ICML 2026 | OpenReview", body), items, {}


@corpus("nav-heavy-shop")
def nav_heavy_shop() -> Built:
    """A shop's journal page: a mega menu of 100+ product links (several words each) and a
    "you may also like" product strip, around eight journal articles."""
    groups = {
        "Women": [
            "Trail running shoes",
            "Road running shoes",
            "Waterproof jackets",
            "Insulated vests",
            "Merino base layers",
            "Hiking trousers",
            "Sports bras",
            "Running tights",
        ],
        "Men": [
            "Trail running shoes",
            "Approach shoes",
            "Rain shells",
            "Down jackets",
            "Merino t-shirts",
            "Climbing pants",
            "Running shorts",
            "Softshell jackets",
        ],
        "Equipment": [
            "Ultralight tents",
            "Three-season sleeping bags",
            "Trekking poles",
            "Headlamps and lanterns",
            "Hydration packs",
            "Daypacks 20–30 l",
            "Camp stoves and fuel",
            "Water filters",
        ],
    }
    menu = []
    for group, entries in groups.items():
        for sub in ("New arrivals", "Best sellers", "Sale"):
            menu.append(
                f'<li class="menu-heading"><a href="/{slug(group)}/{slug(sub)}">{group}: {sub}</a></li>'
            )
        for entry in entries:
            for variant in ("", " – sale", " – outlet"):
                menu.append(
                    f'<li class="menu-item"><a href="/{slug(group)}/{slug(entry + variant)}">'
                    f"{esc(entry + variant)}</a></li>"
                )
    items, posts = [], []
    stories = [
        "Ten days on the Haute Route with one pack",
        "How to choose trail running shoes",
        "Repairing a down jacket at home",
        "A beginner's guide to winter camping",
        "Why merino? The science of staying warm",
        "Our repair programme turns three",
        "Packing list: a weekend in the Dolomites",
        "Meet the team behind our new tents",
    ]
    for n, title in enumerate(stories):
        when = day(n * 9 + 4)
        link = f"/journal/{slug(title)}"
        items.append(item(link, title, when))
        posts.append(
            f'<div class="journal-entry"><a class="journal-entry__image" href="{link}">'
            f'<img src="/img/j{n}.jpg" alt=""></a><div class="journal-entry__body">'
            f'<span class="journal-entry__category">{["Stories", "Guides"][n % 2]}</span>'
            f'<h3 class="journal-entry__title"><a href="{link}">{esc(title)}</a></h3>'
            f'<p class="journal-entry__excerpt">{esc(SUMMARY[n % 6])}</p>'
            f'<p class="journal-entry__date">{when.day} {when:%B %Y}</p></div></div>'
        )
    strip = "".join(
        f'<div class="product-tile"><a href="/p/{slug(t)}"><img src="/p/{n}.jpg" alt="">'
        f'<span class="product-tile__name">{esc(t)}</span></a><span class="price">€{89 + n * 10}</span></div>'
        for n, t in enumerate(
            [
                "Alpine 30 daypack",
                "Storm shell jacket",
                "Merino crew, long sleeve",
                "Trail runner GTX",
                "Carbon trekking poles",
                "Down hoodie",
            ]
        )
    )
    body = (
        '<div class="site-menu"><a class="logo" href="/">Northfold Outdoor</a><ul class="mega-menu">'
        + "".join(menu)
        + '</ul><div class="account-links"><a href="/account">Account</a><a href="/cart">Cart (0)</a>'
        '</div></div><main class="journal"><h1>Journal</h1><div class="journal-grid">'
        + "".join(posts)
        + '</div></main><section class="recommendations"><h2>You may also like</h2>'
        '<div class="product-strip">' + strip + "</div></section>" + footer(4, 6)
    )
    return page("Journal – Northfold Outdoor", body), items, {}


@corpus("nav-heavy-docs")
def nav_heavy_docs() -> Built:
    """A documentation site's "What's new": a sidebar of 80 page links with long titles, and six
    dated change notes in the main column."""
    sections = ["Getting started", "Configuration", "Deployment", "Operations", "Reference"]
    topics = [
        "Installing on Linux",
        "Installing with Docker",
        "Your first pipeline",
        "Configuring the HTTP client",
        "Environment variables and secrets",
        "Running behind a reverse proxy",
        "Scaling to several nodes",
        "Backups and restores",
        "Upgrading between major versions",
        "Monitoring with Prometheus",
        "Troubleshooting slow queries",
        "The command-line interface",
        "Writing custom plugins",
        "Webhooks and notifications",
        "Access control and tokens",
        "Glossary of terms",
    ]
    side = []
    for s in sections:
        side.append(
            f'<li class="toctree-l1"><a class="reference internal" href="/docs/{slug(s)}/">{s}</a><ul>'
        )
        for t in topics:
            side.append(
                f'<li class="toctree-l2"><a class="reference internal" href="/docs/{slug(s)}/{slug(t)}/">'
                f"{esc(t)}</a></li>"
            )
        side.append("</ul></li>")
    items, notes = [], []
    changes = [
        "Version 5.2: incremental indexing",
        "Version 5.1.3: security fix for token scopes",
        "Version 5.1: a faster query planner",
        "New: a Helm chart for Kubernetes",
        "Version 5.0: the plugin API is stable",
        "Deprecation: the v1 REST endpoints",
    ]
    for n, title in enumerate(changes):
        when = day(n * 12 + 1)
        link = f"/docs/whats-new/{slug(title)}/"
        items.append(item(link, title, when))
        notes.append(
            f'<div class="section whats-new-entry" id="{slug(title)}"><h2><a class="reference '
            f'internal" href="{link}">{esc(title)}</a><a class="headerlink" href="#{slug(title)}" '
            f'title="Permalink to this heading">¶</a></h2><p class="release-date">Released '
            f'{when:%Y-%m-%d}</p><p>{esc(SUMMARY[n % 6])} See the <a class="reference internal" '
            f'href="/docs/reference/">reference</a>.</p></div>'
        )
    body = (
        '<div class="wy-grid-for-nav"><div class="wy-nav-side sidebar"><div class="wy-side-scroll">'
        '<a href="/docs/" class="icon icon-home">Pipelines docs</a><div class="wy-menu wy-menu-vertical"'
        ' role="navigation" aria-label="Navigation menu"><ul class="current">'
        + "".join(side)
        + '</ul></div></div></div><section class="wy-nav-content-wrap"><div class="wy-nav-content">'
        '<div class="rst-content"><div role="main" class="document"><div class="section" '
        'id="whats-new"><h1>What\'s new</h1>'
        + "".join(notes)
        + '</div></div><footer><div role="contentinfo"><p>© Copyright 2026, the Pipelines team.</p>'
        "</div></footer></div></div></section></div>"
    )
    return page("What's new — Pipelines docs", body), items, {}


def _rss(title: str, link: str, entries: list[Item]) -> str:
    body = "".join(
        f"<item><title>{esc(e['title'])}</title><link>{esc(e['link'])}</link>"
        f'<guid isPermaLink="true">{esc(e["link"])}</guid>'
        f"<pubDate>{datetime.fromisoformat(e['date']):%a, %d %b %Y %H:%M:%S +0000}</pubDate>"
        f"<description>{esc(SUMMARY[i % 6])}</description></item>"
        for i, e in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{esc(title)}</title><link>{esc(link)}</link><description>{esc(title)}</description>"
        f"{body}</channel></rss>"
    )


@corpus("feed-wordpress")
def feed_wordpress() -> Built:
    """A classic WordPress theme that advertises its RSS feed (and a comments feed)."""
    items, posts = [], []
    for n, title in enumerate(picks(TECH, 10, 12)):
        when = day(n * 2, 10, 0)
        link = f"https://journal.example.net/{when:%Y/%m/%d}/{slug(title)}/"
        items.append(item(link, title, when))
        posts.append(
            f'<article id="post-{300 + n}" class="post-{300 + n} post type-post status-publish hentry">'
            f'<header class="entry-header"><h2 class="entry-title"><a href="{link}" rel="bookmark">'
            f'{esc(title)}</a></h2><div class="entry-meta"><span class="posted-on">Posted on <a href="'
            f'{link}" rel="bookmark"><time class="entry-date published" datetime="{when.isoformat()}">'
            f"{when:%B} {when.day}, {when:%Y}</time></a></span></div></header>"
            f'<div class="entry-content"><p>{esc(SUMMARY[n % 6])}</p></div></article>'
        )
    head = (
        '<link rel="alternate" type="application/rss+xml" title="Journal &raquo; Feed" '
        'href="/feed-wordpress/feed/">'
        '<link rel="alternate" type="application/rss+xml" title="Journal &raquo; Comments Feed" '
        'href="/feed-wordpress/comments/feed/">'
    )
    body = (
        '<div id="page" class="site"><header id="masthead" class="site-header"><p class="site-title">'
        '<a href="https://journal.example.net/" rel="home">Journal</a></p></header>'
        '<main id="main" class="site-main">' + "".join(posts) + "</main></div>" + footer()
    )
    files = {
        "/feed-wordpress/feed/": (
            "application/rss+xml; charset=UTF-8",
            _rss("Journal", "https://journal.example.net/", items),
        ),
        "/feed-wordpress/comments/feed/": (
            "application/rss+xml; charset=UTF-8",
            _rss("Comments on Journal", "https://journal.example.net/", []),
        ),
    }
    return page("Journal", body, head), items, {"kind": "feed", "files": files}


@corpus("feed-atom-hugo")
def feed_atom_hugo() -> Built:
    """A static site advertising an Atom feed, its list a plain ul of dated links."""
    items, rows = [], []
    for n, title in enumerate(picks(TECH, 8, 13)):
        when = day(n * 7 + 1, 6, 0)
        link = f"https://ada.example.io/notes/{slug(title)}/"
        items.append(item(link, title, when))
        rows.append(f'<li><time>{when:%Y-%m-%d}</time> <a href="{link}">{esc(title)}</a></li>')
    entries = "".join(
        f'<entry><title>{esc(e["title"])}</title><link href="{e["link"]}"/>'
        f"<id>{e['link']}</id><updated>{e['date']}</updated><published>{e['date']}</published>"
        "</entry>"
        for e in items
    )
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Ada's notes</title><id>https://ada.example.io/</id>"
        f"<updated>{items[0]['date']}</updated>"
        f'<link href="https://ada.example.io/"/>{entries}</feed>'
    )
    head = '<link rel="alternate" type="application/atom+xml" title="Ada\'s notes" href="atom.xml">'
    body = (
        '<header><a href="/">Ada Okafor</a> · <a href="/about/">about</a></header><main>'
        '<h1>Notes</h1><ul class="notes">' + "".join(rows) + "</ul></main>"
    )
    files = {"/feed-atom-hugo/atom.xml": ("application/atom+xml", feed)}
    return page("Ada's notes", body, head), items, {"kind": "feed", "files": files}


@corpus("feed-jsonfeed")
def feed_jsonfeed() -> Built:
    """A micro.blog-style page advertising a JSON Feed; the HTML list is script-rendered."""
    items = []
    for n, title in enumerate(picks(TECH, 7, 14)):
        when = day(n * 3, 18, 30)
        items.append(
            item(f"https://priya.example.blog/{when:%Y/%m/%d}/{slug(title)}.html", title, when)
        )
    feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Priya Nair",
            "home_page_url": "https://priya.example.blog/",
            "items": [
                {
                    "id": e["link"],
                    "url": e["link"],
                    "title": e["title"],
                    "date_published": e["date"],
                    "content_text": SUMMARY[i % 6],
                }
                for i, e in enumerate(items)
            ],
        }
    )
    head = (
        '<link rel="alternate" type="application/feed+json" title="JSON Feed" href="/feed-jsonfeed/feed.json">'
        '<script src="/static/app.js" defer></script>'
    )
    body = '<header><a href="/">Priya Nair</a></header><div id="timeline">Loading…</div>'
    files = {"/feed-jsonfeed/feed.json": ("application/feed+json", feed)}
    return page("Priya Nair", body, head), items, {"kind": "feed", "files": files}


def ld(data: Any) -> str:
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


@corpus("jsonld-itemlist")
def jsonld_itemlist() -> Built:
    """A shop category rendered by a script; only its JSON-LD (BreadcrumbList, ItemList) lists
    the products."""
    items = []
    for title in PRODUCTS:
        items.append(item(f"https://shop.example.com/p/{slug(title)}", title, None))
    head = ld(
        {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": 1,
                    "name": "Home",
                    "item": "https://shop.example.com/",
                },
                {
                    "@type": "ListItem",
                    "position": 2,
                    "name": "Kitchen",
                    "item": "https://shop.example.com/kitchen",
                },
            ],
        }
    ) + ld(
        {
            "@context": "https://schema.org",
            "@type": "ItemList",
            "name": "Kitchen",
            "itemListElement": [
                {"@type": "ListItem", "position": i + 1, "url": e["link"], "name": e["title"]}
                for i, e in enumerate(items)
            ],
        }
    )
    body = (
        '<div id="app"><header><a href="/">Shop</a><a href="/cart">Cart</a></header>'
        "<noscript>Please enable JavaScript.</noscript></div>"
        '<script src="/static/js/main.4f2a1c.js"></script>'
    )
    return page("Kitchen | Shop", body, head), items, {"kind": "json"}


@corpus("jsonld-blog-graph")
def jsonld_blog_graph() -> Built:
    """A news site (Yoast-style @graph) whose Blog node lists its BlogPostings; the HTML list
    is there too, with hashed classes."""
    items, cards = [], []
    for n, title in enumerate(picks(NEWS, 9, 15)):
        when = day(n, 7 + n, 15)
        link = f"https://ledger.example.com/{when:%Y/%m/%d}/{slug(title)}/"
        items.append(item(link, title, when))
        cards.append(
            f'<div class="sc-a1b2c3 kXyZ"><a class="sc-d4e5f6" href="{link}">{esc(title)}</a></div>'
        )
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "@id": "https://ledger.example.com/#website", "name": "Ledger"},
            {
                "@type": "Blog",
                "@id": "https://ledger.example.com/#blog",
                "name": "Ledger",
                "blogPost": [
                    {
                        "@type": "BlogPosting",
                        "headline": e["title"],
                        "url": e["link"],
                        "datePublished": e["date"],
                        "author": {"@type": "Person", "name": NAMES[i % 6]},
                    }
                    for i, e in enumerate(items)
                ],
            },
        ],
    }
    body = '<div id="__app"><div class="sc-x9y8z7">' + "".join(cards) + "</div></div>"
    return page("Ledger", body, ld(graph)), items, {"kind": "json"}


@corpus("jsonld-events")
def jsonld_events() -> Built:
    """A venue's programme: a top-level JSON-LD array of Events, the HTML a script-built calendar."""
    items, events = [], []
    shows = [
        "Jazz at the Lighthouse",
        "Chamber music: Schubert & Brahms",
        "Stand-up night",
        "The Tempest (open air)",
        "Kids' theatre: The Gruffalo",
        "Tango milonga",
        "Organ recital",
        "Poetry slam finals",
    ]
    for n, title in enumerate(shows):
        when = (NOW + timedelta(days=n * 3 + 2)).replace(hour=19, minute=30)
        link = f"https://venue.example.org/events/{slug(title)}"
        items.append(item(link, title, when))
        events.append(
            {
                "@context": "https://schema.org",
                "@type": "Event",
                "name": title,
                "url": link,
                "startDate": when.isoformat(),
                "location": {"@type": "Place", "name": "Main hall"},
                "offers": {
                    "@type": "Offer",
                    "price": 12 + n,
                    "priceCurrency": "EUR",
                    "url": link + "/tickets",
                },
            }
        )
    body = '<div id="calendar" data-view="month"></div><script src="/calendar.js"></script>'
    return page("Programme – The Venue", body, ld(events)), items, {"kind": "json"}


@corpus("microdata-blog")
def microdata_blog() -> Built:
    """schema.org microdata: BlogPosting scopes with headline, url, datePublished, an author."""
    items, posts = [], []
    for n, title in enumerate(picks(TECH, 8, 16)):
        when = day(n * 4 + 1, 12)
        link = f"/microdata-blog/{slug(title)}"
        items.append(item(link, title, when))
        posts.append(
            '<div class="entry" itemprop="blogPost" itemscope itemtype="http://schema.org/BlogPosting">'
            f'<div class="entry-head"><a class="entry-link" itemprop="url" href="{link}">'
            f'<span itemprop="headline">{esc(title)}</span></a></div>'
            '<div class="entry-byline" itemprop="author" itemscope itemtype="http://schema.org/Person">'
            f'<a href="/authors/{n % 6}" itemprop="url"><span itemprop="name">{NAMES[n % 6]}</span></a></div>'
            f'<meta itemprop="datePublished" content="{when.isoformat()}">'
            f'<span class="entry-date">{when:%d/%m/%Y}</span>'
            f'<div class="entry-text" itemprop="description">{esc(SUMMARY[n % 6])}</div></div>'
        )
    body = (
        '<div class="wrap"><div class="top"><a href="/">Plain Words</a> | <a href="/about">about</a> |'
        ' <a href="/archive">archive</a></div><div class="col-main" itemscope '
        'itemtype="http://schema.org/Blog"><h1 itemprop="name">Plain Words</h1>'
        + "".join(posts)
        + '</div><div class="col-side"><h3>Blogroll</h3><ul>'
        + "".join(
            f'<li><a href="https://{d}/">{d}</a></li>'
            for d in ["danluu.example", "jvns.example", "rachelbythebay.example", "lwn.example"]
        )
        + "</ul></div></div>"
    )
    return page("Plain Words", body), items, {}


@corpus("microdata-events")
def microdata_events() -> Built:
    """A city's events: li scopes of https://schema.org/Event, startDate in meta content."""
    items, rows = [], []
    events = [
        "Farmers' market",
        "Open-air cinema: Casablanca",
        "Library book sale",
        "Repair café",
        "Night run 10 km",
        "Harbour festival",
        "Choir concert",
        "Street food fair",
        "Bird walk in the park",
        "Lantern parade",
    ]
    for n, title in enumerate(events):
        when = (NOW + timedelta(days=n + 1)).replace(hour=10 + n % 8, minute=0)
        link = f"/microdata-events/e/{slug(title)}"
        items.append(item(link, title, when))
        rows.append(
            f'<li class="event-row" itemscope itemtype="https://schema.org/Event">'
            f'<meta itemprop="startDate" content="{when:%Y-%m-%dT%H:%M:%S+00:00}">'
            f'<div class="event-when">{when:%a %d %b, %H:%M}</div><div class="event-what">'
            f'<a href="{link}" itemprop="url"><span itemprop="name">{esc(title)}</span></a>'
            '<div itemprop="location" itemscope itemtype="https://schema.org/Place">'
            f'<span itemprop="name">{["Town square", "Harbour", "Library", "Park"][n % 4]}</span></div>'
            "</div></li>"
        )
    body = (
        '<header class="city-header"><a href="/">City of Riverton</a>'
        + nav(["Residents", "Business", "Visitors", "Council", "Events", "Contact"], "city-nav")
        + '</header><main><h1>Events this week</h1><ul class="event-list">'
        + "".join(rows)
        + "</ul></main>"
        + footer(3, 5)
    )
    return page("Events – City of Riverton", body), items, {}


@corpus("microformats-hfeed")
def microformats_hfeed() -> Built:
    """An IndieWeb blog: h-feed of h-entry with p-name u-url, dt-published, p-summary, h-card."""
    items, entries = [], []
    for n, title in enumerate(picks(TECH, 9, 17)):
        when = day(n * 3 + 1, 20, 5)
        link = f"https://jonas.example.de/{when:%Y/%m}/{slug(title)}"
        items.append(item(link, title, when))
        entries.append(
            f'<article class="h-entry post"><h2><a class="p-name u-url" href="{link}">{esc(title)}</a></h2>'
            f'<p class="meta">by <a class="p-author h-card" href="https://jonas.example.de/">Jonas</a>'
            f' on <time class="dt-published" datetime="{when.isoformat()}">{when:%d %B %Y}</time></p>'
            f'<p class="p-summary">{esc(SUMMARY[n % 6])}</p></article>'
        )
    body = (
        '<header><a class="h-card" href="https://jonas.example.de/" rel="me">Jonas Weber</a>'
        '<nav><a href="/now">now</a> <a href="/uses">uses</a> <a href="/blogroll">blogroll</a></nav>'
        '</header><main class="h-feed"><h1 class="p-name">Posts</h1>'
        + "".join(entries)
        + '</main><footer><a href="https://indieweb.org/">IndieWeb</a> · <a '
        'href="https://xn--sr8hvo.ws/previous">←</a> <a href="https://xn--sr8hvo.ws/next">→</a></footer>'
    )
    return page("Jonas Weber", body, lang="de"), items, {}


@corpus("microformats-events")
def microformats_events() -> Built:
    """A meetup list in microformats: div.h-event with a.p-name.u-url and time.dt-start."""
    items, rows = [], []
    meetups = [
        "Python user group: async in practice",
        "Rust & coffee",
        "Postgres meetup #42",
        "Women in tech: lightning talks",
        "Open source hack night",
        "Design systems roundtable",
        "Kubernetes operators workshop",
    ]
    for n, title in enumerate(meetups):
        when = (NOW + timedelta(days=n * 4 + 3)).replace(hour=18, minute=30)
        link = f"/microformats-events/{slug(title)}/"
        items.append(item(link, title, when))
        rows.append(
            f'<div class="h-event event"><a class="p-name u-url" href="{link}">{esc(title)}</a>'
            f'<div class="when"><time class="dt-start" datetime="{when:%Y-%m-%dT%H:%M:%S+00:00}">'
            f'{when:%A %d %B, %H:%M}</time></div><div class="p-location h-card">'
            f'<span class="p-name">{["Tech hub", "Library", "Co-working Nord"][n % 3]}</span></div>'
            f'<div class="attendees"><a href="{link}rsvps">{n * 7 + 5} going</a></div></div>'
        )
    body = (
        '<div class="page"><div class="top-bar"><a href="/">meet.example</a><a href="/groups">Groups</a>'
        '<a href="/calendar">Calendar</a><a href="/login">Sign in</a></div><div class="content">'
        '<h1>Upcoming events</h1><div class="events">' + "".join(rows) + "</div></div></div>"
    )
    return page("Upcoming events – meet.example", body), items, {}


@corpus("next-data")
def next_data() -> Built:
    """A Next.js blog: server-rendered cards with generated classes and __NEXT_DATA__ holding
    the posts with their URLs and ISO dates."""
    items, cards, posts = [], [], []
    for n, title in enumerate(picks(TECH, 11, 18)):
        when = day(n * 2 + 1, 15)
        link = f"/next-data/blog/{slug(title)}"
        items.append(item(link, title, when))
        posts.append(
            {
                "id": 500 + n,
                "title": title,
                "url": link,
                "publishedAt": when.isoformat(),
                "excerpt": SUMMARY[n % 6],
                "author": {"name": NAMES[n % 6]},
            }
        )
        cards.append(
            f'<div class="BlogCard_card__x7Ab2"><a class="BlogCard_link__9kQ1z" href="{link}">'
            f'<p class="BlogCard_title__3fGh8">{esc(title)}</p></a><p class="BlogCard_date__Lm2pQ">'
            f"{when:%B %-d, %Y}</p></div>"
        )
    state = {
        "props": {"pageProps": {"posts": posts, "total": len(posts)}, "__N_SSG": True},
        "page": "/blog",
        "query": {},
        "buildId": "k2Jx9aQ",
        "isFallback": False,
    }
    body = (
        '<div id="__next"><header class="Header_header__a1B2c"><a href="/">Acme</a>'
        '<a href="/pricing">Pricing</a><a href="/docs">Docs</a><a href="/blog">Blog</a></header>'
        '<main class="Blog_main__Qw3eR"><h1>Blog</h1><div class="Blog_grid__p0O9i">'
        + "".join(cards)
        + "</div></main></div>"
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(state)}</script>'
    )
    return page("Blog – Acme", body), items, {"kind": "json"}


@corpus("inertia-app")
def inertia_app() -> Built:
    """A Laravel + Inertia app: the page is an empty div#app whose data-page JSON holds the
    items (title, url, created_at)."""
    items, rows = [], []
    for n, title in enumerate(picks(TECH, 10, 19)):
        when = day(n, 11, 30)
        link = f"https://changelog.example.app/entries/{900 + n}"
        items.append(item(link, title, when))
        rows.append(
            {
                "id": 900 + n,
                "title": title,
                "url": link,
                "created_at": when.isoformat(),
                "tags": ["api"],
            }
        )
    data = {
        "component": "Changelog/Index",
        "props": {"auth": {"user": None}, "entries": {"data": rows, "links": {"next": "?page=2"}}},
        "url": "/changelog",
        "version": "a1b2c3",
    }
    body = f'<div id="app" data-page="{esc(json.dumps(data))}"></div><script src="/build/app.js"></script>'
    return page("Changelog", body), items, {"kind": "json"}


@corpus("video-grid")
def video_grid() -> Built:
    """A video channel's uploads: div.video-card with a thumbnail link, a.video-title, views and
    a relative age."""
    items, cards = [], []
    for n, title in enumerate(picks(TECH, 12, 20)):
        when = NOW - timedelta(days=n * 3 + 1)
        link = f"/watch?v={'AbCdEfGhIjKlMn'[n]}x{n}Q_z9"
        items.append(item(link, title, when))
        age = f"{n * 3 + 1} days ago" if n * 3 + 1 < 14 else f"{(n * 3 + 1) // 7} weeks ago"
        if n * 3 + 1 >= 14:
            when = NOW - timedelta(weeks=(n * 3 + 1) // 7)
            items[-1]["date"] = iso(when)
        cards.append(
            f'<div class="video-card"><a class="thumbnail" href="{link}" aria-hidden="true" tabindex="-1">'
            f'<img src="https://i.example.com/vi/{n}/hq.jpg" alt=""><span class="duration">{10 + n}:0{n % 10}'
            f'</span></a><div class="details"><a class="video-title" href="{link}" title="{esc(title)}">'
            f'{esc(title)}</a><div class="metadata-line"><span class="views">{(n + 1) * 1.3:.1f}K views'
            f'</span><span class="age">{age}</span></div></div></div>'
        )
    body = (
        '<div id="masthead"><a id="logo" href="/">VidTube</a><form action="/results"><input name="q">'
        '</form><a href="/signin">Sign in</a></div><div id="guide"><a href="/">Home</a><a href="/shorts">'
        'Shorts</a><a href="/feed/subscriptions">Subscriptions</a><a href="/feed/library">Library</a>'
        '</div><div id="channel"><h1>Build Systems Weekly</h1><div class="tabs"><a href="/@bsw/videos">'
        'Videos</a><a href="/@bsw/playlists">Playlists</a><a href="/@bsw/about">About</a></div>'
        '<div class="video-grid">' + "".join(cards) + "</div></div>"
    )
    return page("Build Systems Weekly - VidTube", body), items, {}


@corpus("job-board")
def job_board() -> Built:
    """A job board: ul.jobs > li.job-listing (a featured one among them), h3 a titles,
    company, place, and a time element."""
    items, rows = [], []
    jobs = [
        "Senior Backend Engineer (Python)",
        "Site Reliability Engineer",
        "Staff Data Engineer",
        "Frontend Developer – React/TypeScript",
        "Engineering Manager, Platform",
        "Security Engineer (Cloud)",
        "Machine Learning Engineer",
        "Developer Advocate",
        "Database Reliability Engineer",
        "QA Automation Engineer",
        "Product Designer",
    ]
    for n, title in enumerate(jobs):
        when = day(n // 2 + 1)  # the card shows the day only
        link = f"/jobs/{4100 + n}-{slug(title)}"
        items.append(item(link, title, when))
        featured = " job-listing--featured" if n == 0 else ""
        rows.append(
            f'<li class="job-listing{featured}"><div class="job-listing__logo"><img src="/logos/{n}.png"'
            f' alt=""></div><div class="job-listing__main"><h3 class="job-listing__title"><a href="{link}">'
            f'{esc(title)}</a></h3><div class="job-listing__company"><a href="/companies/c{n}">Company {n}'
            f'</a></div><ul class="job-listing__tags"><li><a href="/tags/remote">Remote</a></li><li>'
            f'<a href="/tags/python">Python</a></li><li><a href="/tags/full-time">Full-time</a></li></ul>'
            f'</div><div class="job-listing__meta"><span class="job-listing__location">'
            f"{['Berlin', 'Remote (EU)', 'London', 'Amsterdam'][n % 4]}</span>"
            f'<time datetime="{when:%Y-%m-%d}">{when:%b %d}</time></div></li>'
        )
    body = (
        '<header class="header"><a href="/" class="logo">RemoteDevJobs</a><nav><a href="/jobs">Jobs</a>'
        '<a href="/companies">Companies</a><a href="/salaries">Salaries</a><a href="/post">Post a job'
        '</a></nav></header><div class="layout"><aside class="filters"><h3>Filter</h3><ul>'
        + "".join(
            f'<li><a href="/tags/{t}">{t}</a></li>'
            for t in ["python", "go", "rust", "remote", "senior", "junior", "contract", "devops"]
        )
        + '</ul></aside><main><h1>Latest jobs</h1><ul class="jobs">'
        + "".join(rows)
        + "</ul></main></div>"
        + footer(3, 5)
    )
    return page("Latest jobs – RemoteDevJobs", body), items, {}


@corpus("podcast-episodes")
def podcast_episodes() -> Built:
    """A podcast site: div.episode with h2 title (not a link), a "Show notes" link and an mp3."""
    items, rows = [], []
    for n, title in enumerate(picks(TECH, 8, 21)):
        number = 120 - n
        when = day(n * 7 + 2)
        link = f"/episodes/{number}"
        shown = f"#{number}: {title}"
        items.append(item(link, shown, when))
        rows.append(
            f'<div class="episode"><h2 class="episode-title">{esc(shown)}</h2>'
            f'<p class="episode-date">{when:%B} {when.day}, {when:%Y}</p>'
            f'<p class="episode-desc">{esc(SUMMARY[n % 6])}</p><div class="episode-actions">'
            f'<a class="show-notes" href="{link}">Show notes</a> · '
            f'<a class="download" href="https://cdn.example.fm/ep{number}.mp3">Download (MP3)</a></div></div>'
        )
    body = (
        '<div class="header"><a href="/">Ship It Slowly</a> — a podcast about software maintenance'
        '<div class="subscribe"><a href="https://podcasts.example.com/x">Apple Podcasts</a>'
        '<a href="https://open.example.com/show/y">Spotify</a><a href="/rss">RSS</a></div></div>'
        '<div class="episodes">' + "".join(rows) + "</div>"
    )
    return page("Ship It Slowly", body), items, {}


@corpus("search-results")
def search_results() -> Built:
    """A web search results page: div.result with h3 a, a cite URL and a snippet; ads on top."""
    items, rows, ads = [], [], []
    for n, title in enumerate(picks(TECH, 10, 22)):
        link = f"https://{['docs', 'blog', 'wiki', 'news'][n % 4]}.example{n}.org/{slug(title)}"
        items.append(item(link, title, None))
        rows.append(
            f'<div class="result results_links web-result"><div class="links_main result__body">'
            f'<h3 class="result__title"><a rel="nofollow" class="result__a" href="{link}">{esc(title)}</a>'
            f'</h3><div class="result__extras"><span class="result__url">{link[8:]}</span></div>'
            f'<a class="result__snippet" href="{link}">{esc(SUMMARY[n % 6])}</a></div></div>'
        )
    for n in range(2):
        ads.append(
            f'<div class="result result--ad"><div class="result__body"><h3 class="result__title">'
            f'<a class="result__a" href="https://ads.example.com/click?x={n}">Try CloudThing free</a></h3>'
            '<span class="badge--ad">Ad</span></div></div>'
        )
    body = (
        '<div id="header"><form id="search_form" action="/html/"><input name="q" value="caching">'
        '</form><div class="header--aside"><a href="/settings">Settings</a></div></div>'
        '<div id="links" class="results">'
        + "".join(ads)
        + "".join(rows)
        + '<div class="nav-link"><form action="/html/"><input type="submit" class="btn" value="Next">'
        "</form></div></div>"
    )
    return page("caching at Search", body), items, {}


@corpus("tag-cloud-blog")
def tag_cloud_blog() -> Built:
    """An old blog: five div.entry posts, a 60-tag cloud, a long archive list and a blogroll."""
    items, posts = [], []
    for n, title in enumerate(picks(TECH, 5, 23)):
        when = day(n * 10 + 3, 21, 14)
        link = f"/tag-cloud-blog/archives/{2040 + n}"
        items.append(item(link, title, when))
        posts.append(
            f'<div class="entry"><h3 class="entrytitle"><a href="{link}" rel="bookmark">{esc(title)}</a>'
            f'</h3><div class="entrymeta">Posted by Tom at {when:%I:%M %p} on {when:%A, %B} '
            f'{when.day}, {when:%Y}</div><div class="entrybody"><p>{esc(SUMMARY[n % 6])} '
            f'{esc(SUMMARY[(n + 1) % 6])}</p></div><div class="entryfooter">'
            f'<a href="{link}#comments">{n + 2} Comments</a> | Filed under '
            '<a href="/tag-cloud-blog/tag/code" rel="tag">code</a></div></div>'
        )
    archive = "".join(
        f'<li><a href="/tag-cloud-blog/{y}/{m:02d}/">{datetime(y, m, 1):%B %Y}</a> ({m + 3})</li>'
        for y in (2026, 2025, 2024)
        for m in range(12, 0, -1)
    )
    roll = "".join(
        f'<li><a href="https://{w}.example.net/">{w.title()} Blog</a></li>'
        for w in ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    )
    body = (
        '<div id="container"><div id="header"><h1><a href="/tag-cloud-blog/">Tom\'s Weblog</a></h1>'
        '</div><div id="content">'
        + "".join(posts)
        + '<div class="navigation"><a href="?paged=2">« Older Entries</a></div></div>'
        '<div id="sidebar"><h2>Tags</h2>'
        + tag_cloud(60)
        + "<h2>Archives</h2><ul>"
        + archive
        + "</ul><h2>Blogroll</h2><ul>"
        + roll
        + "</ul></div></div>"
    )
    return page("Tom's Weblog", body), items, {}


@corpus("reddit-old")
def reddit_old() -> Built:
    """A classic link forum: div.thing.link with a.title, a score div and time[datetime]."""
    items, things = [], []
    for n, title in enumerate(picks(TECH + NEWS, 18, 24)):
        when = NOW - timedelta(hours=n * 2 + 1)
        link = (
            f"https://www.example.com/{slug(title)}"
            if n % 4
            else f"/r/programming/comments/{1000 + n:x}/{slug(title)[:30]}/"
        )
        items.append(item(link, title, when))
        things.append(
            f'<div class="thing id-t3_{1000 + n:x} {"odd" if n % 2 else "even"} link" '
            f'data-fullname="t3_{1000 + n:x}" data-url="{link}"><p class="parent"></p>'
            f'<span class="rank">{n + 1}</span><div class="midcol unvoted"><div class="arrow up">'
            f'</div><div class="score unvoted" title="{900 - n * 40}">{900 - n * 40}</div>'
            '<div class="arrow down"></div></div><div class="entry unvoted"><div class="top-matter">'
            f'<p class="title"><a class="title may-blank" data-event-action="title" href="{link}" '
            f'tabindex="1">{esc(title)}</a> <span class="domain">(<a href="/domain/example.com/">'
            'example.com</a>)</span></p><p class="tagline">submitted <time title="x" '
            f'datetime="{when:%Y-%m-%dT%H:%M:%S+00:00}" class="live-timestamp">{n * 2 + 1} hours ago'
            f'</time> by <a href="/user/u{n}" class="author may-blank">u{n}</a></p>'
            '<ul class="flat-list buttons"><li class="first"><a href="/r/programming/comments/x/" '
            f'class="bylink comments may-blank">{n * 11} comments</a></li><li class="share"><a '
            'class="post-sharing-button" href="javascript: void 0;">share</a></li></ul></div></div>'
            '<div class="clearleft"></div></div>'
        )
    body = (
        '<div id="header"><div id="sr-header-area"><ul class="sr-bar">'
        + "".join(
            f'<li><a href="/r/{s}/" class="choice">{s}</a></li>'
            for s in [
                "popular",
                "all",
                "random",
                "askreddit",
                "worldnews",
                "funny",
                "pics",
                "gaming",
                "news",
                "todayilearned",
                "movies",
                "science",
                "aww",
                "music",
            ]
        )
        + '</ul></div><a href="/" id="header-img">reddit</a><ul class="tabmenu">'
        '<li class="selected"><a href="/r/programming/">hot</a></li><li><a href="/r/programming/new/">'
        'new</a></li><li><a href="/r/programming/top/">top</a></li></ul></div>'
        '<div class="side"><div class="spacer"><div class="titlebox"><h1><a href="/r/programming/">'
        'programming</a></h1><div class="md"><p>Computer programming</p></div></div></div></div>'
        '<div class="content" role="main"><div id="siteTable" class="sitetable linklisting">'
        + "".join(things)
        + '<div class="nav-buttons"><span class="next-button"><a href="?count=25&amp;after=t3_x" '
        'rel="nofollow next">next ›</a></span></div></div></div>'
    )
    return page("programming", body), items, {}


@corpus("lobsters")
def lobsters() -> Built:
    """A small link site: ol.stories > li.story, a.u-url titles, a span with a title attribute
    holding the exact time next to "3 hours ago"."""
    items, rows = [], []
    for n, title in enumerate(picks(TECH, 20, 25)):
        when = NOW - timedelta(hours=n + 2, minutes=17)
        link = (
            f"https://{['lwn.net', 'go.dev', 'sqlite.org', 'rust-lang.org'][n % 4]}/x/{slug(title)}"
        )
        items.append(item(link, title, when))
        rows.append(
            f'<li id="story_{n:06x}" data-shortid="{n:06x}" class="story"><div class="story_liner h-entry">'
            f'<div class="voters"><a class="upvoter" href="/login"></a><div class="score">{40 - n}</div></div>'
            f'<div class="details"><span role="heading" aria-level="1" class="link h-cite u-repost-of">'
            f'<a class="u-url" href="{link}" rel="ugc noreferrer">{esc(title)}</a></span>'
            f'<span class="tags"><a class="tag tag_programming" href="/t/programming">programming</a></span>'
            f'<a class="domain" href="/domains/{link.split("/")[2]}">{link.split("/")[2]}</a>'
            f'<div class="byline"><a href="/~user{n}"><img class="avatar" src="/avatars/{n}.png" alt=""></a>'
            f' <a class="u-author h-card" href="/~user{n}">user{n}</a> <span title="'
            f'{when:%Y-%m-%d %H:%M:%S} +0000">{n + 2} hours ago</span> | <a href="/s/{n:06x}">'
            f"{n} comments</a></div></div></div></li>"
        )
    body = (
        '<header id="nav"><a id="logo" href="/">Lobsters</a><span class="headerlinks">'
        '<a href="/active">Active</a><a href="/recent">Recent</a><a href="/comments">Comments</a>'
        '<a href="/search">Search</a></span><span class="headerright"><a href="/login">Login</a></span>'
        '</header><div id="inside"><ol class="stories list">'
        + "".join(rows)
        + '</ol><div class="morelink"><a href="/page/2">Page 2 &gt;&gt;</a></div></div>'
        '<footer><a href="/about">About</a><a href="/tags">Tags</a><a href="/filters">Filter</a>'
        '<a href="/moderations">Moderation Log</a></footer>'
    )
    return page("Lobsters", body), items, {}


@corpus("github-trending")
def github_trending() -> Built:
    """A trending-repositories page: article.Box-row, the h2 link text "owner / name" spread
    over lines, stars today, no dates."""
    items, rows = [], []
    repos = [
        ("astral-sh", "uv"),
        ("ollama", "ollama"),
        ("huggingface", "transformers"),
        ("microsoft", "markitdown"),
        ("vercel", "next.js"),
        ("denoland", "deno"),
        ("tauri-apps", "tauri"),
        ("rust-lang", "rust"),
        ("pytorch", "pytorch"),
        ("sveltejs", "svelte"),
    ]
    for n, (owner, name) in enumerate(repos):
        link = f"/{owner}/{name}"
        items.append(item(link, f"{owner} / {name}", None))
        rows.append(
            f'<article class="Box-row"><div class="float-right"><a href="/login?return_to={link}" '
            f'class="btn-sm btn">Star</a></div><h2 class="h3 lh-condensed"><a href="{link}" '
            f'class="Link">\n      <span class="text-normal">\n        {owner} /\n</span>\n      {name}\n    '
            f'</a></h2><p class="col-9 color-fg-muted my-1 pr-4">{esc(SUMMARY[n % 6])}</p>'
            f'<div class="f6 color-fg-muted mt-2"><span class="d-inline-block ml-0 mr-3">'
            f'<span itemprop="programmingLanguage">{["Rust", "Go", "Python", "TypeScript"][n % 4]}</span>'
            f'</span><a href="{link}/stargazers" class="Link--muted d-inline-block mr-3">'
            f'{(n + 3) * 1234:,}</a><a href="{link}/forks" class="Link--muted d-inline-block mr-3">'
            f'{(n + 1) * 321:,}</a><span class="d-inline-block float-sm-right">{(n + 1) * 57} stars today'
            "</span></div></article>"
        )
    body = (
        '<header class="Header"><a href="/">GitHub</a>'
        + nav(
            ["Product", "Solutions", "Resources", "Open Source", "Enterprise", "Pricing"],
            "Header-nav",
        )
        + '</header><main><div class="Box"><div class="Box-header"><nav class="subnav">'
        '<a class="subnav-item selected" href="/trending">Repositories</a><a class="subnav-item" '
        'href="/trending/developers">Developers</a></nav></div><div data-hpc>'
        + "".join(rows)
        + "</div></div></main>"
        + footer(3, 6)
    )
    return page("Trending repositories on GitHub today", body), items, {}


# --- pages with no list: the detector must say so ---------------------------------------------


@corpus("none-article")
def none_article() -> Built:
    """One article: header navigation, the text, three "related" links in an aside, a footer."""
    paragraphs = "".join(f"<p>{esc(' '.join(SUMMARY))}</p>" for _ in range(8))
    body = (
        '<header class="site-header"><a href="/">The Build Log</a>'
        + nav(["Home", "Archive", "About", "Newsletter"])
        + '</header><main><article class="post"><h1>Why we moved our build cache to object storage</h1>'
        '<p class="byline">By <a href="/authors/ada">Ada Okafor</a> · <time datetime="2026-05-01">'
        "May 1, 2026</time></p>"
        + paragraphs
        + '</article><aside class="related"><h2>Related</h2><ul>'
        + "".join(f'<li><a href="/{slug(t)}/">{esc(t)}</a></li>' for t in TECH[1:4])
        + "</ul></aside></main>"
        + footer(2, 4)
    )
    return page("Why we moved our build cache to object storage", body), [], {"expect": "none"}


@corpus("none-login")
def none_login() -> Built:
    """A login wall: a form and a handful of links."""
    body = (
        '<div class="auth"><a class="logo" href="/">Acme</a><h1>Sign in to continue</h1>'
        '<form method="post" action="/session"><label>Email <input type="email" name="email"></label>'
        '<label>Password <input type="password" name="password"></label><button>Sign in</button></form>'
        '<p><a href="/password/reset">Forgot your password?</a></p><p>New here? <a href="/signup">'
        'Create an account</a></p><footer><a href="/terms">Terms</a> · <a href="/privacy">Privacy</a> ·'
        ' <a href="/help">Help</a></footer></div>'
    )
    return page("Sign in – Acme", body), [], {"expect": "none"}


@corpus("scripted-spa")
def scripted_spa() -> Built:
    """A single-page app: an empty root element, the list built by a script bundle."""
    head = '<script type="module" crossorigin src="/assets/index-4b8e2f.js"></script>'
    body = (
        '<div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript>'
    )
    return page("Dashboard", body, head), [], {"expect": "scripted"}


def main() -> None:
    for old in HERE.glob("*.html"):
        old.unlink()
    for old in HERE.glob("*.json"):
        old.unlink()
    for old in HERE.glob("*.feed"):
        old.unlink()
    for name, build in PAGES.items():
        markup, items, extra = build()
        (HERE / f"{name}.html").write_text(markup, encoding="utf-8")
        files = {}
        for n, (path, (content_type, text)) in enumerate(extra.pop("files", {}).items()):
            stored = f"{name}.{n}.feed"
            (HERE / stored).write_text(text, encoding="utf-8")
            files[path] = {"file": stored, "content_type": content_type}
        label = {
            "about": " ".join((build.__doc__ or "").split()),
            "path": f"/{name}/",
            "expect": extra.pop("expect", "list"),
            "kind": extra.pop("kind", "html"),
            "files": files,
            "items": items,
        }
        (HERE / f"{name}.json").write_text(json.dumps(label, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(PAGES)} pages to {HERE}")


if __name__ == "__main__":
    main()
