"""The configuration as typed, frozen pydantic models, each field validated where it is declared."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from feedbridge.config.fields import (
    AbsoluteUrl,
    BaseUrl,
    CssSelector,
    Duration,
    FirstRun,
    IpNetwork,
    JmesPath,
    Name,
    Pattern,
    Positive,
    Size,
    Template,
    check_apprise_urls,
    check_css,
    check_digest,
    check_encoding,
    check_interval,
    check_regex,
    check_zone,
)
from feedbridge.config.hub import COLLECTION_SLUG, EXPAND, EXPANDABLE, NAMESPACE
from feedbridge.core.durations import (
    DigestSpec,
    format_duration,
    parse_digest,
)
from feedbridge.core.secrets import NO_SECRETS, Secrets


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _postgres_url(value: SecretStr | None) -> SecretStr | None:
    if value is None or value.get_secret_value() == "":
        return None
    if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a postgresql:// URL (or leave it out for the embedded store)")
    return value


def _at_least_a_second(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1):
        raise ValueError(f'must be at least 1s, got "{format_duration(value)}"')
    return value


def _lease(value: timedelta) -> timedelta:
    if value < timedelta(seconds=2):
        raise ValueError(f'must be at least 2s, got "{format_duration(value)}"')
    return value


class StorageConfig(_Model):
    """The embedded diskcache directory (relative to the working directory), or a shared
    PostgreSQL (`url`), and retention."""

    path: Path = Path("data")
    url: Annotated[SecretStr | None, AfterValidator(_postgres_url)] = None
    seen_ttl: Duration = timedelta(days=90)
    size_limit: Size = 4 * 2**30
    lease: Annotated[Duration, AfterValidator(_lease)] = timedelta(seconds=60)


class ServerConfig(_Model):
    """The HTTP server that serves the feeds."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    base_url: BaseUrl = ""  # unset: derived from host and port (see _derive_base_url)
    token: Annotated[SecretStr | None, BeforeValidator(lambda v: None if v == "" else v)] = None
    enabled: bool = True
    # an exposed port's bounds (app/guard.py): connections at once, and how long a client
    # may take to send one request whole
    max_connections: Annotated[int, Field(ge=1)] = 1000
    request_timeout: Annotated[Duration, AfterValidator(_at_least_a_second)] = timedelta(
        seconds=10
    )
    # whether a URL typed into the web page may name a loopback or private-network address
    # (the config file's own sources may, always; cloud metadata addresses never)
    private_urls: bool = False

    @model_validator(mode="before")
    @classmethod
    def _empty_base_url_is_unset(cls, data: object) -> object:
        """`base_url = "${FEEDBRIDGE_BASE_URL:-}"` (the image's config) derives it too."""
        if isinstance(data, dict) and data.get("base_url") == "":
            data = {k: v for k, v in data.items() if k != "base_url"}
        return data

    @model_validator(mode="after")
    def _derive_base_url(self) -> ServerConfig:
        """An unset base_url is the server's own address (localhost for a wildcard host),
        so that links follow `port`; `base_url_derived` says so for the start-up log."""
        if not self.base_url:
            host = "localhost" if self.host in ("", "0.0.0.0", "::", "[::]") else self.host
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"  # an IPv6 literal
            object.__setattr__(self, "base_url", f"http://{host}:{self.port}")  # frozen model
        return self

    @property
    def base_url_derived(self) -> bool:
        return "base_url" not in self.model_fields_set


DEFAULT_USER_AGENT = "feedbridge/0.1 (+https://github.com/feedbridge/feedbridge)"


class HttpConfig(_Model):
    """Limits of the one HTTP client every source fetches through."""

    timeout: Duration = timedelta(seconds=30)
    max_body: Size = 10_000_000
    user_agent: str = DEFAULT_USER_AGENT
    per_host: Positive = 4
    concurrency: Positive = 50
    max_redirects: Annotated[int, Field(ge=0)] = 5
    # a redirect from a public address to an internal one is refused unless this is set
    allow_private_redirects: bool = False
    # never refused, cloud metadata addresses included (they are refused unless named here)
    allow_networks: list[IpNetwork] = Field(default_factory=list)


