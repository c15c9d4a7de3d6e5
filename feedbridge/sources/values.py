"""Dates and scores as pages write them: ISO, RFC 822, epochs, "2 hours ago", "1.2k"."""

from __future__ import annotations

import math
import re
import warnings
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as date_parser
from dateutil.relativedelta import relativedelta

from feedbridge.core.errors import ConfigError
from feedbridge.core.models import Page
from feedbridge.sources.text import as_text, clean_text

# --- dates ----------------------------------------------------------------------------------

_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2004, 2, 2)
_TZINFOS = {
    name: hours * 3600
    for name, hours in {
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
        "CET": 1,
        "CEST": 2,
        "EET": 2,
        "EEST": 3,
        "JST": 9,
        "KST": 9,
    }.items()
}
_EPOCH = re.compile(r"\d{9,10}(\.\d+)?|\d{12,13}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}|$)")
# RFC 822 as feeds write it: weekday optional, 1- or 2-digit day, 2- or 4-digit year, any case
_RFC822 = re.compile(
    r"(?:[a-z]{3,9},? ?)?\d{1,2} [a-z]{3,9} (?:\d{4}|\d{2}) \d{1,2}:\d{2}(?::\d{2})?(?: (\S+))?\Z",
    re.IGNORECASE,
)
_EMAIL_ZONES = frozenset({"UT", "UTC", "GMT", "Z", "AST", "ADT", "EST", "EDT", "CST", "CDT"})
_EMAIL_ZONES |= {"MST", "MDT", "PST", "PDT"}
_EMAIL_ZONE = re.compile(r"[+-]\d{4}")  # what email.utils reads as it is
_OFFSET = re.compile(r"(?:GMT|UTC)?([+-])(\d\d?)(?::?(\d\d))?", re.IGNORECASE)
_DOTTED = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2,4}\b")
_AGO = re.compile(
    r"\b(\d+|an?|one)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|"
    r"months?|mo|years?|yrs?|y)\.?\s+ago\b",
    re.IGNORECASE,
)
_UNITS = {
    "s": relativedelta(seconds=1),
    "m": relativedelta(minutes=1),
    "h": relativedelta(hours=1),
    "d": relativedelta(days=1),
    "w": relativedelta(weeks=1),
    "mo": relativedelta(months=1),
    "y": relativedelta(years=1),
}


