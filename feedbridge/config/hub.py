"""The Hugging Face Hub's vocabulary that the config checks and the Hub sources use: repo types,
sort keys, the properties a listing may `expand`, the shapes of names, ids and slugs."""

from __future__ import annotations

import re

# One path segment of a repo id as the Hub allows it (letters, digits, "-", "_", "."; at most
# 96 characters): ids are checked before they go into a link or a request path.
SEGMENT = r"[A-Za-z0-9](?:[\w.-]{0,94}[\w])?"
REPO_ID = re.compile(rf"{SEGMENT}(?:/{SEGMENT})?")
NAMESPACE = re.compile(SEGMENT)
COLLECTION_SLUG = re.compile(rf"{SEGMENT}/{SEGMENT}")
ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}")

# What a listing asks for (`expand`): every property an entry shows. The documented names per
# type are huggingface_hub's ExpandModelProperty_T, ExpandDatasetProperty_T and
# ExpandSpaceProperty_T; `EXPANDABLE` is the rest of each list, which `expand` may add.
EXPAND = {
    "model": (
        "author", "createdAt", "lastModified", "likes", "downloads", "trendingScore",
        "pipeline_tag", "library_name", "tags", "safetensors", "gated",
    ),
    "dataset": (
        "author", "createdAt", "lastModified", "likes", "downloads", "trendingScore", "tags",
        "description", "gated",
    ),
    "space": (
        "author", "createdAt", "lastModified", "likes", "trendingScore", "tags", "sdk",
        "cardData",
    ),
}  # fmt: skip
EXPANDABLE = {
    "model": frozenset(EXPAND["model"]) | {
        "baseModels", "cardData", "childrenModelCount", "config", "disabled", "downloadsAllTime",
        "gguf", "inference", "inferenceProviderMapping", "mask_token", "model-index", "private",
        "resourceGroup", "sha", "siblings", "spaces", "transformersInfo", "usedStorage",
        "widgetData",
    },
    "dataset": frozenset(EXPAND["dataset"]) | {
        "cardData", "citation", "disabled", "downloadsAllTime", "paperswithcode_id", "private",
        "resourceGroup", "sha", "siblings", "usedStorage",
    },
    "space": frozenset(EXPAND["space"]) | {
        "datasets", "disabled", "models", "private", "resourceGroup", "runtime", "sha",
        "siblings", "subdomain", "usedStorage",
    },
}  # fmt: skip
