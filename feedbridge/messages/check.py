"""What `check` renders every template against: a full sample entry, one that has nothing
but a title, digests of them and a health event, in every markup a service may read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from feedbridge.core.models import Entry, HealthEvent
from feedbridge.messages.digest import digest_context
from feedbridge.messages.escape import Markup
from feedbridge.messages.sandbox import render
from feedbridge.messages.templates import Templates, describe_failure, entry_context

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
# An entry with every optional value missing, as feeds and scraped pages give them.
BARE_ENTRY = Entry(source="feedbridge-test", key="bare", title="Only a title", link="")
BARE = "for an entry with only a title: no score, link, summary, authors, dates or extras"
SAMPLE_EVENT = HealthEvent(
    "source hf-daily",
    "failing",
    "source hf-daily failing: HTTP 503 from https://huggingface.co/api/daily_papers",
    datetime(2026, 5, 8, 8, 0, tzinfo=UTC),
)
_MARKUPS: dict[str, tuple[Markup, ...]] = {
    "text": ("text",),
    "markdown": ("markdown", "slack"),
    "html": ("html",),
}


def check_templates(templates: Templates, formats: Sequence[str]) -> list[tuple[str, str]]:
    """Render each of a target's templates in each markup of `formats`, against the full
    sample and the bare one (and digests of them); returns (key, problem) pairs such as
    ("body", "'entry' is undefined"), at most one per key."""
    now = datetime(2026, 5, 8, 8, 0, tzinfo=UTC)
    entries = [entry_context(SAMPLE_ENTRY), entry_context(BARE_ENTRY)]
    digests = [digest_context([SAMPLE_ENTRY], None, now),
               digest_context([BARE_ENTRY, SAMPLE_ENTRY], None, now)]  # fmt: skip
    markups = [m for fmt in formats for m in _MARKUPS[fmt]]
    cases: list[tuple[str, str | None, Sequence[Markup], list[dict[str, Any]]]] = [
        ("title", templates.title, ("text", *markups), entries),
        ("body", templates.body, markups, entries),
        ("digest_title", templates.digest_title, ("text", *markups), digests),
        ("digest_body", templates.digest_body, markups, digests),
    ]
    problems = []
    for key, template, in_markups, contexts in cases:
        if template is not None:
            problem = _first_problem(template, in_markups, contexts)
            if problem:
                problems.append((key, problem))
    return problems


def _first_problem(
    template: str, markups: Sequence[Markup], contexts: list[dict[str, Any]]
) -> str | None:
    for index, context in enumerate(contexts):
        for markup in markups:
            try:
                render(template, markup, context, "word")
            except Exception as exc:  # whatever the template raised
                return describe_failure(exc) + (f" ({BARE})" if index else "")
    return None
