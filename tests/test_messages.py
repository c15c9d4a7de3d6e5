"""Golden messages: the exact title and body a webhook receives, per format and kind.

Each file under tests/data/messages/ is what a receiver got, read by eye once. After a
deliberate change to a template, regenerate them with `FEEDBRIDGE_GOLDEN=update pytest
tests/test_messages.py` and read the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedbridge.config import adhoc_source_config
from feedbridge.core.durations import parse_digest
from feedbridge.core.models import Entry, HealthEvent, Page
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier
from feedbridge.sources import build_source
from feedbridge.sources.hf_artifacts import Followed, PaperFollower
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import entry_notice
from tests.conftest import DATA, Receiver, run_cli
from tests.helpers import raise_health
from tests.test_notify import Clock, papers

GOLDEN = DATA / "messages"
FORMATS = ("text", "markdown", "html")
# Friday 2026-05-08 09:00 in Berlin: the digest below fired at 08:00 that morning.
NOW = datetime(2026, 5, 8, 7, 0, tzinfo=UTC).timestamp()


def received_as_text(message: dict[str, str]) -> str:
    return f"title: {message['title']}\n---\n{message['message']}\n"


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FEEDBRIDGE_GOLDEN") == "update" or not path.exists():
        if os.environ.get("CI") and not path.exists():
            pytest.fail(f"golden file {path} is missing")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert actual == path.read_text(), f"{name} differs (FEEDBRIDGE_GOLDEN=update rewrites it)"


def tricky(entry: Entry) -> Entry:
    """An entry whose title and authors need escaping and non-ASCII care."""
    return replace(
        entry,
        key="tricky",
        title="Café & <b>Crème</b>: agents that plan 🚀",
        authors=("Zoë Ångström", "O'Brien & Sons"),
        score=99,
        summary="A summary with <tags> & ampersands that stays text.",
        extras={},
    )


@pytest.mark.parametrize("fmt", FORMATS)
async def test_one_entry_message(tmp_path: Path, receiver: Receiver, fmt: str) -> None:
    with Store(tmp_path) as store:
        store.enqueue([entry_notice("hook", papers(1)[0], NOW)], NOW)
        await Notifier([TargetChannel("hook", [receiver.url()], format=fmt)], store).deliver()
    (message,) = receiver.received
    assert_golden(f"entry.{fmt}.txt", received_as_text(message))


@pytest.mark.parametrize("fmt", FORMATS)
async def test_digest_message(tmp_path: Path, receiver: Receiver, fmt: str) -> None:
    clock = Clock(NOW - 86400)
    channel = TargetChannel(
        "hook",
        [receiver.url()],
        format=fmt,
        digest=parse_digest("daily 08:00 Europe/Berlin"),
        top=3,
    )
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()  # the first round starts the digest's period
        for entry in [*papers(3), tricky(papers(1)[0])]:
            store.enqueue([entry_notice("hook", entry, clock.now)], clock.now)
        clock.now = NOW
        await notifier.deliver()
    (message,) = receiver.received
    assert_golden(f"digest.{fmt}.txt", received_as_text(message))


@pytest.mark.parametrize("fmt", FORMATS)
async def test_health_alert_message(tmp_path: Path, receiver: Receiver, fmt: str) -> None:
    event = HealthEvent(
        "source hf-daily",
        "failing",
        "source hf-daily failing: HTTP 503 from https://huggingface.co/api/daily_papers",
        datetime(2026, 5, 8, 7, 0, tzinfo=UTC),
    )
    with Store(tmp_path) as store:
        notifier = Notifier(
            [TargetChannel("ops", [receiver.url()], format=fmt, health=True)], store
        )
        raise_health(notifier, event)
        await notifier.deliver()
    (message,) = receiver.received
    assert_golden(f"health.{fmt}.txt", received_as_text(message))


@pytest.mark.parametrize("fmt", FORMATS)
def test_notify_test_message(tmp_path: Path, receiver: Receiver, fmt: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "data"}"\n'
        '[server]\nbase_url = "https://feeds.example.org"\n'
        f'[[targets]]\nname = "hook"\nurl = "{receiver.url()}"\nformat = "{fmt}"\n'
    )
    result = run_cli("--config", str(config), "notify-test", "hook", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": ok")
    (message,) = receiver.received
    assert_golden(f"notify-test.{fmt}.txt", received_as_text(message))


def hub_entries(kind: str, fixture: str, **table: str) -> dict[str, Entry]:
    """The entries a Hub source makes of one of tests/data/hf's responses, by key."""
    source = build_source(adhoc_source_config({"name": "hub", "kind": kind, **table}))
    body = (DATA / "hf" / fixture).read_bytes()
    return {e.key: e for e in source.extract(Page("https://huggingface.co/api/x", 200, body))}


