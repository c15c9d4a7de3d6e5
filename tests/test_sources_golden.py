"""Golden files: each tests/data/sources/<kind>/<case>.<ext> beside its config and expected entries.

`<case>.config.json` is the source config; its optional "page" object gives what the HTTP layer
would (`url` after redirects, `encoding` from the Content-Type header, `headers`).
`<case>.expected.json` is `{"entries": [...], "skipped": {reason: count}}`, written by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedbridge.config import FeedConfig, HtmlConfig, JsonConfig
from feedbridge.core.models import Entry, Page
from feedbridge.sources import build_source
from feedbridge.sources.feed import FeedSource
from feedbridge.sources.html import HtmlSource
from feedbridge.sources.jsonapi import JsonSource

DATA = Path(__file__).parent / "data" / "sources"
CONFIGS: dict[str, Any] = {"html": HtmlConfig, "feed": FeedConfig, "json": JsonConfig}
ALWAYS_COMPARED = ("key", "title", "link", "summary", "published", "authors", "score", "image")
SIDECARS = (".config.json", ".expected.json")


def golden_inputs() -> list[Path]:
    return sorted(
        path for path in DATA.glob("*/*") if path.is_file() and not path.name.endswith(SIDECARS)
    )


def sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name.rsplit(".", 1)[0] + suffix)


def as_utc(value: str | None) -> str | None:
    return datetime.fromisoformat(value).astimezone(UTC).isoformat() if value else None


def comparable(entry: Entry, expected: dict[str, Any]) -> dict[str, Any]:
    """The entry's fields that the expected entry names (and always the core ones)."""
    actual = entry.to_dict()
    actual["published"] = as_utc(entry.published.isoformat() if entry.published else None)
    actual["updated"] = as_utc(entry.updated.isoformat() if entry.updated else None)
    keys = [*ALWAYS_COMPARED, *(key for key in expected if key not in ALWAYS_COMPARED)]
    return {key: actual[key] for key in keys}


def normalized(expected: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"summary": "", "published": None, "authors": [], "score": None}
    result |= {"image": None, **expected}
    result["published"] = as_utc(result["published"])
    if "updated" in result:
        result["updated"] = as_utc(result["updated"])
    return result


@pytest.mark.parametrize(
    "path", golden_inputs(), ids=lambda path: f"{path.parent.name}/{path.name.split('.')[0]}"
)
def test_source_extracts_what_the_page_shows(path: Path) -> None:
    config = json.loads(sidecar(path, ".config.json").read_text(encoding="utf-8"))
    expected = json.loads(sidecar(path, ".expected.json").read_text(encoding="utf-8"))
    page_info = config.pop("page", {})
    source = build_source(CONFIGS[path.parent.name].model_validate(config))
    assert isinstance(source, HtmlSource | FeedSource | JsonSource)
    page = Page(
        url=page_info.get("url", config["url"]),
        status=200,
        body=path.read_bytes(),
        headers={key.lower(): value for key, value in page_info.get("headers", {}).items()},
        encoding=page_info.get("encoding"),
    )

    result = source.analyze(page)

    wanted = [normalized(entry) for entry in expected["entries"]]
    got = [comparable(entry, want) for entry, want in zip(result.entries, wanted, strict=False)]
    assert got == wanted
    assert len(result.entries) == len(wanted)
    assert dict(result.skipped) == expected.get("skipped", {})
    assert {entry.source for entry in result.entries} <= {config["name"]}
    assert source.extract(page) == result.entries


def test_every_kind_has_golden_cases() -> None:
    kinds = {path.parent.name for path in golden_inputs()}
    assert kinds == set(CONFIGS)
    assert len([path for path in golden_inputs() if path.parent.name == "html"]) >= 8
