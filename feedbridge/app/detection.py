"""`feedbridge detect`: a Detection as the text a person reads or the JSON a tool reads."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feedbridge.core.wording import plural
from feedbridge.detect import Candidate, Detection, as_toml
from feedbridge.sources.text import shorten

METHODS = {
    "hub": "the Hugging Face Hub's API",
    "feed": "a feed the page advertises",
    "json-ld": "JSON-LD",
    "microdata": "microdata",
    "microformats": "microformats",
    "app state": "embedded app state",
    "structure": "repeating structure",
}


def _first_titles(candidate: Candidate, count: int = 3) -> str:
    titles = [shorten(e.title, 60) for e in candidate.entries[:count]]
    more = len(candidate.entries) - len(titles)
    return " · ".join(titles) + (f" · … ({more} more)" if more > 0 else "")


def _status(candidate: Candidate) -> str:
    if candidate.checked:
        return "checked: the source below yields them"
    return f"NOT checked: {candidate.problem}"


def text_report(detection: Detection, name: str, every: bool = False) -> str:
    """The best candidate's source block with two comment lines, or every candidate's."""
    chosen = list(detection.candidates) if every else [c for c in [detection.best] if c]
    blocks = []
    for n, candidate in enumerate(chosen, 1):
        label = f"{n}. " if every else ""
        how = METHODS[candidate.method]
        lines = [f"# {label}{candidate.description} ({how}); {_status(candidate)}"]
        if candidate.entries:
            lines.append(f"#    first: {_first_titles(candidate)}")
        named = name if n == 1 else f"{name}-{n}"
        lines.append(as_toml(candidate, named).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _date(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def json_report(detection: Detection, name: str) -> str:
    """Everything the detection found, for tools: the verdict and each candidate in rank order."""
    candidates: list[dict[str, Any]] = []
    for n, candidate in enumerate(detection.candidates, 1):
        named = name if n == 1 else f"{name}-{n}"
        candidates.append(
            {
                "rank": n,
                "method": candidate.method,
                "description": candidate.description,
                "checked": candidate.checked,
                "problem": candidate.problem,
                "items": candidate.items,
                "matched": dict(candidate.matched),
                "source": candidate.table(named),
                "toml": as_toml(candidate, named),
                "entries": [
                    {"title": e.title, "link": e.link, "date": _date(e.published or e.updated)}
                    for e in candidate.entries
                ],
            }
        )
    out = {
        "url": detection.url,
        "title": detection.title,
        "verdict": detection.verdict,
        "message": detection.message,
        "fetch": detection.fetch,
        "candidates": candidates,
    }
    return json.dumps(out, ensure_ascii=False, indent=1)


def summary(detection: Detection) -> str:
    """One line on stderr: what was found, or why nothing was."""
    best = detection.best
    if best is None:
        return detection.message
    others = len(detection.candidates) - 1
    rest = f"; {plural(others, 'other candidate')} with --all" if others > 0 else ""
    return f"{detection.message}{rest}"