def hub_entry(name: str) -> Entry:
    collection = {"collection": "Qwen/qwen35-6821a0c3f1e2d3b4a5968778"}
    return {
        "hf-repos-model": lambda: hub_entries("hf_repos", "api_models.json")[
            "deepseek-ai/DeepSeek-Prover-V3-7B"
        ],
        "hf-repos-dataset": lambda: hub_entries("hf_repos", "api_datasets.json", type="dataset")[
            "lerobot/so101-pick-place-cubes"
        ],
        "hf-repos-space": lambda: hub_entries("hf_repos", "api_spaces.json", type="space")[
            "Qwen/Qwen-Image-Edit-Demo"
        ],
        "hf-collection-item": lambda: hub_entries(
            "hf_collection", "api_collection.json", **collection
        )["space:Qwen/Qwen-Image-Edit-Demo"],
        "hf-artifact": artifact_entry,
    }[name]()


def artifact_entry() -> Entry:
    """The alert a followed paper gives when its first model appears."""
    follower = PaperFollower("papers", "https://huggingface.co", timedelta(days=30), 20)
    paper = Followed("Continuous Latent Diffusion Language Model", NOW, upvotes=68)
    model = hub_entries("hf_repos", "api_models.json")["deepseek-ai/DeepSeek-Prover-V3-7B"]
    item = {"id": model.key, "author": "deepseek-ai", "createdAt": "2026-05-05T14:03:10.000Z",
            "likes": 87, "downloads": 2410, "pipeline_tag": "text-generation",
            "library_name": "transformers", "safetensors": {"total": 7_615_616_512}}  # fmt: skip
    return follower.alert("2605.06548", paper, "model", item, 2)


HUB_KINDS = (
    "hf-repos-model",
    "hf-repos-dataset",
    "hf-repos-space",
    "hf-collection-item",
    "hf-artifact",
)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", HUB_KINDS)
async def test_hub_entry_message(tmp_path: Path, receiver: Receiver, kind: str, fmt: str) -> None:
    with Store(tmp_path) as store:
        store.enqueue([entry_notice("hook", hub_entry(kind), NOW)], NOW)
        await Notifier([TargetChannel("hook", [receiver.url()], format=fmt)], store).deliver()
    (message,) = receiver.received
    assert_golden(f"{kind}.{fmt}.txt", received_as_text(message))


@pytest.mark.parametrize("fmt", FORMATS)
async def test_hub_digest_message(tmp_path: Path, receiver: Receiver, fmt: str) -> None:
    clock = Clock(NOW - 86400)
    channel = TargetChannel(
        "hook",
        [receiver.url()],
        format=fmt,
        digest=parse_digest("daily 08:00 Europe/Berlin"),
        top=3,
    )
    models = hub_entries("hf_repos", "api_models.json")
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        for entry in list(models.values())[:4]:
            store.enqueue([entry_notice("hook", entry, clock.now)], clock.now)
        clock.now = NOW
        await notifier.deliver()
    (message,) = receiver.received
    assert_golden(f"hf-repos-digest.{fmt}.txt", received_as_text(message))


def test_every_golden_file_is_checked() -> None:
    kinds = ("entry", "digest", "health", "notify-test", *HUB_KINDS, "hf-repos-digest")
    expected = {f"{kind}.{fmt}.txt" for kind in kinds for fmt in FORMATS}
    expected |= {"email-entry.text-part.txt", "email-digest.text-part.txt"}
    expected |= {"digest.slack.json", "digest.discord.json"}  # tests/test_chat_receivers.py
    assert {p.name for p in GOLDEN.iterdir()} == expected
