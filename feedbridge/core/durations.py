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
    """Parse "daily HH:MM [TZ]", "weekly mon HH:MM [TZ]" or "<cron> [TZ]"; TZ defaults to UTC."""
    words = text.split()
    if words and words[0] in ("daily", "weekly"):
        day = words[1] if words[0] == "weekly" and len(words) > 1 else "*"
        rest = words[2:] if words[0] == "weekly" else words[1:]
        clock = _CLOCK.fullmatch(rest[0]) if rest else None
        if not clock or len(rest) > 2 or (day != "*" and day.lower() not in _DAYS):
            raise ValueError(f'invalid digest "{text}" {_DIGEST_HELP}')
        dow = "*" if day == "*" else str(_DAYS[day.lower()])
        cron, zone = f"{int(clock[2])} {int(clock[1])} * * {dow}", rest[1:]
    else:
        from croniter import croniter  # here: only a cron-form digest needs it

        cron, zone = " ".join(words[:5]), words[5:]
        if len(words) < 5 or len(zone) > 1 or not croniter.is_valid(cron):
            raise ValueError(f'invalid digest "{text}" {_DIGEST_HELP}')
    return DigestSpec(cron=cron, tz=parse_zone(zone[0] if zone else "UTC"))


def parse_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name ("Europe/Berlin", "UTC")."""
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError, OSError):
        raise ValueError(f'unknown time zone "{name}"') from None