def load_timezone(name: str | None, where: str) -> tzinfo:
    """The zone a config names (UTC when unset); an unknown name is a ConfigError at `where`."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError([f"{where}: unknown timezone {name!r}"]) from exc


def reference_time(page: Page) -> datetime:
    """The time a page was served (its Date header), else now: the anchor of "2 hours ago"."""
    header = page.headers.get("date")
    if header:
        try:
            served = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            served = None
        if served is not None and served.tzinfo is not None:
            return served.astimezone(UTC)
    return datetime.now(UTC)


def _from_epoch(number: float) -> datetime | None:
    if not math.isfinite(number) or number < 1e8:
        return None
    if number > 1e11:
        number /= 1000
    try:
        moment = datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if moment.year <= 2200 else None


def _relative(text: str, now: datetime, zone: tzinfo) -> datetime | None:
    lowered = text.lower()
    if re.search(r"\bjust now\b|\bmoments? ago\b", lowered):
        return now
    for word, days in (("today", 0), ("yesterday", 1)):
        if re.search(rf"\b{word}\b", lowered):
            local = now.astimezone(zone) - timedelta(days=days)
            return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    match = _AGO.search(text)
    if match is None:
        return None
    count_text, unit = match.group(1).lower(), match.group(2).lower()
    count = int(count_text) if count_text.isdigit() else 1
    key = "mo" if unit.startswith("mo") else unit[0]
    try:
        return now - _UNITS[key] * count
    except (OverflowError, ValueError):
        return None


def _latest_with_year(moment: datetime, now: datetime, zone: tzinfo) -> datetime | None:
    year = now.astimezone(zone).year
    for candidate_year in range(year, year - 9, -1):
        try:
            candidate = _localize(moment.replace(year=candidate_year), zone)
        except ValueError:
            continue
        if candidate <= now + timedelta(days=1):
            return candidate
    return None


def _localize(moment: datetime, zone: tzinfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
# a date inside longer text that dateutil's fuzzy reading gives up on ("Published: 08 May
# 2026, Last Modified: 09 May 2026"): the first one is read
_EMBEDDED = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\.? {_MONTH},? \d{{4}}\b|\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? "
    r"\d{4}\b|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?",
    re.IGNORECASE,
)


def _parse_text(text: str, zone: tzinfo, now: datetime) -> datetime | None:
    moment = _parse_whole(text, zone, now)
    if moment is None and (match := _EMBEDDED.search(text)) and match.group() != text:
        moment = _parse_whole(match.group(), zone, now)
    return moment


def _parse_whole(text: str, zone: tzinfo, now: datetime) -> datetime | None:
    dayfirst = bool(_DOTTED.match(text))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fuzzy in (False, True):
            try:
                first = date_parser.parse(
                    text, default=_DEFAULT_A, dayfirst=dayfirst, fuzzy=fuzzy, tzinfos=_TZINFOS
                )
                second = date_parser.parse(
                    text, default=_DEFAULT_B, dayfirst=dayfirst, fuzzy=fuzzy, tzinfos=_TZINFOS
                )
            except (ValueError, OverflowError, TypeError):
                continue
            if first.month != second.month:
                continue
            if first.year != second.year:
                return _latest_with_year(first, now, zone)
            return _localize(first, zone)
    return None


def parse_date(
    value: Any, *, fmt: str | None = None, tz: tzinfo | None = None, now: datetime | None = None
) -> datetime | None:
    """An aware UTC datetime from ISO 8601, RFC 822, epoch, page text or `fmt`; else None."""
    zone = tz or UTC
    if not isinstance(value, str):  # text first: what pages give
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return _from_epoch(float(value))
        return None
    text = clean_text(value)
    if not text or len(text) > 200:
        return None
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    if fmt:
        try:
            return _localize(datetime.strptime(text, fmt), zone)
        except ValueError:
            pass
    exact = _exact(text)
    if exact is not None:
        return _localize(exact, zone)
    reference = now or datetime.now(UTC)
    return _relative(text, reference, zone) or _parse_text(text, zone, reference)


def _exact(text: str) -> datetime | None:
    """The machine-written forms (ISO 8601, RFC 822) without dateutil's guessing, which is slow."""
    if _ISO.match(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None
    elif match := _RFC822.match(text):
        return _rfc822(text, match.group(1))
    return None


def _rfc822(text: str, zone: str | None) -> datetime | None:
    """RFC 822/2822 through email.utils; zone names it lacks (CET, JST...) become offsets."""
    if zone is not None and not _EMAIL_ZONE.fullmatch(zone) and zone.upper() not in _EMAIL_ZONES:
        seconds = _TZINFOS.get(zone.upper())
        if seconds is not None:
            sign, minutes = ("-" if seconds < 0 else "+"), abs(seconds) // 60
            text = f"{text[: -len(zone)]}{sign}{minutes // 60:02d}{minutes % 60:02d}"
        elif offset := _OFFSET.fullmatch(zone):  # "+05:30", "GMT+2": east of Greenwich
            sign, hh, mm = offset.groups()
            text = f"{text[: -len(zone)]}{sign}{int(hh):02d}{mm or '00'}"
        else:
            return None  # a zone email.utils would drop: not a time to read as UTC
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


# --- scores ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"((?<![\w-])-)?(\d[\d.,]*)(?:\s*([kmb])(?![a-z]))?", re.IGNORECASE)
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_MULTIPLIERS = {"k": 1e3, "m": 1e6, "b": 1e9}


def parse_score(value: Any) -> float | None:
    """The first number in a value: "1,234 points" → 1234, "1.2k" → 1200; None if there is none."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return float(value)  # "86": the common case, what the search below finds too
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    match = _NUMBER.search(as_text(value))
    if match is None:
        return None
    sign, digits, suffix = match.groups()
    digits = digits.rstrip(".,")
    if _THOUSANDS.fullmatch(digits):
        digits = digits.replace(",", "")
    elif digits.count(",") == 1 and "." not in digits:
        digits = digits.replace(",", ".")
    try:
        number = float(digits)
    except ValueError:
        return None
    number *= _MULTIPLIERS.get((suffix or "").lower(), 1.0)
    return round(-number if sign else number, 3)
