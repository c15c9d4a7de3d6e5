"""Messages from entries, digests and health events: Jinja2 templates (sandboxed, strict).

Templates render exactly the line breaks they are written with (no `trim_blocks`), an
unknown variable is an error (`StrictUndefined`), and a message's body never repeats
its title: services show the title on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from feedbridge.core.models import Entry, HealthEvent
from feedbridge.core.wording import plural, repo_facts, short_number

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

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

DEFAULT_TITLE = "{{ title }}"
_BLURB = "{% set blurb = ai_summary or summary|truncate(400) %}"
_META = (
    "{% if score is not none %}▲ {{ score|int }}{% if byline %} · {% endif %}{% endif %}"
    "{{ byline }}"
)
DEFAULT_BODY = {
    "text": _BLURB
    + _META
    + """{% if blurb %}

{{ blurb }}{% endif %}{% if link %}

{{ link }}{% endif %}{% if arxiv_pdf %}
PDF: {{ arxiv_pdf }}{% endif %}{% if github %}
Code: {{ github }}{% endif %}""",
    "markdown": _BLURB
    + _META
    + """{% if blurb %}

{{ blurb }}{% endif %}{% if link or arxiv_pdf or github %}

{% if link %}[{{ site }}]({{ link }}){% endif %}\
{% if arxiv_pdf %}{% if link %} · {% endif %}[arXiv]({{ arxiv_abs }}) · [PDF]({{ arxiv_pdf }})\
{% endif %}{% if github %}{% if link or arxiv_pdf %} · {% endif %}[Code]({{ github }}){% endif %}\
{% endif %}""",
    "html": _BLURB
    + """{% if score is not none or byline %}<p>{% if score is not none %}▲ {{ score|int }} upvotes\
{% if byline %} · {% endif %}{% endif %}{{ byline }}</p>
{% endif %}{% if blurb %}<p>{{ blurb }}</p>
{% endif %}{% if link or arxiv_pdf or github %}<p>\
{% if link %}<a href="{{ link }}">{{ site }}</a>{% endif %}\
{% if arxiv_pdf %}{% if link %} · {% endif %}<a href="{{ arxiv_abs }}">arXiv</a> · \
<a href="{{ arxiv_pdf }}">PDF</a>{% endif %}\
{% if github %}{% if link or arxiv_pdf %} · {% endif %}<a href="{{ github }}">Code</a>{% endif %}\
</p>{% endif %}""",
}

_REPO_LINKS_MD = (
    "[Hugging Face]({{ link }})"
    "{% if arxiv_pdf %} · [arXiv]({{ arxiv_abs }}) · [PDF]({{ arxiv_pdf }}){% endif %}"
    "{% if paper_link %} · [Paper]({{ paper_link }}){% endif %}"
    "{% if collection_url %} · [Collection: {{ collection }}]({{ collection_url }}){% endif %}"
)
_REPO_LINKS_HTML = (
    '<a href="{{ link }}">Hugging Face</a>'
    '{% if arxiv_pdf %} · <a href="{{ arxiv_abs }}">arXiv</a> · <a href="{{ arxiv_pdf }}">PDF</a>'
    "{% endif %}"
    '{% if paper_link %} · <a href="{{ paper_link }}">Paper</a>{% endif %}'
    '{% if collection_url %} · <a href="{{ collection_url }}">Collection: {{ collection }}</a>'
    "{% endif %}"
)
_REPO_META = "{{ facts }}"  # no byline: a repo's id starts with its author
_REPO_BLURB = "{% set blurb = summary if summary != note else '' %}"
# Hub items (a repo, a collection's item, a released artifact): what it is and how popular,
# the curator's note, the card's summary, then its links.
DEFAULT_REPO_BODY = {
    "text": _REPO_BLURB
    + _REPO_META
    + """{% if note %}

Note: {{ note }}{% endif %}{% if blurb %}

