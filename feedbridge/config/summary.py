"""The config as `feedbridge check` prints it, its sources as TOML blocks, and its secrets for
log masking."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import tomli_w

from feedbridge.config.fields import mask_url
from feedbridge.config.models import (
    Config,
    HfCollectionConfig,
    HfPapersConfig,
    HfReposConfig,
    HtmlConfig,
    SourceConfig,
    TargetConfig,
)
from feedbridge.core.durations import (
    format_duration,
    format_size,
)
from feedbridge.core.logs import dsn_secrets, mask_dsn


def describe_source(source: SourceConfig) -> str:
    """One source in one line, as `check` prints it (the URL without query or password)."""
    if isinstance(source, HfPapersConfig):
        query = f' "{source.query}"' if source.query else ""
        where = f"{source.listing}{query} from {source.base_url}"
    elif isinstance(source, HfReposConfig):
        by = f" by {', '.join(source.author)}" if source.author else ""
        where = f"{source.type}s{by}, sorted by {source.sort}, from {source.base_url}"
    elif isinstance(source, HfCollectionConfig):
        where = f"collection {source.collection} from {source.base_url}"
    else:  # the query string and any user:password are left out: they may hold API keys
        url = urlsplit(source.url)
        where = f"{url.scheme}://{url.netloc.rpartition('@')[2]}{url.path}"
        if isinstance(source, HtmlConfig) and source.uses_browser:
            where += " (in the browser)"
    where = source.secrets.mask(where)
    return (
        f"  {source.name} [{source.kind}] {where}, every {format_duration(source.interval)}, "
        f"first_run {source.first_run}, keep {source.keep}{'' if source.enabled else ', disabled'}"
    )


# Each URL of a target as delivery uses it (masked) and its effective settings (body
# format, overflow): given by the caller, which knows the services (`notify/`).
DescribeUrls = Callable[[TargetConfig], list[tuple[str, str]]]


def _describe_target(target: TargetConfig, describe_urls: DescribeUrls | None) -> list[str]:
    filters = [f"min_score {target.min_score:g}"] if target.min_score is not None else []
    filters += [f"include {', '.join(target.include)}"] if target.include else []
    filters += [f"exclude {', '.join(target.exclude)}"] if target.exclude else []
    filters += [f"max_age {format_duration(target.max_age)}"] if target.max_age else []
    spec = target.digest_spec
    delivery = (
        f"digest {target.digest} (cron {spec.cron} in {spec.tz.key})"
        if spec
        else "one message per entry"
    )
    delivery += f", top {target.top}" if target.top else ""
    delivery += f", at most {target.max_per_hour}/hour" if target.max_per_hour else ""
    delivery += ", health alerts" if target.health else ""
    urls = describe_urls(target) if describe_urls else [(mask_url(u), "") for u in target.urls()]
    sends = [f"    url {n}: {how}" if len(urls) > 1 else f"    sends: {how}" for n, (_, how) in
             enumerate(urls, 1) if how]  # fmt: skip
    return [
        f"  {target.name}: {'; '.join(url for url, _ in urls)}",
        *sends,
        f"    sources: {', '.join(target.sources) if target.sources is not None else 'all'}",
        f"    filters: {'; '.join(filters) or 'none'}",
        f"    delivery: {delivery}",
    ]


def secret_fragments(config: Config) -> list[str]:
    """The secret parts of the config (tokens, passwords, URL path tokens) for log masking.

    Masking is by value; a URL path piece that a source or target name contains is left
    out, since names appear in every log line (`target=team-digest` must stay readable).
    """
    names = [s.name for s in config.sources] + [t.name for t in config.targets]
    return [f for f in _fragments(config) if not any(f in name for name in names)]


def _fragments(config: Config) -> list[str]:
    found: list[str] = []
    if config.server.token:
        found.append(config.server.token.get_secret_value())
    if config.storage.url is not None:
        url = config.storage.url.get_secret_value()
        found += [url, *dsn_secrets(url)]
    found += config.secrets.values  # what ${ENV} and *_file gave (public keys' aside)
    for source in config.sources:  # session cookies and header values are credentials
        if isinstance(source, HtmlConfig):
            found += [v for v in source.cookies.values() if len(v) >= 6]
        found += [v for v in source.headers.values() if len(v) >= 6]
    for target in config.targets:
        for url in target.urls():
            found.append(url)
            parts = urlsplit(url)
            pieces = re.split(r"[:@]", parts.netloc) + parts.path.split("/")
            pieces += [v for _, v in parse_qsl(parts.query)]
            if parts.password:
                found.append(parts.password)
            found += [p for p in pieces if len(p) >= 10 and "." not in p]
    return found


def redacted_summary(config: Config, describe_urls: DescribeUrls | None = None) -> str:
    """A human summary for `feedbridge check`; URLs are masked and the server token is ***;
    with `describe_urls`, each target URL as delivery uses it and what it sends."""
    storage, server, http = config.storage, config.server, config.http
    where = (
        f"postgresql {mask_dsn(storage.url.get_secret_value())} "
        f"(lease {format_duration(storage.lease)}"
        if storage.url is not None
        else f"{storage.path} (size_limit {format_size(storage.size_limit)}"
    )
    lines = [
        f"storage: {where}, seen_ttl {format_duration(storage.seen_ttl)})",
        f"server: {'on' if server.enabled else 'off'} {server.host}:{server.port}, base_url "
        f"{server.base_url}{' (derived from host and port)' if server.base_url_derived else ''}, "
        f"token {'***' if server.token else 'none'}",
        f"http: timeout {format_duration(http.timeout)}, max_body {format_size(http.max_body)}, "
        f"per_host {http.per_host}, concurrency {http.concurrency}",
        f"worker: {'on' if config.worker.enabled else 'off (serves only)'}",
        f"output: {config.output.dir or 'none'}",
        f"sources ({len(config.sources)}):",
        *(describe_source(source) for source in config.sources),
        f"targets ({len(config.targets)}):",
    ]
    for target in config.targets:
        lines += _describe_target(target, describe_urls)
    return "\n".join(lines)


def sources_toml(tables: Iterable[Mapping[str, Any]]) -> str:
    """Source tables as `[[sources]]` blocks, their `headers` and `cookies` as
    `[sources.headers]`. Never tomli_w's inline array of short tables: printed after another
    array's blocks, `sources = [...]` would land inside the last of them."""
    blocks = []
    for table in tables:
        block = "[[sources]]\n" + tomli_w.dumps(
            {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        )
        for key, sub in table.items():
            if isinstance(sub, Mapping):  # flat: dict[str, str] in the models
                block += f"\n[sources.{tomli_w.dumps({key: 0}).split(' = ')[0]}]\n"
                block += tomli_w.dumps(sub)
        blocks.append(block)
    return "\n".join(blocks)
