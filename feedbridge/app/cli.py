"""The commands (run, once, check, healthcheck, preview, detect, notify-test, export-opml,
export-config): parse the flags, call the runtime, print what an operator reads. Wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import httpx

from feedbridge.app.detection import json_report, summary, text_report
from feedbridge.app.operations import (
    AppriseLog,
    as_flags,
    check_port,
    check_store,
    connection_detail,
    exit_leaving_abandoned_threads,
    once_exit_code,
    page_sources_report,
)
from feedbridge.app.pages import opml
from feedbridge.app.preview import preview as fetch_preview
from feedbridge.app.preview import report
from feedbridge.app.reload import with_page_sources
from feedbridge.app.runtime import (
    build_sources,
    channels,
    http_settings,
    open_config_store,
    runtime,
    source_infos,
    sources,
)
from feedbridge.config import (
    Config,
    SourceConfig,
    TargetConfig,
    adhoc_source_config,
    load_config,
    read_toml,
    redacted_summary,
    secret_fragments,
    sources_toml,
)
from feedbridge.core.errors import (
    EXIT_BUSY,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_SERVER,
    EXIT_STORE,
    ConfigError,
    FeedbridgeError,
    ServerError,
    StoreError,
)
from feedbridge.core.logs import setup_logging
from feedbridge.core.models import Entry
from feedbridge.core.wording import plural
from feedbridge.fetch.browser import BrowserSettings, BrowserUnavailable, describe_browser
from feedbridge.messages.check import SAMPLE_ENTRY
from feedbridge.messages.templates import entry_message
from feedbridge.notify.channel import TargetChannel, describe_urls
from feedbridge.notify.outbox import queue_report
from feedbridge.sources import Source, build_source
from feedbridge.store import Store, open_store
from feedbridge.store.embedded import open_embedded
from feedbridge.store.embedded.owner import DirectoryOwner, Holder

log = logging.getLogger("feedbridge")


def _store_or_exit(config: Config) -> Store:
    """The configured store; one that cannot be opened ends the command with EXIT_STORE."""
    try:
        return open_config_store(config)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_STORE)


def resolve_config_path(option: str | None) -> Path | None:
    """--config, else $FEEDBRIDGE_CONFIG, else ./config.toml if present, else the defaults."""
    chosen = option or os.environ.get("FEEDBRIDGE_CONFIG")
    if chosen:
        return Path(chosen)
    local = Path("config.toml")
    return local if local.is_file() else None


def _load(option: str | None) -> Config:
    path = resolve_config_path(option)
    try:
        config = load_config(path)
        try:
            build_sources(config)  # selectors are compiled here, once: the runtime reuses them
        except ConfigError as exc:
            raise ConfigError(exc.problems, str(path) if path else None) from None
        return config
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_CONFIG)


@click.group()
@click.version_option(package_name="feedbridge", message="feedbridge %(version)s")
@click.option(
    "--config",
    "-c",
    "config_path",
    envvar="FEEDBRIDGE_CONFIG",
    default=None,
    help="Config file (default: ./config.toml if present, else built-in defaults).",
)
@click.option("--log-level", default=None, help="debug, info, warning or error.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """feedbridge: feeds and notifications for sites without a usable feed."""
    ctx.obj = {"config": config_path, "log_level": log_level}


def _setup(ctx: click.Context) -> Config:
    config = _load(ctx.obj["config"])
    setup_logging(ctx.obj["log_level"] or config.log_level, secret_fragments(config))
    return config


def _claim_directory(config: Config, command: str) -> tuple[DirectoryOwner | None, Holder | None]:
    """The data directory for `command`, on the embedded store: (its owner object, None) when
    taken, (None, the holder) when another process holds it. A shared store needs neither."""
    if config.storage.url is not None:
        return None, None
    owner = DirectoryOwner(config.storage.path)
    holder = owner.claim(command)
    return (owner, None) if holder is None else (None, holder)


def _own_directory_for_run(config: Config) -> DirectoryOwner | None:
    """`run` alone on its data directory: after a `once` holding it, refused beside a `run`."""
    owner, holder = _claim_directory(config, "run")
    waited = False
    while holder is not None and holder.command == "once":
        if not waited:
            log.info(
                "waiting for the data directory",
                extra={"holder": str(holder), "path": str(config.storage.path)},
            )
            waited = True
        time.sleep(0.25)
        owner, holder = _claim_directory(config, "run")
    if holder is not None:
        click.echo(
            f"error: {holder} already uses the data directory {config.storage.path}: one "
            "`feedbridge run` per directory (several processes share a PostgreSQL store: "
            "[storage] url)",
            err=True,
        )
        sys.exit(EXIT_BUSY)
    return owner


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Poll every source on its schedule and serve the feeds, until SIGTERM.

    Exit status: 2 config, 3 store, 4 the server cannot listen on its address, 5 another
    `run` uses the data directory.
    """
    config = _setup(ctx)
    from feedbridge.app.runner import serve  # uvicorn and uvloop load for `run` only

    owner = _own_directory_for_run(config)
    try:
        abandoned = serve(
            config, lambda: _store_or_exit(config), resolve_config_path(ctx.obj["config"])
        )
    except ServerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_SERVER)
    finally:
        if owner is not None:
            owner.release()
    exit_leaving_abandoned_threads(abandoned)