class WorkerConfig(_Model):
    """Whether this node polls sources and delivers notifications (false: it only serves,
    from a shared PostgreSQL store that other nodes fill)."""

    enabled: bool = True
    # `run` examines large pages in this many processes, off the event loop that serves the
    # feeds (sources/offload.py); unset: one per core but one; 0: on the event loop
    extraction_processes: Annotated[int | None, Field(ge=0, le=64)] = None


def _cdp_url(value: str) -> str:
    if not re.fullmatch(r"(wss?|https?)://[^/?#\s]+[^\s]*", value):
        raise ValueError(f'must be a ws://, wss:// or http(s):// DevTools URL, got "{value}"')
    return value


class BrowserConfig(_Model):
    """The browser `fetch = "browser"` sources load pages in: a local Chromium, or one over CDP."""

    executable: str | None = None  # default: chromium or chromium-headless-shell on PATH
    cdp_url: Annotated[str, AfterValidator(_cdp_url)] | None = None
    max_pages: Annotated[int, Field(ge=1, le=32)] = 2

    @field_validator("cdp_url")
    @classmethod
    def _one_browser(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("executable"):
            raise ValueError("give executable or cdp_url, not both")
        return value


class OutputConfig(_Model):
    """Optional directory the rendered feeds are also written to."""

    dir: Path | None = None


class SourceBase(_Model):
    """Fields every source kind shares; `secrets` are the config's (`Config.keep_secrets`)."""

    _secrets: Secrets = PrivateAttr(default=NO_SECRETS)
    _typed: bool = PrivateAttr(default=False)

    name: Name
    kind: str
    title: str | None = None
    interval: Annotated[Duration, AfterValidator(check_interval)] = timedelta(minutes=30)
    jitter: Annotated[float, Field(ge=0, le=0.5)] = 0.1
    first_run: FirstRun = "baseline"
    keep: Annotated[int, Field(ge=1, le=10_000)] = 200
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def secrets(self) -> Secrets:
        """What came from `${ENV}` or a `*_file`: never shown in a link, a log or an error."""
        return self._secrets

    @property
    def typed(self) -> bool:
        """Made on the web page while `[server] private_urls` is off: what it fetches may
        reach public addresses only (`Config.keep_page_names`)."""
        return self._typed

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
    # paper artifacts: models, datasets and Spaces that cite the papers a target cares about
    artifacts: bool = False
    follow_for: Duration = timedelta(days=30)  # after the paper's publication
    follow_requests: Annotated[int, Field(ge=1, le=100)] = 20  # artifact checks a poll

    @field_validator("query")
    @classmethod
    def _query_for_search(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("listing") == "search" and not value:
            raise ValueError('required when listing = "search"')
        return value

    @field_validator("follow_for", "follow_requests")
    @classmethod
    def _with_artifacts(cls, value: object, info: ValidationInfo) -> object:
        if not info.data.get("artifacts"):
            raise ValueError("only used with artifacts = true")
        return value


def _as_list(value: object) -> object:
    """One string or a list of them: `author = "Qwen"` reads as `author = ["Qwen"]`."""
    return [value] if isinstance(value, str) else value


def _singular(value: object) -> object:
    """`type = "models"` reads as "model", as people write the Hub's URLs."""
    return value.lower().removesuffix("s") if isinstance(value, str) else value


def _namespace(value: str) -> str:
    if not NAMESPACE.fullmatch(value):
        raise ValueError(f'invalid Hub user or organization name "{value}"')
    return value


def _collection(value: str) -> str:
    """`namespace/slug-id`, or the collection's URL (its path after /collections/)."""
    path = re.sub(r"^https?://[^/]+/(?:api/)?collections/", "", value.strip()).strip("/")
    if not COLLECTION_SLUG.fullmatch(path) or not re.search(r"-[0-9a-f]{24}$", path):
        raise ValueError(
            f'must be a collection as "namespace/slug-id" or its URL, got "{value}" '
            '(e.g. "Qwen/qwen3-67dd247413f0e2e4f653967f")'
        )
    return path


class HfReposConfig(SourceBase):
    """Models, datasets or Spaces of the Hub's listing API (`/api/models|datasets|spaces`)."""

    kind: Literal["hf_repos"] = "hf_repos"
    base_url: BaseUrl = "https://huggingface.co"
    max_requests: Annotated[int, Field(ge=1, le=100)] = 10  # requests a poll may make
    type: Annotated[Literal["model", "dataset", "space"], BeforeValidator(_singular)] = "model"
    author: Annotated[
        list[Annotated[str, AfterValidator(_namespace)]], BeforeValidator(_as_list)
    ] = Field(default_factory=list)
    search: str | None = None
    filter: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    pipeline_tag: str | None = None
    sort: Literal["created", "trending", "likes", "downloads", "modified"] = "created"
    direction: Literal["desc", "asc"] = "desc"
    limit: Annotated[int, Field(ge=1, le=1000)] = 50
    expand: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    score: Literal["likes", "downloads", "trending"] = "likes"

    @field_validator("author")
    @classmethod
    def _authors_fit_the_cap(cls, value: list[str], info: ValidationInfo) -> list[str]:
        cap = info.data.get("max_requests", 10)
        if len(value) > cap:
            raise ValueError(
                f"{len(value)} authors need {len(value)} requests a poll, more than "
                f"max_requests ({cap})"
            )
        return value

    @field_validator("pipeline_tag")
    @classmethod
    def _models_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("type", "model") != "model":
            raise ValueError("only models have one (for other types use filter)")
        return value

    @field_validator("sort", "score")
    @classmethod
    def _spaces_have_no_downloads(cls, value: str, info: ValidationInfo) -> str:
        if value == "downloads" and info.data.get("type") == "space":
            raise ValueError("Spaces have no downloads (use likes or trending)")
        return value

    @field_validator("expand")
    @classmethod
    def _documented_properties(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("type", "model")
        unknown = [name for name in value if name not in EXPANDABLE[kind]]
        if unknown:
            known = ", ".join(sorted(EXPANDABLE[kind] - set(EXPAND[kind])))
            raise ValueError(f"unknown for {kind}s: {', '.join(unknown)} (one of {known})")
        return value

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        what = {"model": "models", "dataset": "datasets", "space": "Spaces"}[self.type]
        by = f" by {', '.join(self.author)}" if self.author else ""
        return f"Hugging Face {what}{by}"


class HfCollectionConfig(SourceBase):
    """The items of one Hub collection (`/api/collections/{namespace}/{slug-id}`): one request."""

    kind: Literal["hf_collection"] = "hf_collection"
    base_url: BaseUrl = "https://huggingface.co"
    collection: Annotated[str, AfterValidator(_collection)]
    score: Literal["likes", "downloads", "trending"] = "likes"  # a paper's likes: its upvotes

    @property
    def display_title(self) -> str:
        return self.title or f"Hugging Face collection {self.collection}"


# The fields of one item the html and json kinds pick (a selector or an expression each),
# in the order they are read and reported by `preview`.
ITEM_FIELDS = ("id", "title", "link", "summary", "content", "date", "author", "image", "score")


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
    timezone: Annotated[str, AfterValidator(check_zone)] | None = None
    link_pattern: Annotated[str, AfterValidator(check_regex)] | None = None
    limit: Positive | None = None

    @property
    def display_title(self) -> str:
        return self.feed_title or self.name

    @property
    def item_fields(self) -> dict[str, str]:
        """Each configured item field (`ITEM_FIELDS` order) and its selector or expression."""
        values = (
            self.id, self.title, self.link, self.summary, self.content, self.date,
            self.author, self.image, self.score,
        )  # fmt: skip
        return {name: value for name, value in zip(ITEM_FIELDS, values, strict=True) if value}


BROWSER_ONLY = ("wait_for", "wait", "scroll", "cookies", "block")
Blockable = Literal["image", "font", "media", "stylesheet"]
DEFAULT_BLOCK: tuple[Blockable, ...] = ("image", "font", "media")


class HtmlConfig(_ItemFields):
    """Any page, described by CSS selectors (`selector@attr` reads an attribute).

    `fetch = "browser"` loads it in headless Chromium and runs the selectors on the DOM
    after its scripts ran; the keys after `fetch` apply to that fetcher only.
    """

    kind: Literal["html"] = "html"
    url: AbsoluteUrl
    item: str
    fetch: Literal["http", "browser"] = "http"
    encoding: Annotated[str, AfterValidator(check_encoding)] | None = None
    wait_for: str | None = None  # CSS selector; default: `item`
    wait: Duration = timedelta(seconds=15)
    scroll: Annotated[int, Field(ge=0, le=50)] = 0
    cookies: dict[str, str] = Field(default_factory=dict)
    block: list[Blockable] = Field(default_factory=lambda: list(DEFAULT_BLOCK))

    @field_validator(*BROWSER_ONLY)
    @classmethod
    def _browser_only(cls, value: object, info: ValidationInfo) -> object:
        if info.data.get("fetch", "http") != "browser":
            raise ValueError('only used with fetch = "browser"')
        return value

    @field_validator(
        "item", "id", "title", "link", "summary", "content", "date", "author", "image", "score",
        "wait_for",
    )  # fmt: skip
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        """Every selector checked at load, so `check` lists every bad one at once."""
        return None if value is None else check_css(value)

    @field_validator("encoding")
    @classmethod
    def _no_encoding_in_browser(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("fetch") == "browser":
            raise ValueError('not used with fetch = "browser" (the browser decodes the page)')
        return value

    @property
    def uses_browser(self) -> bool:
        return self.fetch == "browser"


class FeedConfig(SourceBase):
    """An existing RSS, Atom or JSON feed."""

    kind: Literal["feed"] = "feed"
    url: AbsoluteUrl


class JsonConfig(_ItemFields):
    """Any JSON API; `items` and the field keys are JMESPath expressions."""

    kind: Literal["json"] = "json"
    url: AbsoluteUrl
    # JSON inside an HTML page: a CSS selector (`selector@attr` reads an attribute) of the
    # elements holding it; `items` then reads the list of their documents, in page order
    embedded: CssSelector | None = None
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
    HfPapersConfig | HfReposConfig | HfCollectionConfig | HtmlConfig | FeedConfig | JsonConfig,
    Field(discriminator="kind"),
]
_KINDS: dict[str, type[SourceBase]] = {
    "hf_papers": HfPapersConfig,
    "hf_repos": HfReposConfig,
    "hf_collection": HfCollectionConfig,
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
        AfterValidator(check_apprise_urls),
    ]
    sources: Annotated[list[str], Field(min_length=1)] | None = None
    min_score: float | None = None
    include: list[Pattern] = Field(default_factory=list)
    exclude: list[Pattern] = Field(default_factory=list)
    max_age: Duration | None = None
    format: Literal["text", "markdown", "html"] | None = None
    title: Template | None = None
    body: Template | None = None
    digest_title: Template | None = None
    digest_body: Template | None = None
    digest: Annotated[str, AfterValidator(check_digest)] | None = None
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
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    browser: BrowserConfig = Field(default_factory=BrowserConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    targets: list[TargetConfig] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # every source as `feedbridge.app.runtime.build_sources` built it (selectors compiled), so that
    # the runtime reuses what validating the config built instead of building it again
    _built_sources: list[Any] | None = PrivateAttr(default=None)
    _secrets: Secrets = PrivateAttr(default=NO_SECRETS)

    @property
    def secrets(self) -> Secrets:
        """What came from `${ENV}` or a `*_file` (but public keys'): masked wherever a URL is
        shown, logged or published."""
        return self._secrets

    def keep_secrets(self, secrets: Secrets) -> None:
        """Remember `secrets` here and on every source (their links and errors mask them)."""
        self._secrets = secrets
        for source in self.sources:
            source._secrets = secrets

    # the sources made on the web page (kept in the store), as `load_config` was given them
    _page_names: frozenset[str] = PrivateAttr(default=frozenset())

    def keep_page_names(self, names: frozenset[str]) -> None:
        """Remember which sources were made on the web page: unless `[server] private_urls`,
        their URLs were typed there and reach public addresses only."""
        self._page_names = names
        for source in self.sources:
            source._typed = source.name in names and not self.server.private_urls

    def made_on_page(self, name: str) -> bool:
        """Whether source `name` was made on the web page (else: the config file's)."""
        return name in self._page_names

    def source_key(self, index: int) -> str:
        """How errors name `sources[index]`: by position in the file, by name if page-made."""
        name = self.sources[index].name
        return f'page source "{name}"' if self.made_on_page(name) else f"sources[{index}]"

    @property
    def uses_browser(self) -> bool:
        """Whether an enabled source loads its page in the browser."""
        return any(isinstance(s, HtmlConfig) and s.uses_browser for s in self.sources if s.enabled)

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
