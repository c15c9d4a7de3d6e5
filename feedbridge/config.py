"""TOML config to typed, frozen pydantic models; every problem reported at once by key path."""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import os
import re
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import apprise
import jinja2
import jmespath
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from feedbridge.durations import (
    DigestSpec,
    format_duration,
    format_size,
    parse_digest,
    parse_duration,
    parse_size,
    parse_zone,
)
from feedbridge.errors import ConfigError
from feedbridge.filters import compile_pattern  # pure; shared so load and use agree

Loc = tuple[str | int, ...]

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_JINJA = jinja2.Environment()


def _min_interval(value: timedelta) -> timedelta:
    if value < timedelta(seconds=10):
        raise ValueError(f'must be at least 10s, got "{format_duration(value)}"')
    return value


def _matching(pattern: str, problem: str) -> AfterValidator:
    """A validator that `pattern` matches the whole string; `problem` formats the value."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(problem.format(value))
        return value

    return AfterValidator(check)


def _encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f'unknown encoding "{value}"') from None
    return value


def _jmespath(value: str) -> str:
    try:
        jmespath.compile(value)
    except jmespath.exceptions.JMESPathError as exc:
        detail = str(exc).splitlines()[0].rstrip(":").removesuffix(", for expression")
        detail = re.sub(r"^(invalid|bad) jmespath expression: ", "", detail, flags=re.IGNORECASE)
        raise ValueError(f'invalid JMESPath expression "{value}": {detail}') from None
    return value


def _template(value: str) -> str:
    try:
        _JINJA.parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"invalid template (line {exc.lineno}): {exc.message or exc}") from None
    return value


def _digest(value: str) -> str:
    parse_digest(value)
    return value


def _zone(value: str) -> str:
    parse_zone(value)
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f'invalid regex "{value}": {exc}') from None
    return value


def _pattern(value: str) -> str:
    """A word, or `/regex/flags`, checked with the very parser the filters use."""
    if not value.strip():
        raise ValueError("must not be empty")
    try:
        compile_pattern(value)
    except re.error as exc:
        raise ValueError(f'invalid regex "{value}": {exc}') from None
    return value


@contextlib.contextmanager
def _quiet_apprise() -> Iterator[None]:
    """Apprise logs rejected URLs verbatim, secrets included; silence it while parsing."""
    log = logging.getLogger("apprise")
    was_disabled, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = was_disabled


def _apprise_masked(url: str) -> list[str]:
    """Apprise's privacy form of each service it parses from `url`; empty if it parses none."""
    app = apprise.Apprise()
    with _quiet_apprise():
        app.add(url)
        # apprise's url() is untyped
        return [str(service.url(privacy=True)) for service in app]  # type: ignore[no-untyped-call]


def mask_url(url: str) -> str:
    """An Apprise URL with its secrets masked, or `scheme://***` if Apprise cannot parse it."""
    masked = _apprise_masked(url)
    if masked:
        return ", ".join(masked)
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://***" if sep else "***"


def _apprise_urls(urls: list[SecretStr]) -> list[SecretStr]:
    for url in urls:
        found = _apprise_masked(url.get_secret_value())
        if not found:
            raise ValueError(f"not a valid Apprise URL ({mask_url(url.get_secret_value())})")
        if len(found) > 1:
            raise ValueError(f"{len(found)} Apprise URLs in one string; give a list of strings")
    return urls


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Name = Annotated[
    str,
    _matching(
        r"[a-z0-9][a-z0-9._-]{0,63}",
        'invalid name "{}" (lowercase letters, digits, ".", "_", "-"; at most 64)',
    ),
]
AbsoluteUrl = Annotated[
    str, _matching(r"https?://[^/?#\s]+[^\s]*", 'must be an absolute http(s) URL, got "{}"')
]
BaseUrl = Annotated[AbsoluteUrl, AfterValidator(lambda v: v.rstrip("/"))]
FirstRun = Annotated[
    str,
    _matching(
        r"baseline|notify|latest:[1-9]\d*",
        'invalid first_run "{}" (use baseline, notify or latest:N, N >= 1)',
    ),
]
JmesPath = Annotated[str, AfterValidator(_jmespath)]
Template = Annotated[str, AfterValidator(_template)]
Pattern = Annotated[str, AfterValidator(_pattern)]
Positive = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Model):
    """The diskcache directory (relative to the working directory) and its retention."""

    path: Path = Path("data")
    seen_ttl: Duration = timedelta(days=90)
    size_limit: Size = 4 * 2**30