@main.command()
@click.pass_context
def once(ctx: click.Context) -> None:
    """Run one poll cycle and one delivery round, then exit (for cron).

    Exit status: 0 all went well, 1 a source or a delivery failed, 2 config, 3 store.
    Beside a `run` on the same data directory it polls and leaves delivery to that `run`.
    """
    config = _setup(ctx)
    owner, holder = _claim_directory(config, "once")

    async def cycle() -> int:
        store = _store_or_exit(config)
        merged, problems = with_page_sources(resolve_config_path(ctx.obj["config"]), config, store)
        for problem in problems:
            click.echo(f"page-made source left out: {problem}", err=True)
        async with runtime(merged, store) as rt:
            reports = await rt.worker.run_once(deliver=holder is None)
            for r in reports:
                status = "ok"
                if not r.ok:
                    status = f"error: {r.error}"
                elif r.warning:
                    status = f"warning: {r.warning}"
                skipped = f"skipped {r.skipped}, " if r.skipped else ""
                counts = f"{plural(r.entries, 'entry')}, {r.new} new, {r.queued} queued, "
                if r.unchanged:
                    counts = "unchanged since the last poll, "
                click.echo(f"{r.source}: {counts}{skipped}{r.seconds * 1000:.0f} ms, {status}")
            if holder is not None:
                serves = ", and serves the new feeds within seconds" * (holder.command == "run")
                click.echo(
                    f"deliveries: left to {holder}, which holds the data directory "
                    f"{config.storage.path}{serves}"
                )
                return once_exit_code(reports, rt.worker.last_round)
            for channel in rt.notifier.channels.values():
                line = queue_report(channel, rt.store, time.time())
                if line:
                    click.echo(line)
            return once_exit_code(reports, rt.worker.last_round)

    try:
        code = asyncio.run(cycle())
    finally:
        if owner is not None:
            owner.release()
    sys.exit(code)


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config (all errors at once), print it with secrets masked, check the store."""
    config = _load(ctx.obj["config"])
    click.echo(redacted_summary(config, describe_urls))
    try:
        for line in check_store(config):
            click.echo(line)
        for line in page_sources_report(config, resolve_config_path(ctx.obj["config"])):
            click.echo(line)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_STORE)
    except ConfigError as exc:
        click.echo(f"the sources made on the web page do not fit the config file: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if warning := check_port(config):
        click.echo(f"warning: {warning}")
    if config.uses_browser or config.browser.executable or config.browser.cdp_url:
        mask = config.secrets.mask  # a cdp_url may carry a token
        try:
            browser = describe_browser(config.browser.executable, config.browser.cdp_url)
            click.echo(f"browser: {mask(browser)}")
        except BrowserUnavailable as exc:
            if config.uses_browser:
                said = mask(str(exc))
                click.echo(f'error: fetch = "browser" sources, but no browser: {said}', err=True)
                sys.exit(EXIT_FAILED)
            click.echo(f"browser: none ({mask(str(exc))})")
    click.echo("config ok")


@main.command()
@click.option("--timeout", default=4.0, show_default=True, help="Seconds to wait for /healthz.")
@click.pass_context
def healthcheck(ctx: click.Context, timeout: float) -> None:
    """Exit 0 if the running feedbridge answers /healthz on the configured port (Docker's
    HEALTHCHECK), else 1. With the server off there is nothing to probe: it says so, exits 0."""
    config = _load(ctx.obj["config"])
    server = config.server
    if not server.enabled:
        click.echo("server.enabled = false: no /healthz to probe; healthy while the process runs")
        return
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(server.host, server.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{server.port}/healthz"
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        click.echo(f"unhealthy: {url}: {exc or type(exc).__name__}", err=True)
        sys.exit(EXIT_FAILED)
    if response.status_code != 200:
        click.echo(f"unhealthy: {url} answered {response.status_code}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"ok: {url}")


@main.command("export-opml")
@click.pass_context
def export_opml(ctx: click.Context) -> None:
    """Print an OPML list of every feed (the page-made ones too), for import into a reader."""
    config = _load(ctx.obj["config"])
    token = config.server.token.get_secret_value() if config.server.token else None
    found = sources(config)
    if config.storage.url is not None or config.storage.path.is_dir():
        # the page-made sources, and upstream titles and site links learnt by past polls
        with contextlib.suppress(StoreError), contextlib.closing(open_store(config.storage)) as st:
            path = resolve_config_path(ctx.obj["config"])
            found = sources(with_page_sources(path, config, st)[0])
            states = st.source_states([source.name for source in found])
            for source in found:
                source.restore_identity(dict(states[source.name].upstream))
    sys.stdout.write(opml(config.server.base_url, source_infos(found), token).decode())


@main.command("export-config")
@click.pass_context
def export_config(ctx: click.Context) -> None:
    """Print every source as TOML [[sources]] tables: the config file's as written (${ENV}
    references kept), then those made on the web page (kept in the store)."""
    config = _load(ctx.obj["config"])
    path = resolve_config_path(ctx.obj["config"])
    default = {"sources": [{"name": "hf-daily", "kind": "hf_papers"}]}
    raw = read_toml(path) if path is not None else default
    page: list[dict[str, Any]] = []
    if config.storage.url is not None or config.storage.path.is_dir():
        try:
            with contextlib.closing(open_store(config.storage)) as store:
                page = [dict(p.table) for p in store.page_sources()]
        except StoreError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_STORE)
    click.echo(f"# from {path or 'the built-in defaults'}")
    click.echo(sources_toml(raw.get("sources", [])))
    if page:
        click.echo("# made on the web page (kept in the store)")
        click.echo(sources_toml(page))


@main.command("notify-test")
@click.argument("target")
@click.pass_context
def notify_test(ctx: click.Context, target: str) -> None:
    """Send a sample entry through TARGET and print each URL's result."""
    config = _setup(ctx)
    try:
        chosen = next(c for c in channels(config) if c.name == target)
    except StopIteration:
        known = _names("target", config.targets)
        click.echo(f"error: no target named {target!r}; {known}", err=True)
        sys.exit(EXIT_CONFIG)
    sample = replace(SAMPLE_ENTRY, link=config.server.base_url, extras={})
    results = asyncio.run(_send_each(chosen, sample))
    shown = chosen.describe()
    for index, reason in sorted(results.items()):
        url, how = shown[index]
        click.echo(f"{url} ({how}): {'ok' if reason is None else 'FAILED: ' + reason}")
    sys.exit(0 if all(r is None for r in results.values()) else 1)


