"""Field types of the config and the checks behind them, each error worded for whoever
writes the config (durations, names, URLs, regexes, templates, Apprise URLs with secrets masked)."""

from __future__ import annotations

import codecs
import contextlib
import difflib
import functools
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import jmespath
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

from feedbridge.core.durations import (
    format_duration,
    parse_digest,
    parse_duration,
    parse_size,
    parse_zone,
)
from feedbridge.core.filters import compile_pattern  # pure; shared so load and use agree

if TYPE_CHECKING:
    import jinja2


def check_interval(value: timedelta) -> timedelta:
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


def check_encoding(value: str) -> str:
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


_ATTRIBUTE = re.compile(r"[A-Za-z_:][\w:.-]*")


def split_selector(spec: str) -> tuple[str | None, str | None]:
    """`selector`, `selector@attr` or `@attr` as (CSS or None for the item itself, attribute)."""
    css, at, attr = spec.rpartition("@")
    if at and _ATTRIBUTE.fullmatch(attr.strip()):
        return css.strip() or None, attr.strip().lower()
    return spec.strip() or None, None


@functools.lru_cache(maxsize=1024)
def valid_css(css: str) -> bool:
    """Whether lexbor (the html source's engine) compiles `css`; sources share a few."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("<p></p>").css(css)
    except SelectolaxError:
        return False
    return True


def check_css(value: str) -> str:
    css, _ = split_selector(value)
    if css is not None and not valid_css(css):
        raise ValueError(f"invalid CSS selector {css!r}")
    return value


@functools.cache
def _jinja() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment()


def _template(value: str) -> str:
    import jinja2  # here, not at the top: a config without targets never loads Jinja2

    try:
        _jinja().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"invalid template (line {exc.lineno}): {exc.message or exc}") from None
    return value


def _network(value: str) -> str:
    """An IP address or CIDR network (`10.1.0.0/16`, `fd00::/8`, `169.254.169.254`)."""
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f'not an IP network: "{value}"') from None
    return value


def check_digest(value: str) -> str:
    parse_digest(value)
    return value


def check_zone(value: str) -> str:
    parse_zone(value)
    return value


def check_regex(value: str) -> str:
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
def quiet_apprise() -> Iterator[None]:
    """Apprise logs rejected URLs verbatim, secrets included; silence it while parsing."""
    log = logging.getLogger("apprise")
    was_disabled, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = was_disabled


def _apprise_masked(url: str) -> list[str]:
    """Apprise's privacy form of each service it parses from `url`; empty if it parses none."""
    import apprise  # here, not at the top: start-up without targets never loads Apprise

    app = apprise.Apprise()
    with quiet_apprise():
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


def check_apprise_urls(urls: list[SecretStr]) -> list[SecretStr]:
    for url in urls:
        found = _apprise_masked(url.get_secret_value())
        if not found:
            raise ValueError(_apprise_problem(url.get_secret_value()))
        if len(found) > 1:
            raise ValueError(f"{len(found)} Apprise URLs in one string; give a list of strings")
    return urls


def _apprise_problem(url: str) -> str:
    """Why Apprise takes no service from `url`, worded for the config's author: empty, no
    scheme, an unknown scheme (with the nearest known ones), or a known one it rejects."""
    if not url.strip():
        return "is empty (an Apprise URL such as slack://... or json://host/path)"
    scheme, sep, _ = url.strip().partition("://")
    if not sep:
        return f"not an Apprise URL ({mask_url(url)}): it needs a service, as in slack://..."
    from apprise.manager_plugins import NotificationManager

    schemas = NotificationManager().schemas()  # type: ignore[no-untyped-call]
    known = {name.lower() for name in schemas}
    if scheme.lower() not in known:
        near = difflib.get_close_matches(scheme.lower(), sorted(known), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(f'{n}://' for n in near)}?" if near else ""
        return f'unknown Apprise service "{scheme}://" ({mask_url(url)}){hint}'
    return (
        f'not a valid Apprise URL for "{scheme}://" ({mask_url(url)}): a part it needs is '
        "missing or malformed (see that service's page in the Apprise wiki)"
    )


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
CssSelector = Annotated[str, AfterValidator(check_css)]  # `selector`, `selector@attr` or `@attr`
Template = Annotated[str, AfterValidator(_template)]
Pattern = Annotated[str, AfterValidator(_pattern)]
Positive = Annotated[int, Field(ge=1)]
IpNetwork = Annotated[str, AfterValidator(_network)]
