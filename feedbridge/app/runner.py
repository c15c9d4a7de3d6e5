"""What `feedbridge run` runs: the HTTP server and the worker in one event loop, the stored
feeds served before any poll, both stopped together on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import errno
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

from feedbridge.app.guard import KEEP_ALIVE, guarded_protocol
from feedbridge.app.pages import shown_states
from feedbridge.app.reload import Reloader, with_page_sources
from feedbridge.app.runtime import Runtime, runtime, source_infos
from feedbridge.app.server import HEARTBEAT_STALE, create_app
from feedbridge.app.web import pages_app
from feedbridge.config import Config
from feedbridge.core.errors import ServerError, StoreError
from feedbridge.store import Store

log = logging.getLogger("feedbridge")
GC_YOUNG = 50_000  # allocations between young collections (Python: 700)
PING_WAIT = 0.8  # seconds /healthz waits for the store: it answers within a second


def serve(
    config: Config, open_store: Callable[[], Store], path: Path | None = None
) -> list[str]:
    """Run until SIGTERM/SIGINT, reloading `path` (the config file) and the page-made sources
    on SIGHUP or a change; `open_store` is called once the event loop runs. Returns
    the sends cancelled at the stop while Apprise's thread still ran them. Raises
    ServerError, before anything starts, when the server cannot listen on its address."""
    sock = listen(config.server.host, config.server.port) if config.server.enabled else None
    try:
        if uvloop is not None:
            return uvloop.run(_run(config, open_store, sock, path))
        return asyncio.run(_run(config, open_store, sock, path))  # pragma: no cover - Windows
    finally:
        if sock is not None:
            sock.close()


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` (uvicorn serves on it), or a ServerError that names the
    address and the key to change: one line, instead of uvicorn's traceback after "serving"."""
    where = f"{host or '*'}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ServerError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (another feedbridge run?); set [server] port to a free one"
        elif exc.errno == errno.EACCES:
            reason = "not allowed (ports below 1024 need privileges); set [server] port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = "no such address on this machine; check [server] host"
        raise ServerError(f"cannot listen on {where} ([server] host and port): {reason}") from exc
    return sock


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


async def _run(
    config: Config, open_store: Callable[[], Store], sock: socket.socket | None, path: Path | None
) -> list[str]:
    store = open_store()
    try:
        config, problems = with_page_sources(path, config, store)
    except StoreError as exc:  # the file's sources run; the page-made ones after a reload
        log.error("reading the page-made sources failed", extra={"error": str(exc)})
        problems = [str(exc)]
    async with runtime(config, store, offload=True) as rt:
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
            tasks.append(asyncio.create_task(server.serve(sockets=[sock] if sock else None)))
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
        return sorted(rt.notifier.abandoned)


def _server(config: Config, rt: Runtime, pages: ASGIApp | None = None) -> _Server:
    """The HTTP server on the runtime's board and store, with the web pages; healthy while the
    worker beats and the store answers (within PING_WAIT: a store that is down or slow is a
    503 at once)."""
    token = config.server.token.get_secret_value() if config.server.token else None

    async def health() -> str | None:
        if not rt.store.status.up:  # (the worker waits for it: its heartbeat may be old too)
            return rt.store.status.describe()
        stale = time.time() - rt.worker.heartbeat
        if stale > HEARTBEAT_STALE:
            return f"worker stalled: no heartbeat for {stale:.0f}s"
        try:
            await asyncio.wait_for(rt.store.probe(), PING_WAIT)
        except TimeoutError:
            return f"store did not answer within {PING_WAIT:g}s"
        except StoreError as exc:
            return rt.store.status.describe() or str(exc)
        return None

    app = create_app(
        rt.board,
        lambda: source_infos(rt.publisher.sources.values()),
        base_url=config.server.base_url,
        token=token,
        health=health,
        source_states=lambda names: shown_states(rt.store, names),
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
            http=guarded_protocol(
                config.server.max_connections, config.server.request_timeout.total_seconds()
            ),
            timeout_keep_alive=int(KEEP_ALIVE),
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
            "index": f"{config.server.base_url}/",  # every feed's address is listed there
        },
    )


def _tune_gc() -> None:
    """Set up the collector for a long run, once start-up is done."""
    gc.collect()
    gc.freeze()  # imports and configured sources live for good: out of full collections
    # A poll's parse tree and entries live for thousands of allocations: collected young
    # at 700 they were promoted and traversed again by the older generations' collections.
    gc.set_threshold(GC_YOUNG, 20, 20)