async def _send_each(channel: TargetChannel, sample: Entry) -> dict[int, str | None]:
    """`sample` to each URL of `channel`; a connection error's reason says where and why
    (Apprise's warning names the host only: the port and the cause are in its debug log)."""
    results: dict[int, str | None] = {}
    for index, dialect in enumerate(channel.dialects):
        with AppriseLog() as captured:
            reason = await channel.send(index, entry_message(sample, dialect, channel.templates))
        if reason is not None and (detail := connection_detail(captured.lines)):
            reason = f"{reason} ({detail})"
        results[index] = reason
    return results


@main.command()
@click.argument("source", required=False)
@click.option("--url", help="Ad hoc: the page to read (instead of a configured SOURCE).")
@click.option(
    "--kind",
    type=click.Choice(["html", "feed", "json"]),
    default="html",
    show_default=True,
    help="Ad hoc: how to read the page.",
)
@click.option(
    "--fetch",
    type=click.Choice(["http", "browser"]),
    default=None,
    help="Ad hoc html: load the page in headless Chromium (default http).",
)
@click.option("--wait-for", help="Ad hoc, browser: CSS selector to wait for (default --item).")
@click.option("--item", help="Ad hoc: CSS selector (html) or JMESPath (json) of each item.")
@click.option("--title", help="Ad hoc: selector of the title.")
@click.option("--link", help="Ad hoc: selector of the link (selector@href).")
@click.option("--summary", help="Ad hoc: selector of the summary.")
@click.option("--content", help="Ad hoc: selector of the content.")
@click.option("--date", help="Ad hoc: selector of the date (time@datetime).")
@click.option("--author", help="Ad hoc: selector of the author.")
@click.option("--image", help="Ad hoc: selector of the image (img@src).")
@click.option("--score", help="Ad hoc: selector of the score.")
@click.option("--id", "id_", help="Ad hoc: selector of a stable id.")
@click.pass_context
def preview(
    ctx: click.Context,
    /,
    source: str | None,
    url: str | None,
    kind: str,
    item: str | None,
    id_: str | None,
    fetch: str | None,
    wait_for: str | None,
    **fields: str | None,
) -> None:
    """Fetch SOURCE (or --url with selectors) once and show what it extracts.

    The store is not written: use this to build selectors, then copy them into
    the config.
    """
    config: Config | None = None
    if url is None:
        config = _setup(ctx)
        src = _configured_source(config, source)
    else:
        setup_logging(ctx.obj["log_level"] or "warning")
        extra = {**fields, "id": id_, "fetch": fetch, "wait_for": wait_for}
        src = _adhoc_source(source, url, kind, item, extra)
    try:
        shown = asyncio.run(fetch_preview(src, config))
    except FeedbridgeError as exc:
        click.echo(f"error: {src.mask(str(exc))}", err=True)
        sys.exit(1)
    state = None
    if config is not None and config.storage.path.is_dir():
        with contextlib.suppress(StoreError), open_embedded(config.storage.path) as store:
            state = store.source_state(src.name)
    click.echo(report(shown, state))
    if shown.result.warning or (src.kind in ("html", "json") and shown.result.items == 0):
        sys.exit(EXIT_FAILED)  # as `once` does: the item selector matched nothing