class ServerConfig(_Model):
    """The HTTP server that serves the feeds."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    base_url: BaseUrl = "http://localhost:8080"
    token: Annotated[SecretStr | None, BeforeValidator(lambda v: None if v == "" else v)] = None
    enabled: bool = True


class HttpConfig(_Model):
    """Limits of the one HTTP client every source fetches through."""

    timeout: Duration = timedelta(seconds=30)
    max_body: Size = 10_000_000
    user_agent: str = "feedbridge/0.1 (+https://github.com/feedbridge/feedbridge)"
    per_host: Positive = 4
    concurrency: Positive = 50
    max_redirects: Annotated[int, Field(ge=0)] = 5


class OutputConfig(_Model):
    """Optional directory the rendered feeds are also written to."""

    dir: Path | None = None


class SourceBase(_Model):
    """Fields every source kind shares."""

    name: Name
    kind: str
    title: str | None = None
    interval: Annotated[Duration, AfterValidator(_min_interval)] = timedelta(minutes=30)
    jitter: Annotated[float, Field(ge=0, le=0.5)] = 0.1
    first_run: FirstRun = "baseline"
    keep: Annotated[int, Field(ge=1, le=10_000)] = 200
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def first_run_mode(self) -> Literal["baseline", "notify", "latest"]:
        if self.first_run.startswith("latest:"):
            return "latest"
        return "notify" if self.first_run == "notify" else "baseline"

    @property
    def first_run_latest(self) -> int | None:
        """N of `latest:N`, else None."""
        return int(self.first_run[7:]) if self.first_run.startswith("latest:") else None

    @property
    def display_title(self) -> str:
        """The feed's human title."""
        return self.title or self.name