{{ blurb|truncate(400) }}{% endif %}

{{ link }}{% if paper_link %}
Paper: {{ paper_link }}{% endif %}{% if collection %}
Collection: {{ collection }} {{ collection_url }}{% endif %}""",
    "markdown": _REPO_BLURB
    + _REPO_META
    + """{% if note %}

> {{ note }}{% endif %}{% if blurb %}

{{ blurb|truncate(400) }}{% endif %}

"""
    + _REPO_LINKS_MD,
    "html": _REPO_BLURB
    + "<p>"
    + _REPO_META
    + """</p>
{% if note %}<p><em>Note:</em> {{ note }}</p>
{% endif %}{% if blurb %}<p>{{ blurb|truncate(400) }}</p>
{% endif %}<p>"""
    + _REPO_LINKS_HTML
    + "</p>",
}

DIGEST_TITLE = "{{ count }} new {{ noun }} · {{ date }}"
DIGEST_BODY = {
    "text": """{% for e in entries %}{% if not loop.first %}

{% endif %}{{ loop.index }}. {{ e.title }}{% if e.facts %}
   {{ e.facts }}{% elif e.score is not none or e.byline %}
   {% if e.score is not none %}▲ {{ e.score|int }}{% if e.byline %} · {% endif %}{% endif %}\
{{ e.byline }}{% endif %}{% if e.link %}
   {{ e.link }}{% endif %}{% endfor %}{% if more %}

…and {{ more }} more.{% endif %}""",
    "markdown": """{% for e in entries %}{% if not loop.first %}

{% endif %}{{ loop.index }}. \
**{% if e.link %}[{{ e.title }}]({{ e.link }}){% else %}{{ e.title }}{% endif %}**\
{% if e.facts %}
   {{ e.facts }}{% elif e.score is not none or e.byline %}
   {% if e.score is not none %}▲ {{ e.score|int }}{% if e.byline %} · {% endif %}{% endif %}\
{{ e.byline }}{% endif %}{% endfor %}{% if more %}

…and {{ more }} more.{% endif %}""",
    "html": """<div style="font-family:-apple-system,Segoe UI,Roboto,sans-serif;max-width:640px">
{% for e in entries %}<div style="margin:0 0 18px">
<p style="margin:0 0 4px;font-size:16px"><b>{{ loop.index }}.</b> \
{% if e.link %}<a href="{{ e.link }}" style="color:#1a0dab;text-decoration:none">{% endif %}\
{{ e.title }}{% if e.link %}</a>{% endif %}</p>
{% if e.facts %}<p style="margin:0 0 6px;color:#555;font-size:13px">{{ e.facts }}</p>
{% elif e.score is not none or e.byline %}<p style="margin:0 0 6px;color:#555;font-size:13px">\
{% if e.score is not none %}▲ {{ e.score|int }} upvotes{% if e.byline %} · {% endif %}{% endif %}\
{{ e.byline }}</p>
{% endif %}{% if e.summary %}<p style="margin:0;font-size:14px;line-height:1.45">\
{{ e.summary|truncate(360) }}</p>
{% endif %}{% if e.arxiv_pdf or e.github %}<p style="margin:6px 0 0;font-size:13px">\
{% if e.arxiv_pdf %}<a href="{{ e.arxiv_abs }}">arXiv</a> · <a href="{{ e.arxiv_pdf }}">PDF</a>\
{% endif %}{% if e.arxiv_pdf and e.github %} · {% endif %}\
{% if e.github %}<a href="{{ e.github }}">Code</a>{% endif %}</p>
{% endif %}</div>
{% endfor %}{% if more %}<p style="color:#555">…and {{ more }} more.</p>
{% endif %}<p style="color:#888;font-size:12px">Sent by feedbridge.</p>
</div>""",
}

HEALTH_TITLE = "feedbridge: {{ subject }} {{ kind }}"
HEALTH_BODY = {
    "text": "{{ message }}\n\n{{ at }}",
    "markdown": "{{ message }}\n\n{{ at }}",
    "html": "<p>{{ message }}</p>\n<p>{{ at }}</p>",
}


@dataclass(frozen=True, slots=True)
class Message:
    """What a service receives: a title and a body in `body_format`; `text` is the plain-text
    alternative an email carries beside an HTML body (rendered from the text template)."""

    title: str
    body: str
    body_format: str  # text | markdown | html
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Templates:
    """A target's own templates; None means the default for the format."""

    title: str | None = None
    body: str | None = None
    digest_title: str | None = None
    digest_body: str | None = None


