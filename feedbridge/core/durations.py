"""The small languages of the config: durations, byte sizes, time zones and digest schedules."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

MAX_DURATION = 100 * 365 * 86400.0
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1} | {
    f"{p}{i}b": (1024 if i else 1000) ** (n + 1) for n, p in enumerate("kmgt") for i in ("", "i")
}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_DAY_NAMES = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DIGEST_HELP = '(use "daily HH:MM [TZ]", "weekly mon HH:MM [TZ]" or a 5-field cron expression [TZ])'


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse "90s", "15m", "2h", "1d", "1h30m" or a bare number of seconds; must be positive."""
    if isinstance(text, timedelta):
        seconds = text.total_seconds()
    elif isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    elif not isinstance(text, str):
        raise ValueError("must be a duration like 90s, 15m, 2h or 1d")
    else:
        stripped = text.strip()
        match = _DURATION.fullmatch(stripped)
        if match and stripped:
            seconds = sum(int(v) * u for v, (_, u) in zip(match.groups(), _UNITS, strict=True) if v)
        elif re.fullmatch(r"-?\d+(\.\d+)?", stripped):
            seconds = float(stripped)
        else:
            raise ValueError(f'invalid duration "{text}" (use 90s, 15m, 2h or 1d)')
    if seconds <= 0:
        raise ValueError(f'duration must be positive, got "{text}"')
    if not seconds < MAX_DURATION:  # also NaN and infinity
        raise ValueError(f'duration must be less than 100 years, got "{text}"')
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration for whole seconds: 5400s -> "1h30m"."""
    rest = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_size(text: str | int) -> int:
    """Parse a byte count: an int, or "500MB" / "2GB" (powers of 1000) / "4GiB" (powers of 1024)."""
    if isinstance(text, int) and not isinstance(text, bool):
        size = text
    elif not isinstance(text, str):
        raise ValueError("must be a size like 500MB, 4GiB or a number of bytes")
    else:
        match = _SIZE.fullmatch(text.strip())
        if not match:
            raise ValueError(f'invalid size "{text}" (use bytes or 500KB, 10MB, 4GiB)')
        value = float(match[1]) * _SIZE_UNITS[(match[2] or "").lower()]
        if not math.isfinite(value):
            raise ValueError(f'size too large, got "{text}"')
        size = int(value)
    if size <= 0:
        raise ValueError(f'size must be positive, got "{text}"')
    return size


def format_size(size: int) -> str:
    """A byte count in the largest unit that divides it exactly: 4294967296 -> "4GiB"."""
    for unit in ("TiB", "TB", "GiB", "GB", "MiB", "MB", "KiB", "KB"):
        factor = _SIZE_UNITS[unit.lower()]
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


@dataclass(frozen=True, slots=True)
class DigestSpec:
    """When a digest is sent: a 5-field cron expression evaluated in `tz`."""

    cron: str
    tz: ZoneInfo


def parse_digest(text: str) -> DigestSpec:
    """Parse "daily HH:MM [TZ]", "weekly mon HH:MM [TZ]" or "<cron> [TZ]"; TZ defaults to UTC.

    An invalid one says which part is wrong: the time, the day, a cron field, an extra word.
    """
    words = text.split()
    try:
        if words and words[0].lower() in ("daily", "weekly"):
            cron, zone = _named_digest(words)
        else:
            cron, zone = _cron_digest(words)
        if len(zone) > 1:
            raise ValueError(f'unexpected "{" ".join(zone[1:])}" after the time zone')
    except ValueError as exc:
        raise ValueError(f'invalid digest "{text}": {exc}') from None
    return DigestSpec(cron=cron, tz=parse_zone(zone[0] if zone else "UTC"))


def _named_digest(words: list[str]) -> tuple[str, list[str]]:
    """Read `daily HH:MM [TZ]` or `weekly DAY HH:MM [TZ]`: (cron, the words after the time)."""
    kind, rest = words[0].lower(), words[1:]
    dow = "*"
    if kind == "weekly":
        if not rest or _CLOCK.fullmatch(rest[0]) or ":" in rest[0]:
            raise ValueError('"weekly" needs a day before the time, as in "weekly mon 09:00"')
        day = rest[0].lower()
        found = _DAYS.get(day[:3]) if len(day) == 3 or day in _DAY_NAMES else None
        if found is None:
            raise ValueError(f'"{rest[0]}" is not a day (mon, tue, wed, thu, fri, sat, sun)')
        dow, rest = str(found), rest[1:]
    if not rest:
        example = "weekly mon 09:00" if kind == "weekly" else "daily 08:00"
        raise ValueError(f'"{kind}" needs a time, as in "{example}"')
    clock = _CLOCK.fullmatch(rest[0])
    if clock is None:
        raise ValueError(f'the time "{rest[0]}" is not HH:MM from 00:00 to 23:59')
    return f"{int(clock[2])} {int(clock[1])} * * {dow}", rest[1:]


_CRON_FIELDS = (("minute", "0-59"), ("hour", "0-23"), ("day of month", "1-31"),
                ("month", "1-12 or jan-dec"), ("day of week", "0-6 or sun-sat"))  # fmt: skip


def _cron_digest(words: list[str]) -> tuple[str, list[str]]:
    """A 5-field cron expression [TZ] as (cron, the words after it); a bad field named."""
    if len(words) < 5:
        raise ValueError(f"not a schedule {_DIGEST_HELP}")
    from croniter import croniter  # here: only a cron-form digest needs it

    cron = " ".join(words[:5])
    if not croniter.is_valid(cron):
        for i, (value, (name, allowed)) in enumerate(zip(words[:5], _CRON_FIELDS, strict=True)):
            alone = " ".join(value if j == i else "*" for j in range(5))
            if not croniter.is_valid(alone):
                raise ValueError(f'the {name} field "{value}" is not {allowed}')
        raise ValueError(f"not a valid cron expression {_DIGEST_HELP}")
    return cron, words[5:]


def parse_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name ("Europe/Berlin", "UTC")."""
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError, OSError):
        raise ValueError(f'unknown time zone "{name}"') from None
