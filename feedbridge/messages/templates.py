"""Messages from entries and health events: Jinja2 templates (sandboxed, strict, bounded).

Templates render exactly the line breaks they are written with (no `trim_blocks`), an
unknown variable is an error (`StrictUndefined`), and a message's body never repeats
its title: services show the title on its own. Every value a template prints is escaped
for the service's markup (`escape.py`); a target's template that fails on an entry falls
back to the built-in one for that message, and the message says so (`Message.problem`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import urlsplit

from feedbridge.core.models import Entry, HealthEvent
from feedbridge.core.wording import repo_facts, short_number
from feedbridge.messages import builtin
from feedbridge.messages.escape import Dialect, Markup, Mentions, Url
from feedbridge.messages.sandbox import render

log = logging.getLogger("feedbridge.templates")

MESSAGE_FORMATS = ("text", "markdown", "html")  # a message body's formats (Apprise's)

# Fields some sources keep in `extras` (HF papers and repos, feeds); None when an entry lacks
# them, so one template serves every source. The README's table documents each name.
EXTRA_NAMES = (
    "ai_summary",
    "arxiv_id",
    "arxiv_abs",
    "arxiv_pdf",
    "comments",
    "enclosures",
    "github",
    "github_stars",
    "keywords",
    "num_authors",
    "organization",
    "project_page",
    "submitter",
    "tags",
    "upvotes",
    # Hub repos (hf_repos, hf_collection, paper artifacts)
    "repo_id",
    "repo_type",
    "likes",
    "downloads",
    "trending_score",
    "pipeline_tag",
    "library",
    "parameters",
    "sdk",
    "gated",
    "note",
    "collection",
    "collection_url",
    "artifact",
    "paper_id",
    "paper_title",
    "paper_link",
    "repos",
)
HUB_TYPES = ("model", "dataset", "space", "paper", "collection")
# escaped as links
URL_EXTRAS = ("arxiv_abs", "arxiv_pdf", "github", "project_page", "paper_link", "collection_url")


@dataclass(frozen=True, slots=True)
class Message:
    """What a service receives: a title and a body in `body_format`; `text` is the plain-text
    alternative an email carries beside an HTML body (rendered from the text template).
    `problem` names a target's template that failed and was replaced by the built-in one."""

    title: str
    body: str
    body_format: str  # text | markdown | html
    text: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Templates:
    """A target's own templates; None means the built-in one for the format."""

    title: str | None = None
    body: str | None = None
    digest_title: str | None = None
    digest_body: str | None = None


NO_TEMPLATES = Templates()


def byline(authors: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(authors[:limit])
    return f"{shown} et al." if len(authors) > limit else shown


def _url(value: Any) -> Any:
    return Url(value) if isinstance(value, str) and value else value


def entry_context(entry: Entry, tz: tzinfo = UTC) -> dict[str, Any]:
    """The variables a template sees for one entry (see the README's table); links are
    `Url`s, so that each is escaped as a link; `date` is the day it was published (else
    updated) in `tz`."""
    context: dict[str, Any] = dict.fromkeys(EXTRA_NAMES)
    context.update({k: v for k, v in entry.extras.items() if k in EXTRA_NAMES})
    for name in URL_EXTRAS:
        context[name] = _url(context[name])
    if isinstance(context["enclosures"], list):
        context["enclosures"] = [
            {**e, "url": _url(e.get("url"))} if isinstance(e, dict) else e
            for e in context["enclosures"]
        ]
    hub = entry.extras.get("repo_type") in HUB_TYPES
    parameters = context["parameters"]
    context.update(
        facts=repo_facts(entry.extras) if hub else None,
        params=short_number(parameters) if isinstance(parameters, int) else None,
    )
    when = entry.published or entry.updated
    context.update(
        title=entry.title,
        link=_url(entry.link),
        site=urlsplit(entry.link).hostname or entry.link,
        summary=entry.summary,
        authors=list(entry.authors),
        byline=byline(entry.authors),
        score=entry.score,
        source=entry.source,
        key=entry.key,
        image=_url(entry.image),
        published=entry.published,
        updated=entry.updated,
        date=when.astimezone(tz).strftime("%Y-%m-%d") if when else None,
        extras=dict(entry.extras),
    )
    return context


def render_template(
    template: str, fmt: Markup, context: Mapping[str, Any], mentions: Mentions = "keep"
) -> str:
    """Render strictly in `fmt`'s markup: an undefined name raises jinja2.UndefinedError."""
    return render(template, fmt, context, mentions)


def render_or_builtin(
    key: str,
    custom: str | None,
    builtin_template: str,
    markup: Markup,
    context: Mapping[str, Any],
    mentions: Mentions = "keep",
) -> tuple[str, str | None]:
    """The custom template rendered, else (it failed on this data) the built-in one and the
    problem: any error, since a template can fail in many ways (`"%d"|format(none)`)."""
    if custom is not None:
        try:
            return render(custom, markup, context, mentions), None
        except Exception as exc:  # whatever the template raised
            problem = f"{key}: {describe_failure(exc)}"
            return render(builtin_template, markup, context, mentions), problem
    return render(builtin_template, markup, context, mentions), None


def describe_failure(exc: BaseException) -> str:
    """A template's error as `check` and the log show it: Jinja2's own text for its errors,
    else the exception's type too (`TypeError: %d format: ...`)."""
    from jinja2 import TemplateError

    return str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"


def entry_message(
    entry: Entry, dialect: Dialect | str, templates: Templates = NO_TEMPLATES
) -> Message:
    """One entry as a message for a service reading `dialect`; a target's template that
    fails on this entry gives way to the built-in one (`check` renders every template
    beforehand, so this is for data no sample foresaw)."""
    dialect = Dialect.of(dialect)
    fmt = dialect.body_format
    context = entry_context(entry)
    defaults = builtin.DEFAULT_REPO_BODY if context["facts"] is not None else builtin.DEFAULT_BODY
    title, title_problem = render_or_builtin(
        "title",
        templates.title,
        builtin.DEFAULT_TITLE,
        dialect.title_markup,
        context,
        dialect.mentions,
    )
    body, body_problem = render_or_builtin(
        "body",
        templates.body,
        defaults[fmt],
        dialect.markup,
        context,
        dialect.mentions,
    )
    # a custom HTML body has no text twin: Apprise derives the text part from it
    custom = templates.body is not None and body_problem is None
    text = None if custom else _alternative(fmt, defaults["text"], context)
    return Message(title, body, fmt, text, title_problem or body_problem)


def _alternative(fmt: str, text_template: str, context: Mapping[str, Any]) -> str | None:
    return render(text_template, "text", context) if fmt == "html" else None


def health_context(event: HealthEvent) -> dict[str, Any]:
    return {
        "subject": event.subject,
        "kind": event.kind,
        "message": event.message,
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def health_message(event: HealthEvent, dialect: Dialect | str) -> Message:
    dialect = Dialect.of(dialect)
    fmt = dialect.body_format
    context = health_context(event)
    return Message(
        render(builtin.HEALTH_TITLE, dialect.title_markup, context, dialect.mentions),
        render(builtin.HEALTH_BODY[fmt], dialect.markup, context, dialect.mentions),
        fmt,
        _alternative(fmt, builtin.HEALTH_BODY["text"], context),
    )
