"""Messages from entries: Jinja2 templates (sandboxed) with defaults per format, and digests."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from feedbridge.models import Entry

log = logging.getLogger("feedbridge.templates")

_TEXT = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=False)
_HTML = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=True)

DEFAULT_TITLE = "{{ title }}"
_AUTHORS = (
    "{% if authors %}{{ authors[:5]|join(', ') }}"
    "{% if authors|length > 5 %} et al.{% endif %}{% endif +%}"  # +: keep the newline after
)
DEFAULT_BODY = {
    "text": (
        "{{ title }}\n"
        "{% if score is not none %}▲ {{ score|int }} · {% endif %}" + _AUTHORS + "\n"
        "{% if ai_summary %}{{ ai_summary }}{% else %}{{ summary|truncate(400) }}{% endif +%}\n"
        "{{ link }}"
        "{% if github %}\nCode: {{ github }}{% endif %}"
    ),
    "markdown": (
        "**{% if link %}[{{ title }}]({{ link }}){% else %}{{ title }}{% endif %}**\n"
        "{% if score is not none %}▲ {{ score|int }} · {% endif %}" + _AUTHORS + "\n"
        "{% if ai_summary %}{{ ai_summary }}{% else %}{{ summary|truncate(400) }}{% endif %}"
        "{% if arxiv_pdf %}\n[arXiv]({{ arxiv_abs }}) · [PDF]({{ arxiv_pdf }})"
        "{% if github %} · [Code]({{ github }}){% endif %}{% endif %}"
    ),
    "html": (
        '<h3>{% if link %}<a href="{{ link }}">{{ title }}</a>{% else %}{{ title }}{% endif %}'
        "</h3>\n"
        "<p>{% if score is not none %}▲ {{ score|int }} upvotes · {% endif %}"
        + _AUTHORS
        + "</p>\n<p>{{ summary|truncate(800) }}</p>\n"
        '{% if arxiv_pdf %}<p><a href="{{ arxiv_abs }}">arXiv</a> · '
        '<a href="{{ arxiv_pdf }}">PDF</a>'
        '{% if github %} · <a href="{{ github }}">Code</a>{% endif %}</p>{% endif %}'
    ),
}

DIGEST_TITLE = "{{ count }} new {{ noun }}{% if date %} · {{ date }}{% endif %}"
DIGEST_BODY = {
    "text": (
        "{% for e in entries %}{{ loop.index }}. {{ e.title }}\n"
        "   {% if e.score is not none %}▲ {{ e.score|int }} · {% endif %}{{ e.link }}\n"
        "{% endfor %}{% if more %}…and {{ more }} more{% endif %}"
    ),
    "markdown": (
        "{% for e in entries %}{{ loop.index }}. "
        "**{% if e.link %}[{{ e.title }}]({{ e.link }}){% else %}{{ e.title }}{% endif %}**"
        "{% if e.score is not none %} ▲ {{ e.score|int }}{% endif +%}\n"
        "{% endfor %}{% if more %}…and {{ more }} more{% endif %}"
    ),
    "html": (
        '<div style="font-family:system-ui,Segoe UI,Arial,sans-serif;max-width:680px;'
        'margin:auto;color:#222">\n'
        '<h1 style="font-size:22px">{{ heading }}</h1>\n'
        "{% for e in entries %}"
        '<div style="border-top:1px solid #e5e5e5;padding:12px 0">\n'
        '<h2 style="font-size:17px;margin:0 0 4px">{% if e.link %}<a href="{{ e.link }}" '
        'style="color:#1a0dab;text-decoration:none">{{ e.title }}</a>{% else %}{{ e.title }}'
        "{% endif %}</h2>\n"
        '<p style="margin:0 0 6px;color:#555;font-size:13px">'
        "{% if e.score is not none %}▲ {{ e.score|int }} upvotes{% endif %}"
        "{% if e.authors %} · {{ e.authors[:6]|join(', ') }}"
        "{% if e.authors|length > 6 %} et al.{% endif %}{% endif %}</p>\n"
        '<p style="margin:0;font-size:14px;line-height:1.45">{{ e.summary|truncate(360) }}</p>\n'
        "{% if e.arxiv_pdf %}"
        '<p style="margin:6px 0 0;font-size:13px"><a href="{{ e.arxiv_abs }}">arXiv</a> · '
        '<a href="{{ e.arxiv_pdf }}">PDF</a>'
        '{% if e.github %} · <a href="{{ e.github }}">Code</a>{% endif %}</p>{% endif %}\n'
        "</div>\n{% endfor %}"
        '{% if more %}<p style="color:#555">…and {{ more }} more.</p>{% endif %}'
        '<p style="color:#888;font-size:12px">Sent by feedbridge.</p></div>'
    ),
}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    body_format: str  # text | markdown | html


def entry_context(entry: Entry) -> dict[str, Any]:
    """The variables a title/body template sees: the entry's fields and its extras."""
    context: dict[str, Any] = {
        "ai_summary": None,
        "github": None,
        "arxiv_abs": None,
        "arxiv_pdf": None,
    }
    context.update(entry.extras)
    context.update(
        title=entry.title,
        link=entry.link,
        summary=entry.summary,
        authors=list(entry.authors),
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
    return (_HTML if fmt == "html" else _TEXT).from_string(template)


def _render(template: str, fmt: str, context: Mapping[str, Any]) -> str:
    return _compiled(template, fmt).render(context).strip()


def entry_message(
    entry: Entry, fmt: str, title_template: str | None, body_template: str | None
) -> Message:
    """One entry as a message; a template that fails at render time falls back to the default."""
    context = entry_context(entry)
    try:
        return Message(
            _render(title_template or DEFAULT_TITLE, "text", context),
            _render(body_template or DEFAULT_BODY[fmt], fmt, context),
            fmt,
        )
    except TemplateError as exc:
        log.warning("template failed, using the default", extra={"error": str(exc)})
        return Message(entry.title, _render(DEFAULT_BODY["text"], "text", context), "text")


def digest_message(entries: Sequence[Entry], fmt: str, top: int | None, now: datetime) -> Message:
    """Many entries as one message, highest score first, at most `top` of them."""
    ranked = sorted(entries, key=lambda e: (-(e.score or 0), e.title))
    shown = ranked[:top] if top else ranked
    papers = all(e.extras.get("arxiv_id") for e in entries) and entries
    noun = (
        ("paper" if papers else "entry")
        if len(entries) == 1
        else ("papers" if papers else "entries")
    )
    context = {
        "entries": [entry_context(e) for e in shown],
        "count": len(entries),
        "more": len(ranked) - len(shown),
        "noun": noun,
        "date": now.strftime("%Y-%m-%d"),
    }
    title = _render(DIGEST_TITLE, "text", context)
    context["heading"] = title
    return Message(title, _render(DIGEST_BODY[fmt], fmt, context), fmt)
