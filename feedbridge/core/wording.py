"""Words people read in messages, logs and command output: plural-correct counts."""

from __future__ import annotations

_IRREGULAR = {"entry": "entries", "delivery": "deliveries", "try": "tries", "query": "queries"}


def plural(count: int, noun: str, *, with_count: bool = True) -> str:
    """`plural(1, "entry")` is "1 entry", `plural(4, "entry")` is "4 entries"."""
    word = noun if count == 1 else _IRREGULAR.get(noun, noun + "s")
    return f"{count} {word}" if with_count else word
