"""docs/architecture.md stays the map: every module of the package is on it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "feedbridge"


def test_the_module_map_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))
    # a package's __init__ is named by its folder in the package table, unless it holds code
    missing = [
        m
        for m in modules
        if f"`{m}`" not in doc
        and not (m.endswith("/__init__.py") and f"`{m.rsplit('/', 1)[0]}/`" in doc)
        and m != "__init__.py"
    ]
    assert modules and not missing, f"docs/architecture.md's module map lacks {missing}"
