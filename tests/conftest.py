"""Shared fixtures: a local HF API, a local webhook receiver, and a way to run the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DATA = Path(__file__).parent / "data"
HF_FIXTURE = DATA / "hf" / "api_daily_papers_2026-05-08.json"


def hf_items() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(HF_FIXTURE.read_text())
    return data


@dataclass
class HfApi:
    """A local stand-in for huggingface.co: today's papers-day serves `items`, others []."""

    server: HTTPServer
    items: list[dict[str, Any]] = field(default_factory=hf_items)
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def set_upvotes(self, arxiv_id: str, upvotes: int) -> None:
        for item in self.items:
            if item["paper"]["id"] == arxiv_id:
                item["paper"]["upvotes"] = upvotes
                return
        raise KeyError(arxiv_id)

    def handle(self, request: Request) -> Response:
        self.requests.append(dict(request.args))
        if self.status != 200:
            return Response("upstream trouble", status=self.status)
        today = datetime.now(UTC).date().isoformat()
        day = request.args.get("date", today)
        page = int(request.args.get("p", "0"))
        limit = int(request.args.get("limit", "100"))
        items = self.items if day == today else []
        body = json.dumps(items[page * limit : (page + 1) * limit])
        return Response(body, content_type="application/json")


@pytest.fixture
def hf_api(httpserver: HTTPServer) -> HfApi:
    api = HfApi(httpserver)
    httpserver.expect_request("/api/daily_papers").respond_with_handler(api.handle)
    return api


@dataclass
class Receiver:
    """A webhook endpoint for Apprise's json:// posts; `status` decides the answer."""

    server: HTTPServer
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"json://{self.server.host}:{self.server.port}{path}"

    def handle(self, request: Request) -> Response:
        if self.status != 200:
            return Response("nope", status=self.status)
        self.received.append(json.loads(request.get_data()))
        return Response("ok")

    @property
    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    recv = Receiver(server)
    server.expect_request("/hook").respond_with_handler(recv.handle)
    yield recv
    server.clear()
    if server.is_running():
        server.stop()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m feedbridge ARGS` as a user would, in `cwd`."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("FEEDBRIDGE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "feedbridge", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_run(config: Path, cwd: Path, *, output: bool = True) -> subprocess.Popen[str]:
    """Start `feedbridge --config CONFIG run` in `cwd`; its log on `stdout` (or discarded)."""
    sink = subprocess.PIPE if output else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
        cwd=cwd,
        stdout=sink,
        stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
        text=True,
    )


@pytest.fixture(autouse=True)
def no_apprise_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apprise sleeps between requests to one service; tests need not wait."""
    from apprise.plugins.base import NotifyBase

    monkeypatch.setattr(NotifyBase, "request_rate_per_sec", 0)


@pytest.fixture(scope="session")
def pg_server_session() -> Iterator[Any]:
    """One throwaway PostgreSQL for the whole session (started on first use)."""
    from tests.pg import pg_server

    with pg_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server_session: Any) -> str:
    """A fresh, empty database on the session's PostgreSQL."""
    url: str = pg_server_session.database()
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first, so that xdist's workers overlap them with the many short ones."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def public() -> Iterator[HTTPServer]:
    """A server on 127.0.0.2: the address-policy tests tell the policy that 127.0.0.1 alone is
    internal, so this one plays a public site (a hostile upstream, a configured page)."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()
