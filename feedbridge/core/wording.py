"""Words people read in messages, logs and command output: plural-correct counts, short
numbers, a Hub repo's facts in one line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_IRREGULAR = {"entry": "entries", "delivery": "deliveries", "try": "tries", "query": "queries"}


def plural(count: int, noun: str, *, with_count: bool = True) -> str:
    """`plural(1, "entry")` is "1 entry", `plural(4, "entry")` is "4 entries"."""
    word = noun if count == 1 else _IRREGULAR.get(noun, noun + "s")
    return f"{count} {word}" if with_count else word


_NOUNS = {"space": "Space"}
_SIZES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def short_number(value: int) -> str:
    """7_615_616_512 → "7.6B", 30_512 → "30.5k": sizes as the Hub shows them."""
    for size, suffix in _SIZES:
        if value >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return str(value)


def repo_facts(extras: Mapping[str, Any]) -> str:
    """What a Hub item is and how popular, in one line: "model · text-generation ·
    transformers · 7.6B params · ♥ 412 · ↓ 18,233" (a paper or collection: "paper · ▲ 86")."""
    kind = str(extras.get("repo_type") or "")
    parts = [_NOUNS.get(kind, kind)]
    if kind in ("paper", "collection"):
        upvotes = extras.get("likes")
        return " · ".join(parts + ([f"▲ {upvotes:,}"] if upvotes is not None else []))
    parts += [str(extras[k]) for k in ("pipeline_tag", "library", "sdk") if extras.get(k)]
    if extras.get("parameters"):
        parts.append(f"{short_number(int(extras['parameters']))} params")
    if extras.get("likes") is not None:
        parts.append(f"♥ {extras['likes']:,}")
    if extras.get("downloads") is not None:
        parts.append(f"↓ {extras['downloads']:,}")
    if extras.get("gated"):
        parts.append("gated")
    return " · ".join(p for p in parts if p)
