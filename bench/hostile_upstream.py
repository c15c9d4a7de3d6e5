"""Bench-only upstream: feeds that are costly to parse, different on every request.

    python -m bench.hostile_upstream PORT

- `/nested/N.xml`: an RSS document of about 1.2 MB whose channel holds elements nested
  ~85,000 deep (feedparser spends seconds on it, on whatever thread runs it);
- `/big/N.rss`: a valid RSS 2.0 feed of about 4 MB (~3,900 items);
- `/quiet.rss`: a small feed that never changes (the one the reader reads, cached);
- `/honest/N.rss`: an honest large feed of about 500 KB (~480 items), different on every
  request (`bench/case_fair.py`: how long its polls wait among the hostile ones).

Every response but the quiet one starts with a comment counting requests, so no poll sees
the body it saw before (feedbridge skips an identical body without parsing it).
"""

from __future__ import annotations

import itertools
import sys

from aiohttp import web

NESTED_BYTES = 1_200_000
BIG_BYTES = 4_000_000
HONEST_BYTES = 500_000
XML = b"<?xml version='1.0' encoding='utf-8'?>\n"


def nested() -> bytes:
    depth = (NESTED_BYTES - 200) // 7
    return (
        b"<rss version='2.0'><channel><title>Nested</title><link>https://example.com/</link>"
        + b"<x>" * depth + b"</x>" * depth + b"</channel></rss>\n"
    )


def item(i: int) -> bytes:
    text = "Some words about the thing at hand. " * 22
    return (
        f"<item><title>Item {i} of a long feed</title><link>https://example.com/p/{i}</link>"
        f"<guid>https://example.com/p/{i}</guid>"
        f"<pubDate>Mon, 04 May 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} GMT"
        f"</pubDate><description>&lt;p&gt;{text}&lt;/p&gt;</description></item>\n"
    ).encode()


def big(size: int = BIG_BYTES) -> bytes:
    parts = [b"<rss version='2.0'><channel><title>Big</title><link>https://example.com/</link>"]
    total, i = 0, 0
    while total < size:
        parts.append(item(i))
        total += len(parts[-1])
        i += 1
    return b"".join([*parts, b"</channel></rss>\n"])


def quiet() -> bytes:
    return XML + big(20_000)


def main() -> None:
    port = int(sys.argv[1])
    counter = itertools.count()
    bodies = {"nested": nested(), "big": big(), "honest": big(HONEST_BYTES)}

    def changing(kind: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            body = XML + f"<!-- {next(counter)} -->\n".encode() + bodies[kind]
            return web.Response(body=body, content_type="application/rss+xml")

        return handler

    still = quiet()

    async def quiet_feed(request: web.Request) -> web.Response:
        return web.Response(body=still, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/nested/{n}.xml", changing("nested"))
    app.router.add_get("/big/{n}.rss", changing("big"))
    app.router.add_get("/honest/{n}.rss", changing("honest"))
    app.router.add_get("/quiet.rss", quiet_feed)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
