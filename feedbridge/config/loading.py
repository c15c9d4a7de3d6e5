"""TOML to `Config`: `${ENV}` and `*_file` secrets first, then every problem at once by key path."""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli  # the stdlib's tomllib, compiled: same grammar and errors, 2.5x faster
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
)
from pydantic_core import ErrorDetails

from feedbridge.config.models import (
    _KINDS,
    Config,
    HttpConfig,
    OutputConfig,
    ServerConfig,
    SourceBase,
    SourceConfig,
    StorageConfig,
    TargetConfig,
    default_config,
)
from feedbridge.core.errors import ConfigError
from feedbridge.core.secrets import Secrets
from feedbridge.messages.check import check_templates
from feedbridge.messages.templates import MESSAGE_FORMATS, Templates

Loc = tuple[str | int, ...]

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Problems:
    """Problems found so far, and the keys whose pydantic errors they already explain; and
    the values read from the environment or files, by key (secrets, unless `_PUBLIC`)."""

    def __init__(self) -> None:
        self.found: list[tuple[Loc, str]] = []
        self.explained: list[Loc] = []
        self.read: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str, *also: Loc) -> None:
        self.found.append((loc, message))
        self.explained.extend((loc, *also))

    def explains(self, loc: Loc) -> bool:
        return any(loc[: len(k)] == k or k[: len(loc)] == loc for k in self.explained)


