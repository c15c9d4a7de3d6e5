"""The web pages as HTML: Jinja2 templates (every value escaped) and the headers each page
carries (a Content-Security-Policy that runs only this server's own script and style files)."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from feedbridge.core.durations import format_duration

# Nothing inline runs, nothing from elsewhere loads, no page may frame these.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # a same-origin POST carries its Origin; no link leaks it
    "Cache-Control": "no-store",  # pages hold form tokens and current state
}


def when(value: object) -> str:
    """Epoch seconds as people read them; "never" for none."""
    if not isinstance(value, int | float):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))


def ago(value: object, now: float | None = None) -> str:
    """How long ago, roughly ("3 min ago")."""
    if not isinstance(value, int | float):
        return ""
    seconds = max(0, int((time.time() if now is None else now) - value))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def safe_link(value: object) -> bool:
    """Whether a link may be an `href`: http(s) only (never `javascript:` or `data:`)."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def moment(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("feedbridge.app.web", "templates"),
        autoescape=True,  # every value from a page, a source or a user lands escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ago=ago, safe_link=safe_link, datetime=moment,
                       duration=format_duration)  # fmt: skip
    return env


def render(name: str, context: Mapping[str, Any]) -> str:
    return environment().get_template(name).render(context)


def page(
    request: Request, name: str, context: Mapping[str, Any], status: int = 200
) -> HTMLResponse:
    """A whole page: the template with what every page shows (who may edit, the form token)."""
    return HTMLResponse(render(name, {**request.state.common, **context}), status, HEADERS)


def fragment(name: str, context: Mapping[str, Any], status: int = 200) -> HTMLResponse:
    """A piece of a page (the live preview), for the page's script to put in place."""
    return HTMLResponse(render(name, context), status, HEADERS)