def byline(authors: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(authors[:limit])
    return f"{shown} et al." if len(authors) > limit else shown


def entry_context(entry: Entry) -> dict[str, Any]:
    """The variables a template sees for one entry (see the README's table)."""
    context: dict[str, Any] = dict.fromkeys(EXTRA_NAMES)
    context.update({k: v for k, v in entry.extras.items() if k in EXTRA_NAMES})
    hub = entry.extras.get("repo_type") in HUB_TYPES
    parameters = context["parameters"]
    context.update(
        facts=repo_facts(entry.extras) if hub else None,
        params=short_number(parameters) if isinstance(parameters, int) else None,
    )
    context.update(
        title=entry.title,
        link=entry.link,
        site=urlsplit(entry.link).hostname or entry.link,
        summary=entry.summary,
        authors=list(entry.authors),
        byline=byline(entry.authors),
        score=entry.score,
        source=entry.source,
        key=entry.key,
        image=entry.image,
        published=entry.published,
        updated=entry.updated,
        extras=dict(entry.extras),
    )
    return context


@lru_cache(maxsize=256)
def _compiled(template: str, fmt: str) -> Template:
    """Compiling is most of a message's cost; a target's few templates compile once."""
    return _environment(autoescape=fmt == "html").from_string(template)


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> SandboxedEnvironment:
    """Jinja2 loads with the first message, not at start-up: a feed-only config never does."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape)


def render_template(template: str, fmt: str, context: Mapping[str, Any]) -> str:
    """Render strictly: an undefined name raises jinja2.UndefinedError."""
    return _compiled(template, fmt).render(context).strip()


def _alternative(fmt: str, text_template: str, context: Mapping[str, Any]) -> str | None:
    return render_template(text_template, "text", context) if fmt == "html" else None


def entry_message(entry: Entry, fmt: str, templates: Templates = Templates()) -> Message:
    """One entry as a message; a template that fails at send time falls back to the default
    (`check` renders every template beforehand, so this is for data no sample foresaw)."""
    from jinja2 import TemplateError

    context = entry_context(entry)
    defaults = DEFAULT_REPO_BODY if context["facts"] is not None else DEFAULT_BODY
    try:
        return Message(
            render_template(templates.title or DEFAULT_TITLE, "text", context),
            render_template(templates.body or defaults[fmt], fmt, context),
            fmt,
            # a custom HTML body has no text twin: Apprise derives the text part from it
            None if templates.body else _alternative(fmt, defaults["text"], context),
        )
    except TemplateError as exc:
        log.warning("template failed, using the default", extra={"error": str(exc)})
        return entry_message(entry, fmt)


def _noun(entries: Sequence[Entry]) -> str:
    """What a digest's entries all are: papers, models, datasets, Spaces; else entries."""
    if entries and all(e.extras.get("arxiv_id") for e in entries):
        return "paper"
    kinds = {e.extras.get("repo_type") for e in entries}
    if len(kinds) == 1 and (kind := kinds.pop()) in ("model", "dataset", "space"):
        return "Space" if kind == "space" else str(kind)
    return "entry"


def digest_context(entries: Sequence[Entry], top: int | None, now: datetime) -> dict[str, Any]:
    """The variables of a digest: `entries` (each as for one entry), `count`, `more`, ..."""
    ranked = sorted(entries, key=lambda e: (-(e.score or 0), e.title))
    shown = ranked[:top] if top else ranked
    return {
        "entries": [entry_context(e) for e in shown],
        "count": len(entries),
        "more": len(ranked) - len(shown),
        "noun": plural(len(entries), _noun(entries), with_count=False),
        "date": now.strftime("%Y-%m-%d"),
    }


def digest_message(
    entries: Sequence[Entry],
    fmt: str,
    top: int | None,
    now: datetime,
    templates: Templates = Templates(),
) -> Message:
    """Many entries as one message, highest score first, at most `top` of them."""
    from jinja2 import TemplateError

    context = digest_context(entries, top, now)
    try:
        return Message(
            render_template(templates.digest_title or DIGEST_TITLE, "text", context),
            render_template(templates.digest_body or DIGEST_BODY[fmt], fmt, context),
            fmt,
            None if templates.digest_body else _alternative(fmt, DIGEST_BODY["text"], context),
        )
    except TemplateError as exc:
        log.warning("digest template failed, using the default", extra={"error": str(exc)})
        return digest_message(entries, fmt, top, now)


def health_context(event: HealthEvent) -> dict[str, Any]:
    return {
        "subject": event.subject,
        "kind": event.kind,
        "message": event.message,
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def health_message(event: HealthEvent, fmt: str) -> Message:
    context = health_context(event)
    return Message(
        render_template(HEALTH_TITLE, "text", context),
        render_template(HEALTH_BODY[fmt], fmt, context),
        fmt,
        _alternative(fmt, HEALTH_BODY["text"], context),
    )


SAMPLE_ENTRY = Entry(
    source="feedbridge-test",
    key="2605.00001",
    title="feedbridge test notification",
    link="https://huggingface.co/papers/2605.00001",
    summary="If you can read this, the target works: this is how an entry will look.",
    authors=("Ada Lovelace", "Alan Turing"),
    score=42,
    published=datetime(2026, 5, 8, 8, 0, tzinfo=UTC),
    updated=datetime(2026, 5, 8, 8, 0, tzinfo=UTC),
    extras={
        "arxiv_id": "2605.00001",
        "arxiv_abs": "https://arxiv.org/abs/2605.00001",
        "arxiv_pdf": "https://arxiv.org/pdf/2605.00001",
        "upvotes": 42,
        "organization": "feedbridge",
        "github": "https://github.com/example/feedbridge",
    },
)
SAMPLE_EVENT = HealthEvent(
    "source hf-daily",
    "failing",
    "source hf-daily failing: HTTP 503 from https://huggingface.co/api/daily_papers",
    datetime(2026, 5, 8, 8, 0, tzinfo=UTC),
)


def check_templates(templates: Templates, formats: Sequence[str]) -> list[tuple[str, str]]:
    """Render each template against a sample entry, digest and health event in each format;
    returns (key, problem) pairs such as ("body", "'entry' is undefined")."""
    from jinja2 import TemplateError

    now = datetime(2026, 5, 8, 8, 0, tzinfo=UTC)
    entry = entry_context(SAMPLE_ENTRY)
    digest = digest_context([SAMPLE_ENTRY], None, now)
    problems: list[tuple[str, str]] = []
    cases = [
        ("title", templates.title, "text", entry),
        *(("body", templates.body, fmt, entry) for fmt in formats),
        ("digest_title", templates.digest_title, "text", digest),
        *(("digest_body", templates.digest_body, fmt, digest) for fmt in formats),
    ]
    for key, template, fmt, context in cases:
        if template is None or any(k == key for k, _ in problems):
            continue
        try:
            render_template(template, fmt, context)
        except TemplateError as exc:
            problems.append((key, str(exc)))
    health_message(SAMPLE_EVENT, "text")  # the built-in health template must render too
    return problems
