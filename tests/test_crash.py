"""kill -9 while entries flow: nothing lost, at most one repeat per kill."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tests.conftest import HfApi, Receiver, hf_items
from tests.test_run import free_port

PAPERS = 150


def many_papers() -> list[dict[str, object]]:
    base = hf_items()
    items = []
    for n in range(PAPERS):
        item = copy.deepcopy(base[n % len(base)])
        item["paper"]["id"] = f"2605.{n:05d}"
        item["paper"]["title"] = f"Paper number {n:03d}"
        items.append(item)
    return items


def test_sigkill_during_delivery_loses_nothing_and_repeats_at_most_one_per_kill(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver
) -> None:
    hf_api.items = many_papers()
    slow = receiver.handle
    arrived = threading.Condition()

    def handle_slowly(request):  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        response = slow(request)
        with arrived:
            arrived.notify_all()
        return response

    def wait_for_deliveries(count: int, timeout: float = 60) -> None:
        with arrived:
            assert arrived.wait_for(lambda: len(receiver.received) >= count, timeout), (
                f"only {len(receiver.received)} of {count} deliveries arrived in {timeout} s"
            )

    receiver.server.clear()
    receiver.server.expect_request("/hook").respond_with_handler(handle_slowly)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[storage]
path = "data"
[server]
port = {free_port()}
[[sources]]
name = "hf-daily"
kind = "hf_papers"
base_url = "{hf_api.base_url}"
first_run = "notify"
interval = "1h"
[[targets]]
name = "hook"
url = "{receiver.url()}"
""")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )

    kills = 0
    for _ in range(4):  # kill each run once it has delivered 15 more: always mid-delivery
        proc = start()
        wait_for_deliveries(len(receiver.received) + 15)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    assert 0 < len(set(receiver.titles)) < PAPERS, "the kills should land mid-delivery"

    proc = start()
    try:
        with arrived:
            arrived.wait_for(lambda: len(set(receiver.titles)) >= PAPERS, 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    counts = Counter(receiver.titles)
    assert set(counts) == {f"Paper number {n:03d}" for n in range(PAPERS)}, "an entry was lost"
    repeats = sum(c - 1 for c in counts.values())
    print(f"\ncrash: {kills} SIGKILLs, {len(receiver.received)} deliveries, {repeats} repeats")
    assert repeats <= kills, f"{repeats} repeats for {kills} kills"
    # order per target holds: each title first arrives in the order it was queued
    first_seen = list(dict.fromkeys(receiver.titles))
    assert first_seen == sorted(first_seen, key=lambda t: first_seen.index(t))
