"""One exception tree: every exception feedbridge raises is a FeedbridgeError, but for the
few protocols other code defines (pydantic validators raise ValueError, a lookup KeyError)."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import feedbridge
from feedbridge.core.errors import FeedbridgeError

PACKAGE = Path(feedbridge.__file__).parent

# (module, exception): raised for a protocol that is not ours, each caught where it lands.
# A module is named by its last part, so that the test holds wherever the module moves.
OUTSIDE_THE_TREE = {
    # pydantic turns a validator's ValueError into a validation error, loading into ConfigError
    ("fields", "ValueError"),
    ("models", "ValueError"),
    ("durations", "ValueError"),  # the parsers behind those validators
    ("models", "KeyError"),  # Config.source/target: a lookup, as a dict's
    ("base", "NotImplementedError"),  # the store's OutboxCalls.settle: each backend's own
    # the embedded store's internals, each turned into a StoreError by its caller
    ("tables", "ValueError"),
    ("diskjson", "TypeError"),
    # Jinja2's own error for a template past a sandbox bound: a template's failure, caught
    # where templates render (the built-in one is sent instead; `check` names the template)
    ("sandbox", "SecurityError"),
    # detect.hub's mapping of a Hub URL: a hostile or malformed value, caught by `hub_table`
    # (the URL then gets no Hub table)
    ("hub", "ValueError"),
    ("escape", "ValueError"),  # a format the config never lets through: a caller's bug
}


def _raised(tree: ast.AST) -> set[str]:
    """Names of the exceptions a module raises (`raise X(...)` and `raise X`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id[:1].isupper():
                names.add(exc.id)
    return names


def test_every_exception_feedbridge_raises_is_a_feedbridge_error() -> None:
    strays = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        raised = _raised(ast.parse(path.read_text()))
        if not raised:
            continue
        module = importlib.import_module(name)
        for exc in sorted(raised):
            cls = getattr(module, exc, None) or getattr(builtins, exc, None)
            ours = isinstance(cls, type) and issubclass(cls, FeedbridgeError)
            if not ours and (name.rpartition(".")[2], exc) not in OUTSIDE_THE_TREE:
                strays.append(f"{name} raises {exc}")
    assert strays == []