def _names(kind: str, tables: Sequence[SourceConfig] | Sequence[TargetConfig]) -> str:
    """The configured names of `kind`, for an error about one that does not exist."""
    if not tables:
        return f"the config has no {kind}s"
    return f"the config's {kind}s: {', '.join(t.name for t in tables)}"


def _configured_source(config: Config, name: str | None) -> Source:
    """SOURCE from the config, built; a missing or unbuildable one ends with EXIT_CONFIG."""
    if name is None:
        raise click.UsageError("give a SOURCE from the config, or --url and --item")
    try:
        source_config: Any = config.source(name)
    except KeyError:
        known = _names("source", config.sources)
        click.echo(f"error: no source named {name!r}; {known}", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        return build_source(source_config)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_CONFIG)


def _adhoc_source(
    name: str | None, url: str, kind: str, item: str | None, extra: dict[str, str | None]
) -> Source:
    """A source from --url and the selector flags; errors are worded as flags."""
    if kind != "feed" and item is None:
        raise click.UsageError(f"--item is required with --kind {kind}")
    table: dict[str, Any] = {"name": name or "preview", "kind": kind, "url": url}
    if kind != "feed":
        table["item" if kind == "html" else "items"] = item
    table.update({k: v for k, v in extra.items() if v is not None})
    try:
        return build_source(adhoc_source_config(table))
    except ConfigError as exc:
        click.echo(as_flags(exc, kind), err=True)
        sys.exit(EXIT_CONFIG)


@main.command()
@click.argument("url")
@click.option(
    "--fetch",
    type=click.Choice(["http", "browser"]),
    default="http",
    show_default=True,
    help="browser: load the page in headless Chromium first (pages built by scripts).",
)
@click.option("--wait-for", help="With --fetch browser: CSS selector to wait for.")
@click.option("--all", "every", is_flag=True, help="Print every candidate list, best first.")
@click.option("--json", "as_json", is_flag=True, help="Print everything found as JSON.")
@click.option("--name", help="The source's name (default: from the URL).")
@click.pass_context
def detect(
    ctx: click.Context,
    url: str,
    fetch: str,
    wait_for: str | None,
    every: bool,
    as_json: bool,
    name: str | None,
) -> None:
    """Find the lists of entries on URL and print a [[sources]] block that reads the best.

    It tries, in order, a feed the page advertises, structured data (JSON-LD, microdata,
    microformats, embedded app state) and the page's repeating structure, and checks that
    the printed source yields the entries it found. Exit status 1 when the page has no list.
    """
    from feedbridge.detect import detect_url, source_name
    from feedbridge.detect.detector import Fetch

    setup_logging(ctx.obj["log_level"] or "warning")
    config = _load(ctx.obj["config"]) if ctx.obj["config"] else None
    http = http_settings(config) if config is not None else None
    browser = BrowserSettings.from_config(config) if config is not None else None
    mode: Fetch = "browser" if fetch == "browser" else "http"
    try:
        detection = asyncio.run(
            detect_url(url, fetch=mode, http=http, browser=browser, wait_for=wait_for)
        )
    except (FeedbridgeError, BrowserUnavailable) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    chosen = name or source_name(url)
    if as_json:
        click.echo(json_report(detection, chosen))
    elif detection.best is not None or (every and detection.candidates):
        click.echo(text_report(detection, chosen, every))
    click.echo(summary(detection), err=True)
    sys.exit(0 if detection.best is not None else EXIT_FAILED)
