"""Source kinds: one module per kind, looked up by the config's `kind`."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from feedbridge.sources.base import Fetcher, Source

KINDS: dict[str, str] = {
    "hf_papers": "feedbridge.sources.hf_papers:HfPapersSource",
    "hf_repos": "feedbridge.sources.hf_repos:HfReposSource",
    "hf_collection": "feedbridge.sources.hf_collection:HfCollectionSource",
    "html": "feedbridge.sources.html:HtmlSource",
    "feed": "feedbridge.sources.feed:FeedSource",
    "json": "feedbridge.sources.jsonapi:JsonSource",
}


# hf_papers that follows its papers' artifacts (models, datasets, Spaces citing them)
ARTIFACTS = "feedbridge.sources.hf_artifacts:ArtifactPapersSource"


def build_source(config: Any) -> Source:
    """The Source object for one validated source config."""
    path = ARTIFACTS if config.kind == "hf_papers" and config.artifacts else KINDS[config.kind]
    module, _, cls = path.partition(":")
    source_cls: type[Source] = getattr(import_module(module), cls)
    return source_cls(config)


__all__ = ["KINDS", "Fetcher", "Source", "build_source"]