def _key(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _expand_env(value: Any, loc: Loc, problems: _Problems) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` (default also when VAR is empty) in every string."""
    if isinstance(value, dict):
        return {k: _expand_env(v, (*loc, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*loc, i), problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match[1], match[2]
        found = os.environ.get(name)
        if default is not None and not found:
            return default
        if found is None:
            problems.add(loc, f"environment variable {name} is not set")
            return ""
        if not found and default is None:  # `${VAR:-}` says so where empty is meant
            problems.add(loc, f"environment variable {name} is set but empty")
            return ""
        problems.read.append((loc, found))
        return found

    return _ENV_VAR.sub(substitute, value)


def _read_files(
    table: dict[str, Any], model: type[BaseModel], loc: Loc, problems: _Problems
) -> dict[str, Any]:
    """Replace `<field>_file = PATH` by `<field>` = the file's stripped text (Docker secrets)."""
    out = dict(table)
    for key, value in table.items():
        stem = key.removesuffix("_file")
        if stem == key or key in model.model_fields or stem not in model.model_fields:
            continue
        del out[key]
        if stem in table:
            problems.add((*loc, key), f"cannot be used together with {stem}")
        elif not isinstance(value, str):
            problems.add((*loc, key), "must be a file path", (*loc, stem))
        else:
            try:
                text = Path(value).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                problems.add((*loc, key), f"cannot read {value}: {exc.strerror}", (*loc, stem))
                continue
            except UnicodeDecodeError:
                problems.add((*loc, key), f"cannot read {value}: not UTF-8 text", (*loc, stem))
                continue
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            out[stem] = lines if stem == "url" and len(lines) > 1 else text.strip()
            problems.read += [((*loc, stem), line) for line in [text.strip(), *lines]]
    return out


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    return (
        [(i, t) for i, t in enumerate(items) if isinstance(t, dict)]
        if isinstance(items, list)
        else []
    )


def _prepare(raw: dict[str, Any], problems: _Problems) -> dict[str, Any]:
    """Environment expansion, then `*_file` reading, on the raw TOML tree."""
    data: dict[str, Any] = _expand_env(raw, (), problems)
    sections: dict[str, type[BaseModel]] = {"storage": StorageConfig, "server": ServerConfig}
    for key, model in (sections | {"http": HttpConfig, "output": OutputConfig}).items():
        if isinstance(data.get(key), dict):
            data[key] = _read_files(data[key], model, (key,), problems)
    for i, item in _items(data, "sources"):
        model = _KINDS.get(str(item.get("kind")), SourceBase)
        data["sources"][i] = _read_files(item, model, ("sources", i), problems)
    for i, item in _items(data, "targets"):
        data["targets"][i] = _read_files(item, TargetConfig, ("targets", i), problems)
    return data


_SECRET_KEYS = {
    ("server", "token"),
    ("storage", "url"),
    ("targets", "url"),
    ("sources", "headers"),
    ("sources", "cookies"),
}
# Keys whose values are published by design (links, names, titles) or are not credentials:
# what `${ENV}` or a `*_file` puts there is not masked. Everything else it puts anywhere is.
_PUBLIC: tuple[Loc, ...] = (
    ("server", "base_url"), ("server", "host"), ("server", "port"), ("storage", "path"),
    ("output",), ("http",), ("worker",), ("log_level",), ("browser", "executable"),
)  # fmt: skip
_PUBLIC_ITEM_KEYS = ("name", "kind", "title", "feed_title")


def _secrets(read: list[tuple[Loc, str]]) -> Secrets:
    """The values `${ENV}` and `*_file` gave, but those of `_PUBLIC` keys."""

    def public(loc: Loc) -> bool:
        if any(loc[: len(key)] == key for key in _PUBLIC):
            return True
        item = loc[:1] in (("sources",), ("targets",))
        return item and len(loc) > 2 and loc[2] in _PUBLIC_ITEM_KEYS

    return Secrets(value for loc, value in read if not public(loc))


_MESSAGES = {
    "extra": "unknown key",
    "missing": "required",
    "int": "must be an integer",
    "float": "must be a number",
    "bool": "must be true or false",
    "string": "must be a string",
    "list": "must be a list",
    "dict": "must be a table",
    "model": "must be a table",
}


_SECTIONS: dict[str, type[BaseModel]] = {
    "storage": StorageConfig,
    "server": ServerConfig,
    "http": HttpConfig,
    "output": OutputConfig,
}


class _SourceCommon(SourceBase):
    """The fields every kind shares, checked when the kind is unknown or missing, so that
    a typo in `kind` does not hide the table's other errors."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: str = ""


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model whose table `loc` (a pydantic location, kind tag included) points into."""
    if len(loc) == 1:
        return Config
    if len(loc) == 2 and isinstance(loc[0], str):
        return _SECTIONS.get(loc[0])
    if loc[:1] == ("targets",) and len(loc) == 3:
        return TargetConfig
    if loc[:1] == ("sources",) and len(loc) == 4:
        return _KINDS.get(str(loc[2]))
    return None


def _nearest(word: str, choices: list[str]) -> str:
    """' (did you mean "interval"?)' for the closest known word, else ''."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _translate(error: ErrorDetails) -> tuple[Loc, str]:
    """One pydantic error as (key path, message); the discriminator tag is dropped from the path."""
    loc: Loc = error["loc"]
    model = _model_at(loc) if error["type"] == "extra_forbidden" else None
    if loc[:1] == ("sources",) and len(loc) > 2 and loc[2] in _KINDS:
        loc = loc[:2] + loc[3:]
    kind, ctx = error["type"], error.get("ctx", {})
    kinds = ", ".join(_KINDS)
    if kind == "extra_forbidden" and model is not None:
        known = [name for name in model.model_fields if name != "kind"]
        return loc, "unknown key" + _nearest(str(loc[-1]), known)
    if kind == "union_tag_invalid":
        tag = str(ctx["tag"])
        return (*loc, "kind"), f'unknown kind "{tag}"{_nearest(tag, list(_KINDS))} (one of {kinds})'
    if kind == "union_tag_not_found":
        return (*loc, "kind"), f"required (one of {kinds})"
    if kind == "value_error":
        return loc, str(ctx["error"])
    if kind == "too_short":
        return loc, "must not be empty"
    message = _MESSAGES.get(kind.split("_")[0]) or error["msg"].replace("Input should", "must")
    value = error.get("input")
    secret = any(loc[:1] == k[:1] and k[1] in loc for k in _SECRET_KEYS)
    if kind not in ("missing", "extra_forbidden") and not secret and _is_scalar(value):
        message += f" (got {json.dumps(value, ensure_ascii=False)[:80]})"
    return loc, message


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _cross_problems(data: dict[str, Any]) -> list[str]:
    """Duplicate names, and targets naming undefined sources: checks across items."""
    problems: list[str] = []
    names: dict[str, set[str]] = {"sources": set(), "targets": set()}
    for section, seen in names.items():
        for i, item in _items(data, section):
            name = item.get("name")
            if isinstance(name, str) and name in seen:
                problems.append(f'{section}[{i}].name: duplicate {section[:-1]} name "{name}"')
            if isinstance(name, str):
                seen.add(name)
    for i, target in _items(data, "targets"):
        wanted = target.get("sources")
        for name in wanted if isinstance(wanted, list) else []:
            if isinstance(name, str) and name not in names["sources"]:
                problems.append(f'targets[{i}].sources: unknown source "{name}"')
    return problems


def _common_errors(data: dict[str, Any], loc: Loc) -> list[ErrorDetails]:
    """Errors in the shared fields of a source whose kind is unknown or missing."""
    try:
        _SourceCommon.model_validate(data["sources"][loc[1]])
    except ValidationError as exc:
        return [{**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False)]
    return []


def _template_problems(config: Config) -> list[str]:
    """Render every template of every target against a sample entry, digest and health event,
    so that a template which would fail at send time fails `check` (naming target and name)."""
    problems: list[str] = []
    for i, target in enumerate(config.targets):
        where = f'targets[{i}] ("{target.name}")'
        unused = ("title", "body") if target.digest else ("digest_title", "digest_body")
        for key in unused:
            if getattr(target, key) is not None:
                sends = "digests" if target.digest else "one message per entry (no digest)"
                problems.append(f"{where}.{key}: not used, this target sends {sends}")
        templates = Templates(target.title, target.body, target.digest_title, target.digest_body)
        for key, problem in check_templates(templates, MESSAGE_FORMATS):
            problems.append(f"{where}.{key}: {problem} (see the README's template variables)")
    return problems


def _validate(
    raw: dict[str, Any], path: str | None, page: Sequence[Mapping[str, Any]] = ()
) -> Config:
    """The whole config: the file's tables (`${ENV}` and `*_file` resolved) and the sources
    made on the web page (`page`, taken as typed: never expanded nor read from files), with
    every problem at once; a page-made source's are named `page source "NAME"`."""
    problems = _Problems()
    data = _prepare(raw, problems)
    file_sources = data.get("sources", [])
    if page and isinstance(file_sources, list):
        data["sources"] = [*file_sources, *(dict(table) for table in page)]
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in list(errors):
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                errors += _common_errors(data, error["loc"])
        for loc, message in map(_translate, errors):
            if not problems.explains(loc):
                problems.found.append((loc, message))
    found = [f"{_key(loc)}: {message}" for loc, message in problems.found]
    found += _cross_problems(data)
    if config is not None:
        found += _template_problems(config)
    first = len(file_sources) if isinstance(file_sources, list) else 0
    found = [_page_named(problem, first, page) for problem in found]
    if found or config is None:
        raise ConfigError(found, path)
    config.keep_secrets(_secrets(problems.read))
    config.keep_page_names(frozenset(str(t.get("name")) for t in page))
    return config


_INDEXED = re.compile(r"^sources\[(\d+)\]")


def _page_named(problem: str, first: int, page: Sequence[Mapping[str, Any]]) -> str:
    """`sources[7].item: ...` as `page source "blog".item: ...` when sources[7] is page-made."""
    match = _INDEXED.match(problem)
    if match is None or int(match[1]) < first or int(match[1]) - first >= len(page):
        return problem
    name = page[int(match[1]) - first].get("name")
    return f"page source {json.dumps(str(name), ensure_ascii=False)}{problem[match.end():]}"


def adhoc_source_config(table: dict[str, Any], *, expand: bool = True) -> SourceConfig:
    """One source from a table (as `preview --url` builds it), validated like a config file's;
    `expand=False` takes its values as typed (a web page's: no `${ENV}`, no `*_file`)."""
    config = _validate({"sources": [table]}, None) if expand else _validate({}, None, [table])
    return config.sources[0]


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML as written (no `${ENV}` expanded); ConfigError when it cannot be read."""
    try:
        with open(path, "rb") as file:
            return tomli.load(file)
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror}"], str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError([f"cannot read {path}: not UTF-8 text"], str(path)) from None
    except tomli.TOMLDecodeError as exc:
        raise ConfigError([f"TOML syntax error: {exc}"], str(path)) from None


# what runs with no config file (`default_config()`), as the table a file would hold
_DEFAULT_RAW: dict[str, Any] = {"sources": [{"name": "hf-daily", "kind": "hf_papers"}]}


def load_config(path: Path | None, page: Sequence[Mapping[str, Any]] = ()) -> Config:
    """Read and validate a TOML config, with the sources made on the web page (`page`, from
    the store) after the file's; None gives `default_config()`. Raises ConfigError."""
    if path is None:
        return _validate(copy.deepcopy(_DEFAULT_RAW), None, page) if page else default_config()
    return _validate(read_toml(path), str(path), page)
