"""What `feedbridge run` runs: the HTTP server and the worker in one event loop, the stored
feeds served before any poll, both stopped together on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows
    uvloop = None  # type: ignore[assignment]

from feedbridge.app.reload import Reloader, with_page_sources
from feedbridge.app.runtime import Runtime, runtime, source_infos
from feedbridge.app.server import HEARTBEAT_STALE, create_app
from feedbridge.app.web import pages_app
from feedbridge.config import Config
from feedbridge.core.errors import StoreError
from feedbridge.store import SourceState, Store

log = logging.getLogger("feedbridge")
GC_YOUNG = 50_000  # allocations between young collections (Python: 700)


def serve(config: Config, open_store: Callable[[], Store], path: Path | None = None) -> None:
    """Run until SIGTERM/SIGINT, reloading `path` (the config file) and the page-made sources
    on SIGHUP or a change; `open_store` is called once the event loop runs."""
    if uvloop is not None:
        uvloop.run(_run(config, open_store, path))
    else:  # pragma: no cover - Windows
        asyncio.run(_run(config, open_store, path))


def _shown_state(store: Store, name: str) -> SourceState | None:
    """A source's state for the index page; None (shown "pending") before its first poll."""
    state = store.source_state(name)
    return state if state.last_poll is not None else None


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: feedbridge stops server and worker together.
    `up` is set once it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _run(config: Config, open_store: Callable[[], Store], path: Path | None) -> None:
    store = open_store()
    try:
        config, problems = with_page_sources(path, config, store)
    except StoreError as exc:  # the file's sources run; the page-made ones after a reload
        log.error("reading the page-made sources failed", extra={"error": str(exc)})
        problems = [str(exc)]
    async with runtime(config, store) as rt:
        reloader = Reloader(path, rt, problems)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reloader.soon, "SIGHUP")
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(reloader.watch(stop))]
        server: _Server | None = None
        if config.server.enabled:
            server = _server(config, rt, pages_app(rt, reloader))
            tasks.append(asyncio.create_task(server.serve()))
            _log_serving(config)
            # the stored feeds are served first; then every source's schedule is read
            up = asyncio.create_task(server.up.wait())
            await asyncio.wait([up, tasks[-1]], return_when=asyncio.FIRST_COMPLETED)
            up.cancel()
            await rt.metrics.settle()  # every source's series, between the first requests
        _tune_gc()
        work = rt.worker.run_forever if config.worker.enabled else rt.worker.serve_only
        tasks.append(asyncio.create_task(work(stop)))
        await stop.wait()
        log.info("stopping")
        if rt.browser is not None:  # a page load in progress is cancelled, not waited for
            await rt.browser.aclose()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def _server(config: Config, rt: Runtime, pages: ASGIApp) -> _Server:
    """The HTTP server on the runtime's board and store, with the web pages; healthy while the
    worker beats and the store answers."""
    token = config.server.token.get_secret_value() if config.server.token else None

    def alive() -> bool:
        if time.time() - rt.worker.heartbeat > HEARTBEAT_STALE:
            return False
        try:
            rt.store.ping()
        except StoreError:
            return False
        return True

    app = create_app(
        rt.board,
        lambda: source_infos(rt.publisher.sources.values()),
        base_url=config.server.base_url,
        token=token,
        alive=alive,
        source_state=lambda name: _shown_state(rt.store, name),
        metrics=rt.metrics,
        pages=pages,
    )
    return _Server(
        uvicorn.Config(
            app,
            host=config.server.host,
            port=config.server.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,  # a slow reader must not hold up the stop
        )
    )


def _log_serving(config: Config) -> None:
    if config.server.base_url_derived:
        log.info(
            "server.base_url not set: feed links use the server's address; set it to "
            "the address your readers use",
            extra={"base_url": config.server.base_url},
        )
    log.info(
        "serving",
        extra={
            "url": f"http://{config.server.host}:{config.server.port}",
            "feeds": f"{config.server.base_url}/feeds/",
        },
    )


def _tune_gc() -> None:
    """Set up the collector for a long run, once start-up is done."""
    gc.collect()
    gc.freeze()  # imports and configured sources live for good: out of full collections
    # A poll's parse tree and entries live for thousands of allocations: collected young
    # at 700 they were promoted and traversed again by the older generations' collections.
    gc.set_threshold(GC_YOUNG, 20, 20)
