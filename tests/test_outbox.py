"""The outbox from the receiving end: whose rows a target sees, per-URL progress, retry window."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.core.durations import parse_digest
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.outbox import Notifier, queue_report
from feedbridge.store import EmbeddedStore as Store
from feedbridge.store import Notice, TargetState, entry_notice
from feedbridge.store.embedded import target_segment
from tests.conftest import HfApi, run_cli
from tests.test_notify import Clock, papers

T0 = 1_778_220_000.0  # 2026-05-08 06:00 UTC


@dataclass
class Hooks:
    """Webhook endpoints by path; `down` paths answer 500. Records (path, title, body)."""

    server: HTTPServer
    down: set[str] = field(default_factory=set)
    got: list[tuple[str, str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.server.port}/{path}"

    def handle(self, request: Request) -> Response:
        path = request.path.strip("/")
        if path in self.down:
            return Response("down", status=500)
        data = json.loads(request.get_data())
        self.got.append((path, data["title"], data["message"]))
        return Response("ok")

    def titles(self, path: str) -> list[str]:
        return [t for p, t, _ in self.got if p == path]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    hooks = Hooks(server)
    for path in ("a", "b", "mail", "mail-digest"):
        server.expect_request(f"/{path}").respond_with_handler(hooks.handle)
    yield hooks
    server.clear()
    server.stop()


names = st.text(
    alphabet=st.sampled_from(["a", "b", "-", ":", "%", "é", "日", "_", "2"]), min_size=1, max_size=6
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(targets=st.lists(names, min_size=2, max_size=5, unique=True))
def test_each_target_sees_only_its_own_rows_whatever_the_names(
    tmp_path_factory: pytest.TempPathFactory, targets: list[str]
) -> None:
    with Store(tmp_path_factory.mktemp("store")) as store:
        for target in targets:
            for n in range(2):
                payload = {"for": target, "n": n}
                store.enqueue([Notice(target, "entry", f"s:{n}", payload)], 0.0)
        for target in targets:
            rows = store.pending(target)
            assert [(r.payload["for"], r.payload["n"]) for r in rows] == [(target, 0), (target, 1)]
            assert store.pending_count(target) == 2
            store.settle(target, TargetState(), failed=rows[:1], reason="x")
            assert len(store.failed(target)) == 1


def test_target_segments_never_contain_the_separators() -> None:
    for name in ("mail", "mail-digest", "a:b", "日本", "100%"):
        segment = target_segment(name)
        assert "-" not in segment and ":" not in segment and segment.isascii()


def test_rows_queued_under_the_old_keys_are_kept_and_renamed(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        cache = store._cache
        old = {"type": "entry", "entry": papers(1)[0].to_dict(), "queued_at": 5.0, "attempts": 2}
        cache.push(old, prefix="outbox:mail-digest")
        cache.push(old, prefix="outbox:mail")
        cache.delete("meta:outbox_keys")
    with Store(tmp_path) as store:
        (row,) = store.pending("mail-digest")
        assert (row.kind, row.attempts, row.payload["key"]) == ("entry", 2, "2605.05242")
        assert store.pending_count("mail") == 1


async def test_a_target_does_not_drain_the_queue_of_a_target_it_prefixes(
    tmp_path: Path, hooks: Hooks
) -> None:
    clock = Clock(T0)
    mail = TargetChannel("mail", [hooks.url("mail")])
    digest = TargetChannel(
        "mail-digest", [hooks.url("mail-digest")], digest=parse_digest("daily 08:00")
    )
    entries = papers(16)
    with Store(tmp_path) as store:
        notifier = Notifier([mail, digest], store, clock=clock)
        await notifier.deliver()
        for e in entries[:5]:
            store.enqueue([entry_notice("mail", e, clock.now)], clock.now)
        for e in entries[5:]:
            store.enqueue([entry_notice("mail-digest", e, clock.now)], clock.now)
        await notifier.deliver()
        assert hooks.titles("mail") == [e.title for e in entries[:5]]
        assert store.pending_count("mail-digest") == 11
        clock.now += 2 * 3600  # 08:00 UTC: the digest is due
        await notifier.deliver()
    assert hooks.titles("mail") == [e.title for e in entries[:5]]
    assert hooks.titles("mail-digest") == ["11 new papers · 2026-05-08"]


async def test_a_digest_to_two_urls_reaches_each_once_when_one_fails_for_a_while(
    tmp_path: Path, hooks: Hooks
) -> None:
    clock = Clock(T0)
    channel = TargetChannel(
        "both",
        [hooks.url("a"), hooks.url("b")],
        digest=parse_digest("0 * * * *"),  # hourly
    )
    entries = papers(8)
    hooks.down.add("b")
    with Store(tmp_path) as store:
        notifier = Notifier([channel], store, clock=clock)
        await notifier.deliver()
        for e in entries[:3]:
            store.enqueue([entry_notice("both", e, clock.now)], clock.now)
        clock.now += 3600
        await notifier.deliver()  # a takes 1-3, b fails
        (progress,) = {r.done_urls for r in store.pending("both")}
        assert progress == frozenset({0})
        for e in entries[3:]:
            store.enqueue([entry_notice("both", e, clock.now)], clock.now)
        for _ in range(3):  # b stays down for a while; a owes nothing new until the next hour
            clock.now += 3600
            await notifier.deliver(respect_backoff=False)
        hooks.down.clear()
        clock.now += 3600
        await notifier.deliver(respect_backoff=False)
        assert store.pending_count("both") == 0

    def listed(path: str) -> Counter[str]:
        return Counter(line for p, _, body in hooks.got if p == path for line in body.split("\n"))

    for path in ("a", "b"):
        for e in entries:
            assert listed(path)[f"   {e.link}"] == 1, f"{e.title} reached {path} other than once"


async def test_single_messages_go_only_to_the_urls_still_owed(tmp_path: Path, hooks: Hooks) -> None:
    clock = Clock(T0)
    hooks.down.add("b")
    with Store(tmp_path) as store:
        notifier = Notifier(
            [TargetChannel("both", [hooks.url("a"), hooks.url("b")])], store, clock=clock
        )
        for e in papers(2):
            store.enqueue([entry_notice("both", e, clock.now)], clock.now)
        await notifier.deliver()
        hooks.down.clear()
        clock.now += 3600
        await notifier.deliver()
    titles = [e.title for e in papers(2)]
    assert hooks.titles("a") == titles and hooks.titles("b") == titles


async def test_an_entry_is_given_up_only_after_failing_for_its_whole_window(
    tmp_path: Path, hooks: Hooks
) -> None:
    clock = Clock(T0)
    hooks.down.add("a")
    failing = TargetChannel("hook", [hooks.url("a")], retry_window=20)
    ops = TargetChannel("ops", [hooks.url("b")], health=True)
    with Store(tmp_path) as store:
        notifier = Notifier([failing, ops], store, clock=clock)
        for e in papers(2):
            store.enqueue([entry_notice("hook", e, clock.now)], clock.now)
        clock.now += 60  # the second entry has waited past the window, untried
        await notifier.deliver(respect_backoff=False)
        rows = store.pending("hook")
        assert [r.attempts for r in rows] == [1, 0], "only the first one was tried"
        for _ in range(2):  # tried at 60, 70, 80 s: failing for the whole 20 s window
            clock.now += 10
            await notifier.deliver(respect_backoff=False)
        failed = store.failed("hook")
        assert len(failed) == 1 and failed[0].attempts == 3
        (row,) = store.pending("hook")
        assert row.attempts == 1 and row.first_attempt_at == clock.now
        for _ in range(2):
            clock.now += 10
            await notifier.deliver(respect_backoff=False)
        assert store.pending_count("hook") == 0
        assert [f.attempts for f in store.failed("hook")] == [3, 3]
    alerts = [body for path, _, body in hooks.got if path == "b"]
    assert any("gave up after 3 tries" in body for body in alerts), alerts
    assert not any("1 tries" in body or "0 tries" in body for body in alerts)


def test_once_reports_a_digest_as_waiting_not_as_missed(tmp_path: Path, hf_api: HfApi) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "data"}"\n'
        f'[[sources]]\nname = "hf-daily"\nkind = "hf_papers"\nbase_url = "{hf_api.base_url}"\n'
        'first_run = "notify"\n'
        '[[targets]]\nname = "digest"\nurl = "json://127.0.0.1:9/never"\n'
        'digest = "daily 08:00 Europe/Berlin"\n'
    )
    result = run_cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "target digest: 37 entries waiting for the digest at 08:00 Europe/Berlin" in lines
    assert not any("missed" in line or "still queued" in line for line in lines)


def test_a_failing_target_is_reported_with_its_last_error(tmp_path: Path, hooks: Hooks) -> None:
    hooks.down.add("a")
    channel = TargetChannel("hook", [hooks.url("a")])
    with Store(tmp_path) as store:
        store.enqueue([entry_notice("hook", papers(1)[0], T0)], T0)
        asyncio.run(Notifier([channel], store).deliver())
        line = queue_report(channel, store, T0)
    assert line is not None
    assert line.startswith("target hook: 1 message not delivered yet, will retry (last error: ")
    assert "error=500" in line


async def test_a_sent_message_whose_settle_fails_is_saved_later_not_sent_again(
    tmp_path: Path, hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails to take an attempt's outcome (locked, or gone for a while) after the
    message went out: the notifier writes it again until the store takes it, rather than
    leaving the row to be sent a second time."""
    from feedbridge.core.errors import StoreError
    from feedbridge.notify import outbox

    monkeypatch.setattr(outbox, "SETTLE_RETRY", 0.01)
    clock = Clock(T0)
    with Store(tmp_path) as store:
        notifier = Notifier([TargetChannel("t", [hooks.url("a")])], store, clock=clock)
        for e in papers(3):
            store.enqueue([entry_notice("t", e, clock.now)], clock.now)
        settle, failures = store.settle, [StoreError("canceling statement due to lock timeout")] * 3

        def flaky(*args: object, **kwargs: object) -> None:
            if failures:
                raise failures.pop()
            settle(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "settle", flaky)
        result = await notifier.deliver()
        await notifier.deliver()
        assert result.sent == 3 and not failures
        assert store.pending_count("t") == 0
    assert hooks.titles("a") == [e.title for e in papers(3)], "each sent once, in order"


async def test_a_long_queue_is_read_a_batch_at_a_time_and_drained_in_one_round(
    tmp_path: Path, hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedbridge.notify import outbox

    monkeypatch.setattr(outbox, "BATCH", 4)
    clock = Clock(T0)
    with Store(tmp_path) as store:
        notifier = Notifier([TargetChannel("t", [hooks.url("a")])], store, clock=clock)
        entries = papers(10)
        store.enqueue([entry_notice("t", e, clock.now) for e in entries], clock.now)
        claimed: list[int] = []
        claim = store.claim_due

        def counted(*args: object, **kwargs: object) -> list[object]:
            rows = claim(*args, **kwargs)  # type: ignore[arg-type]
            claimed.append(len(rows))
            return rows  # type: ignore[return-value]

        monkeypatch.setattr(store, "claim_due", counted)
        result = await notifier.deliver()
    assert result.sent == 10 and claimed == [4, 4, 2]
    assert hooks.titles("a") == [e.title for e in entries]
