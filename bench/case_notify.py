"""Case 5, notify: 1,000 queued entries delivered through the outbox to a local webhook.

The receiver (`bench.receiver`, a raw asyncio server answering 200) runs in its own process.
Each run enqueues 1,000 entry payloads in a fresh embedded store (as a poll does), then times one
`Notifier.deliver()` round for a `json://127.0.0.1:PORT/` target, which sends them one by one
in order, removing each row only after Apprise reported success.
Baselines in the same run: the same 1,000 messages through `TargetChannel.send` alone (Apprise, no
outbox), and 1,000 sequential POSTs of the same JSON with a bare aiohttp session (the floor).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import LOCAL, ROOT, Row, Stat, free_port, hf_entries, http_get, stop, wait_port

COUNT = 1000


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    from feedbridge.notify.channel import TargetChannel
    from feedbridge.notify.outbox import Notifier
    from feedbridge.store import EmbeddedStore, OutboxRow, entry_notice

    count = 200 if quick else COUNT
    runs = 1 if quick else 3
    port = free_port()
    url = f"json://{LOCAL}:{port}/"
    entries = hf_entries(count, "papers")
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    outbox: list[float] = []
    apprise_only: list[float] = []
    floor: list[float] = []
    try:
        wait_port(port, proc=receiver)

        def row(entry: Any) -> OutboxRow:
            return OutboxRow("", "hook", "entry", "", entry.to_dict(), 0.0)

        def received() -> int:
            return int(http_get(f"http://{LOCAL}:{port}/count")[2])

        async def one_outbox_run() -> float:
            work = Path(tempfile.mkdtemp(prefix="fb-bench-notify-"))
            try:
                store = EmbeddedStore(work / "store")
                channel = TargetChannel(name="hook", urls=[url])
                notifier = Notifier([channel], store)
                stamp = time.time()
                store.enqueue([entry_notice("hook", e, stamp) for e in entries], stamp)
                before = received()
                t = time.perf_counter()
                result = await notifier.deliver(respect_backoff=False)
                elapsed = time.perf_counter() - t
                got = received() - before
                assert result.sent == count and got == count, (result, got)
                assert store.pending_count("hook") == 0
                store.close()
                return count / elapsed
            finally:
                shutil.rmtree(work, ignore_errors=True)

        async def one_apprise_run() -> float:
            channel = TargetChannel(name="hook", urls=[url])
            messages = [channel.message(row(e), "text") for e in entries]
            t = time.perf_counter()
            for m in messages:
                outcome = await channel.send(0, m)
                assert outcome is None, outcome
            return count / (time.perf_counter() - t)

        async def one_floor_run() -> float:
            import aiohttp

            channel = TargetChannel(name="hook", urls=[url])
            bodies = [
                json.dumps(
                    {
                        "version": "1.0",
                        "title": m.title,
                        "message": m.body,
                        "attachments": [],
                        "type": "info",
                    }
                )
                for m in (channel.message(row(e), "text") for e in entries)
            ]
            async with aiohttp.ClientSession() as session:
                t = time.perf_counter()
                for body in bodies:
                    async with session.post(
                        f"http://{LOCAL}:{port}/",
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as r:
                        await r.read()
                        assert r.status == 200
                return count / (time.perf_counter() - t)

        async def all_runs() -> None:
            await one_floor_run()  # warm-up: imports, connection
            for _ in range(runs):
                outbox.append(await one_outbox_run())
                apprise_only.append(await one_apprise_run())
                floor.append(await one_floor_run())

        asyncio.run(all_runs())
    finally:
        stop(receiver)
    rows = [
        Row(
            "notify",
            f"{count} entries via outbox → json:// webhook",
            "deliv/s",
            Stat(outbox),
            "Apprise alone",
            Stat(apprise_only),
            better="higher",
        ),
        Row(
            "notify",
            f"{count} entries via outbox → json:// webhook",
            "deliv/s",
            Stat(outbox),
            "aiohttp POST",
            Stat(floor),
            better="higher",
        ),
    ]
    return rows, {"count": count, "url": url}
