"""A monitor's schedule (crontab or interval) as stored in the `monitor` table, and when its
next check-in is expected (docs/protocol.md#check-ins).

Shared by the collector (a check-in's `monitor_config` is checked here before it is stored)
and the correlator's monitor checker (the next expected run after a missed one).
"""

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.crontab import Crontab, InvalidSchedule, parse_crontab

IntervalUnit = Literal["minute", "hour", "day", "week", "month", "year"]
UNITS: tuple[IntervalUnit, ...] = ("minute", "hour", "day", "week", "month", "year")
FIXED_UNITS = {"minute": 1, "hour": 60, "day": 1440, "week": 10080}  # in minutes
MAX_INTERVAL = 100_000  # of any unit: a schedule must come round within a few centuries
MAX_TIMEZONE = 64


@dataclass(frozen=True)
class Schedule:
    """`kind` "crontab" with the expression in `value`, or "interval" with a whole number of
    `unit`s in `value` (as text, the column's type)."""

    kind: Literal["crontab", "interval"]
    value: str
    unit: IntervalUnit | None
    crontab: Crontab | None

    def next_after(self, at: datetime, zone: tzinfo) -> datetime | None:
        """The first expected run after `at`, counted from the start of its minute as Sentry
        counts (a check-in at 10:00:40 on `* * * * *` is for 10:00, the next due at 10:01)."""
        start = at.replace(second=0, microsecond=0)
        if self.crontab is not None:
            return self.crontab.next_after(start, zone)
        assert self.unit is not None  # an interval always has its unit
        return _add_interval(start, int(self.value), self.unit, zone)


def _add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    year = at.year + month // 12
    if year > 9999:
        raise OverflowError("past year 9999")
    month = month % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def _add_interval(at: datetime, count: int, unit: IntervalUnit, zone: tzinfo) -> datetime | None:
    """Minutes to weeks are elapsed time; months and years are calendar steps on the local
    date (the 31st becomes the last day of a shorter month)."""
    try:
        if unit in FIXED_UNITS:
            return at + timedelta(minutes=count * FIXED_UNITS[unit])
        local = at.astimezone(zone)
        stepped = _add_months(local, count * (12 if unit == "year" else 1))
        return stepped.astimezone(UTC)
    except OverflowError:
        return None


def crontab_schedule(expression: str) -> Schedule:
    return Schedule("crontab", expression.strip(), None, parse_crontab(expression))


def interval_schedule(value: object, unit: object) -> Schedule:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise InvalidSchedule("an interval is a whole number")
    if not 1 <= value <= MAX_INTERVAL:
        raise InvalidSchedule(f"an interval is 1-{MAX_INTERVAL}")
    if unit not in UNITS:
        raise InvalidSchedule(f"an interval's unit is one of {', '.join(UNITS)}")
    return Schedule("interval", str(int(value)), unit, None)


def stored_schedule(kind: str, value: str, unit: str | None) -> Schedule:
    """The schedule of a stored monitor (checked when it was stored; raises if not)."""
    if kind == "crontab":
        return crontab_schedule(value)
    return interval_schedule(int(value) if value.isdigit() else value, unit)


def zone_of(name: str) -> ZoneInfo:
    """An IANA timezone by name; `InvalidSchedule` for anything else (no paths, no files)."""
    if not name or len(name) > MAX_TIMEZONE or name.startswith(("/", ".")) or ".." in name:
        raise InvalidSchedule(f"unknown timezone {name[:MAX_TIMEZONE]!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(f"unknown timezone {name!r}") from None


def next_expected(
    kind: str, value: str, unit: str | None, timezone: str, after: datetime
) -> datetime | None:
    """A stored monitor's next expected run after `after`; None when its schedule no longer
    passes the checks (stored before they were stricter) or never comes round: such a monitor
    waits for a check-in with a new config instead of breaking the checker."""
    try:
        return stored_schedule(kind, value, unit).next_after(after, zone_of(timezone))
    except (InvalidSchedule, ValueError):
        return None
