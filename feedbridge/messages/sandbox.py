"""Rendering a template: sandboxed, strict Jinja2, each printed value escaped for the message's
markup, and the cost of one render bounded so that no template stalls the event loop.

A value a template prints goes through `finalize`, which escapes it for the markup
(`messages/escape.py`); the template's own text is never touched, so only it is markup.
`|safe` marks a value as markup on purpose. The bounds: `range()` at most `MAX_RANGE`,
loop iterations per render at most `MAX_ITERATIONS`, a render at most `MAX_SECONDS` of
loop time, output at most `MAX_OUTPUT` characters, `*` and `**` no larger than that.
Past any of them the render raises `SecurityError`: the message falls back to the built-in
template, and `check` names the template.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from feedbridge.messages.escape import Markup, Mentions, escape_value

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

MAX_RANGE = 10_000
MAX_ITERATIONS = 100_000
MAX_OUTPUT = 2_000_000  # characters; an email digest of 500 entries is about 400,000
MAX_SECONDS = 2.0
_LOOP = "_feedbridge_loop"  # the guard each {% for %} iterates through


class _Budget:
    """What one render may still spend: loop iterations, until a deadline."""

    __slots__ = ("deadline", "left")

    def __init__(self) -> None:
        self.left = MAX_ITERATIONS
        self.deadline = time.monotonic() + MAX_SECONDS

    def spend(self) -> None:
        self.left -= 1
        if self.left % 1000 == 0:
            from jinja2.exceptions import SecurityError

            if self.left < 0:
                raise SecurityError(f"more than {MAX_ITERATIONS:,} loop iterations")
            if time.monotonic() > self.deadline:
                raise SecurityError(f"longer than {MAX_SECONDS:g} s to render")


_budget: ContextVar[_Budget] = ContextVar("template_budget")


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget.get()
    for item in iterable:
        budget.spend()
        yield item


def _range(*args: int) -> range:
    from jinja2.exceptions import SecurityError

    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of more than {MAX_RANGE:,} numbers")
    return numbers


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _bounded_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse a `*` or `**` whose result would be huge, before computing it."""
    from jinja2.exceptions import SecurityError

    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and max(abs(left), 2).bit_length() * right > 64_000:
        raise SecurityError("a power too large for a message")
    if operator == "*":
        size, times = max(_sized(left), _sized(right)), right if _sized(left) else left
        if size and isinstance(times, int) and size * times > MAX_OUTPUT:
            raise SecurityError(f"a repeat of more than {MAX_OUTPUT:,} characters")


def _width_checked(name: str, filter_: Any) -> Any:
    """A filter whose width argument would make a huge string, refused before it runs."""

    def bounded(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
        from jinja2.exceptions import SecurityError

        if isinstance(width, int) and width > MAX_OUTPUT // 100:
            raise SecurityError(f"|{name} width {width:,} is too large")
        return filter_(value, width, *args, **kwargs)

    return bounded


@lru_cache(maxsize=8)
def environment(markup: Markup, mentions: Mentions) -> SandboxedEnvironment:
    """The sandbox for one markup: every printed value escaped for it (HTML by autoescape,
    after `@`-mentions are defused). Jinja2 loads with the first message, not at start-up."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment
    from markupsafe import Markup as Safe

    class Bounded(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _bounded_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

    def finalize(value: Any) -> Any:
        if isinstance(value, Safe):  # `|safe`: markup on purpose
            return value
        return escape_value(value, markup, mentions)

    env = Bounded(undefined=StrictUndefined, autoescape=markup == "html", finalize=finalize)
    env.globals["range"] = _range
    env.globals[_LOOP] = _loop
    for name in ("center", "indent", "wordwrap"):
        env.filters[name] = _width_checked(name, env.filters[name])
    return env


@lru_cache(maxsize=256)
def compiled(template: str, markup: Markup, mentions: Mentions) -> Template:
    """Compiling is most of a message's cost; a target's few templates compile once. Each
    `{% for %}` iterates through the render's budget."""
    from jinja2 import nodes

    env = environment(markup, mentions)
    tree = env.parse(template)
    for loop in tree.find_all(nodes.For):
        guard = nodes.Name(_LOOP, "load", lineno=loop.lineno)
        loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
    return env.from_string(tree)


def render(
    template: str, markup: Markup, context: Mapping[str, Any], mentions: Mentions = "keep"
) -> str:
    """Render strictly and within the bounds: an undefined name raises UndefinedError, a
    render past a bound SecurityError; any other error of the template is raised as is."""
    from jinja2.exceptions import SecurityError

    token = _budget.set(_Budget())
    try:
        out: list[str] = []
        size = 0
        for chunk in compiled(template, markup, mentions).generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise SecurityError(f"the template wrote more than {MAX_OUTPUT:,} characters")
            out.append(chunk)
        return "".join(out).strip()
    finally:
        _budget.reset(token)
