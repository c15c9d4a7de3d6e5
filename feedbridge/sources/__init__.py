"""Source kinds: one module per kind, looked up by the config's `kind`; beside them what
they share (`base`: the Source seam, `items`, `collect`, `decoding`, `markup`, `values`,
`text`)."""

from __future__ import annotations

from importlib import import_module

from feedbridge.config.models import HfPapersConfig, SourceBase
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


def build_source(config: SourceBase) -> Source:
    """The Source object for one validated source config."""
    artifacts = isinstance(config, HfPapersConfig) and config.artifacts
    path = ARTIFACTS if artifacts else KINDS[config.kind]
    module, _, cls = path.partition(":")
    source_cls: type[Source] = getattr(import_module(module), cls)
    return source_cls(config)


__all__ = ["KINDS", "Fetcher", "Source", "build_source"]
