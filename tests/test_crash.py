"""kill -9 while entries flow: nothing lost, at most one repeat per kill."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

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


def storage_toml(request: pytest.FixtureRequest, backend: str) -> str:
    """The `[storage]` table for `backend`: the embedded directory, or a fresh PostgreSQL."""
    if backend == "embedded":
        return '[storage]\npath = "data"\n'
    return f'[storage]\nurl = "{request.getfixturevalue("pg_url")}"\nlease = "5s"\n'


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "backend", ["embedded", pytest.param("postgresql", marks=pytest.mark.slow)]
)
def test_sigkill_during_delivery_loses_nothing_and_repeats_at_most_one_per_kill(
    tmp_path: Path, hf_api: HfApi, receiver: Receiver, request: pytest.FixtureRequest, backend: str
) -> None:
    hf_api.items = many_papers()
    slow = receiver.handle

    def handle_slowly(request):  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        return slow(request)

    receiver.server.clear()
    receiver.server.expect_request("/hook").respond_with_handler(handle_slowly)
    config = tmp_path / "config.toml"
    config.write_text(f"""
{storage_toml(request, backend)}
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
    for more in (3, 20, 35, 50):  # each life is killed once it delivered a few more
        proc = start()
        before = len(receiver.titles)
        wait_until(lambda: len(receiver.titles) >= before + more, 60)  # noqa: B023
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if len(set(receiver.titles)) == PAPERS:
            break
    assert 0 < len(set(receiver.titles)) < PAPERS, "the kills should land mid-delivery"

    proc = start()
    try:
        deadline = time.monotonic() + 60
        while len(set(receiver.titles)) < PAPERS and time.monotonic() < deadline:
            time.sleep(0.2)
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