class HfPapersConfig(SourceBase):
    """Hugging Face Daily Papers, read from the JSON API or the page."""

    kind: Literal["hf_papers"] = "hf_papers"
    listing: Literal["daily", "weekly", "monthly", "trending", "search"] = "daily"
    query: Annotated[str | None, Field(validate_default=True)] = None
    base_url: BaseUrl = "https://huggingface.co"
    mode: Literal["api", "page", "auto"] = "auto"
    limit: Annotated[int, Field(ge=1, le=100)] = 100
    max_pages: Annotated[int, Field(ge=1, le=100)] = 10
    days: Annotated[int, Field(ge=1, le=7)] = 2

    @field_validator("query")
    @classmethod
    def _query_for_search(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("listing") == "search" and not value:
            raise ValueError('required when listing = "search"')
        return value


class _ItemFields(SourceBase):
    """Shared by html and json: `title` there picks item titles; the feed's is `feed_title`."""

    feed_title: str | None = None
    link: str | None = None
    summary: str | None = None
    content: str | None = None
    date: str | None = None
    author: str | None = None
    image: str | None = None
    score: str | None = None
    id: str | None = None
    date_format: str | None = None
    timezone: Annotated[str, AfterValidator(_zone)] | None = None
    link_pattern: Annotated[str, AfterValidator(_regex)] | None = None
    limit: Positive | None = None

    @property
    def display_title(self) -> str:
        return self.feed_title or self.name


class HtmlConfig(_ItemFields):
    """Any page, described by CSS selectors (`selector@attr` reads an attribute)."""

    kind: Literal["html"] = "html"
    url: AbsoluteUrl
    item: str
    encoding: Annotated[str, AfterValidator(_encoding)] | None = None


class FeedConfig(SourceBase):
    """An existing RSS, Atom or JSON feed."""

    kind: Literal["feed"] = "feed"
    url: AbsoluteUrl


class JsonConfig(_ItemFields):
    """Any JSON API; `items` and the field keys are JMESPath expressions."""

    kind: Literal["json"] = "json"
    url: AbsoluteUrl
    items: JmesPath
    title: JmesPath | None = None
    link: JmesPath | None = None
    summary: JmesPath | None = None
    content: JmesPath | None = None
    date: JmesPath | None = None
    author: JmesPath | None = None
    image: JmesPath | None = None
    score: JmesPath | None = None
    id: JmesPath | None = None


SourceConfig = Annotated[
    HfPapersConfig | HtmlConfig | FeedConfig | JsonConfig, Field(discriminator="kind")
]
_KINDS: dict[str, type[SourceBase]] = {
    "hf_papers": HfPapersConfig,
    "html": HtmlConfig,
    "feed": FeedConfig,
    "json": JsonConfig,
}


class TargetConfig(_Model):
    """One Apprise notification target: which entries it gets, and how."""

    name: Name
    url: Annotated[
        list[SecretStr],
        BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
        Field(min_length=1),
        AfterValidator(_apprise_urls),
    ]
    sources: Annotated[list[str], Field(min_length=1)] | None = None
    min_score: float | None = None
    include: list[Pattern] = Field(default_factory=list)
    exclude: list[Pattern] = Field(default_factory=list)
    max_age: Duration | None = None
    format: Literal["text", "markdown", "html"] | None = None
    title: Template | None = None
    body: Template | None = None
    digest: Annotated[str, AfterValidator(_digest)] | None = None
    digest_empty: bool = False
    top: Positive | None = None
    max_per_hour: Positive | None = None
    health: bool = False
    retry_window: Duration = timedelta(hours=24)
    overflow: Literal["split", "truncate", "upstream"] = "split"

    @property
    def digest_spec(self) -> DigestSpec | None:
        return parse_digest(self.digest) if self.digest else None

    def urls(self) -> list[str]:
        """The Apprise URLs in clear, for delivery only."""
        return [url.get_secret_value() for url in self.url]


class Config(_Model):
    """The whole validated configuration."""

    storage: StorageConfig = Field(default_factory=StorageConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    targets: list[TargetConfig] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def source(self, name: str) -> SourceConfig:
        """The source called `name`; KeyError if there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f'no source named "{name}"')

    def target(self, name: str) -> TargetConfig:
        """The target called `name`; KeyError if there is none."""
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(f'no target named "{name}"')


def default_config() -> Config:
    """What runs with no config file: HF daily papers served on 127.0.0.1:8080, data in ./data."""
    return Config(sources=[HfPapersConfig(name="hf-daily")])


class _Problems:
    """Problems found so far, and the keys whose pydantic errors they already explain."""

    def __init__(self) -> None:
        self.found: list[tuple[Loc, str]] = []
        self.explained: list[Loc] = []

    def add(self, loc: Loc, message: str, *also: Loc) -> None:
        self.found.append((loc, message))
        self.explained.extend((loc, *also))

    def explains(self, loc: Loc) -> bool:
        return any(loc[: len(k)] == k or k[: len(loc)] == loc for k in self.explained)


def _key(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _expand_env(value: Any, loc: Loc, problems: _Problems) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` (default also when VAR is empty) in every string."""
    if isinstance(value, dict):
        return {k: _expand_env(v, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*loc, i), problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match[1], match[2]
        found = os.environ.get(name)
        if default is not None and not found:
            return default
        if found is None:
            problems.add(loc, f"environment variable {name} is not set")
            return ""
        return found

    return _ENV_VAR.sub(substitute, value)


def _read_files(
    table: dict[str, Any], model: type[BaseModel], loc: Loc, problems: _Problems
) -> dict[str, Any]:
    """Replace `<field>_file = PATH` by `<field>` = the file's stripped text (Docker secrets)."""
    out = dict(table)
    for key, value in table.items():
        stem = key.removesuffix("_file")
        if stem == key or key in model.model_fields or stem not in model.model_fields:
            continue
        del out[key]
        if stem in table:
            problems.add((*loc, key), f"cannot be used together with {stem}")
        elif not isinstance(value, str):
            problems.add((*loc, key), "must be a file path", (*loc, stem))
        else:
            try:
                text = Path(value).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                problems.add((*loc, key), f"cannot read {value}: {exc.strerror}", (*loc, stem))
                continue
            except UnicodeDecodeError:
                problems.add((*loc, key), f"cannot read {value}: not UTF-8 text", (*loc, stem))
                continue
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            out[stem] = lines if stem == "url" and len(lines) > 1 else text.strip()
    return out


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    return (
        [(i, t) for i, t in enumerate(items) if isinstance(t, dict)]
        if isinstance(items, list)
        else []
    )


def _prepare(raw: dict[str, Any], problems: _Problems) -> dict[str, Any]:
    """Environment expansion, then `*_file` reading, on the raw TOML tree."""
    data: dict[str, Any] = _expand_env(raw, (), problems)
    sections: dict[str, type[BaseModel]] = {"storage": StorageConfig, "server": ServerConfig}
    for key, model in (sections | {"http": HttpConfig, "output": OutputConfig}).items():
        if isinstance(data.get(key), dict):
            data[key] = _read_files(data[key], model, (key,), problems)
    for i, item in _items(data, "sources"):
        model = _KINDS.get(str(item.get("kind")), SourceBase)
        data["sources"][i] = _read_files(item, model, ("sources", i), problems)
    for i, item in _items(data, "targets"):
        data["targets"][i] = _read_files(item, TargetConfig, ("targets", i), problems)
    return data


_SECRET_KEYS = {("server", "token"), ("targets", "url"), ("sources", "headers")}
_MESSAGES = {
    "extra": "unknown key",
    "missing": "required",
    "int": "must be an integer",
    "float": "must be a number",
    "bool": "must be true or false",
    "string": "must be a string",
    "list": "must be a list",
    "dict": "must be a table",
    "model": "must be a table",
}


def _translate(error: ErrorDetails) -> tuple[Loc, str]:
    """One pydantic error as (key path, message); the discriminator tag is dropped from the path."""
    loc: Loc = error["loc"]
    if loc[:1] == ("sources",) and len(loc) > 2 and loc[2] in _KINDS:
        loc = loc[:2] + loc[3:]
    kind, ctx = error["type"], error.get("ctx", {})
    kinds = ", ".join(_KINDS)
    if kind == "union_tag_invalid":
        return (*loc, "kind"), f'unknown kind "{ctx["tag"]}" (one of {kinds})'
    if kind == "union_tag_not_found":
        return (*loc, "kind"), f"required (one of {kinds})"
    if kind == "value_error":
        return loc, str(ctx["error"])
    if kind == "too_short":
        return loc, "must not be empty"
    message = _MESSAGES.get(kind.split("_")[0]) or error["msg"].replace("Input should", "must")
    value = error.get("input")
    secret = any(loc[:1] == k[:1] and k[1] in loc for k in _SECRET_KEYS)
    if kind not in ("missing", "extra_forbidden") and not secret and _is_scalar(value):
        message += f" (got {json.dumps(value, ensure_ascii=False)[:80]})"
    return loc, message


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _cross_problems(data: dict[str, Any]) -> list[str]:
    """Duplicate names, and targets naming undefined sources: checks across items."""
    problems: list[str] = []
    names: dict[str, set[str]] = {"sources": set(), "targets": set()}
    for section, seen in names.items():
        for i, item in _items(data, section):
            name = item.get("name")
            if isinstance(name, str) and name in seen:
                problems.append(f'{section}[{i}].name: duplicate {section[:-1]} name "{name}"')
            if isinstance(name, str):
                seen.add(name)
    for i, target in _items(data, "targets"):
        wanted = target.get("sources")
        for name in wanted if isinstance(wanted, list) else []:
            if isinstance(name, str) and name not in names["sources"]:
                problems.append(f'targets[{i}].sources: unknown source "{name}"')
    return problems


def _validate(raw: dict[str, Any], path: str | None) -> Config:
    problems = _Problems()
    data = _prepare(raw, problems)
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for loc, message in map(_translate, exc.errors(include_url=False)):
            if not problems.explains(loc):
                problems.found.append((loc, message))
    found = [f"{_key(loc)}: {message}" for loc, message in problems.found]
    found += _cross_problems(data)
    if found or config is None:
        raise ConfigError(found, path)
    return config


def adhoc_source_config(table: dict[str, Any]) -> SourceConfig:
    """One source from a table (as `preview --url` builds it), validated like a config file's."""
    config = _validate({"sources": [table]}, None)
    return config.sources[0]


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML config; None gives `default_config()`. Raises ConfigError."""
    if path is None:
        return default_config()
    try:
        with open(path, "rb") as file:
            raw = tomllib.load(file)
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror}"], str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError([f"cannot read {path}: not UTF-8 text"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"TOML syntax error: {exc}"], str(path)) from None
    return _validate(raw, str(path))


def _describe_source(source: SourceConfig) -> str:
    if isinstance(source, HfPapersConfig):
        query = f' "{source.query}"' if source.query else ""
        where = f"{source.listing}{query} from {source.base_url}"
    else:  # the query string and any user:password are left out: they may hold API keys
        url = urlsplit(source.url)
        where = f"{url.scheme}://{url.netloc.rpartition('@')[2]}{url.path}"
    return (
        f"  {source.name} [{source.kind}] {where}, every {format_duration(source.interval)}, "
        f"first_run {source.first_run}, keep {source.keep}{'' if source.enabled else ', disabled'}"
    )


def _describe_target(target: TargetConfig) -> list[str]:
    filters = [f"min_score {target.min_score:g}"] if target.min_score is not None else []
    filters += [f"include {', '.join(target.include)}"] if target.include else []
    filters += [f"exclude {', '.join(target.exclude)}"] if target.exclude else []
    filters += [f"max_age {format_duration(target.max_age)}"] if target.max_age else []
    spec = target.digest_spec
    delivery = f"digest {target.digest} (cron {spec.cron})" if spec else "one message per entry"
    delivery += f", top {target.top}" if target.top else ""
    delivery += f", at most {target.max_per_hour}/hour" if target.max_per_hour else ""
    delivery += ", health alerts" if target.health else ""
    return [
        f"  {target.name}: {'; '.join(mask_url(url) for url in target.urls())}",
        f"    sources: {', '.join(target.sources) if target.sources is not None else 'all'}",
        f"    filters: {'; '.join(filters) or 'none'}",
        f"    delivery: {delivery}",
    ]


def secret_fragments(config: Config) -> list[str]:
    """The secret parts of the config (tokens, passwords, URL path tokens) for log masking."""
    found: list[str] = []
    if config.server.token:
        found.append(config.server.token.get_secret_value())
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


def redacted_summary(config: Config) -> str:
    """A human summary for `feedbridge check`; URLs are masked and the server token is ***."""
    storage, server, http = config.storage, config.server, config.http
    lines = [
        f"storage: {storage.path} (seen_ttl {format_duration(storage.seen_ttl)}, "
        f"size_limit {format_size(storage.size_limit)})",
        f"server: {'on' if server.enabled else 'off'} {server.host}:{server.port}, base_url "
        f"{server.base_url}, token {'***' if server.token else 'none'}",
        f"http: timeout {format_duration(http.timeout)}, max_body {format_size(http.max_body)}, "
        f"per_host {http.per_host}, concurrency {http.concurrency}",
        f"output: {config.output.dir or 'none'}",
        f"sources ({len(config.sources)}):",
        *(_describe_source(source) for source in config.sources),
        f"targets ({len(config.targets)}):",
    ]
    for target in config.targets:
        lines += _describe_target(target)
    return "\n".join(lines)
